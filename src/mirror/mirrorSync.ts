/**
 * One mirror run: an incremental round from the saved deltaLink when there is one and it is still
 * good, otherwise a full round (mark and sweep). See docs/mirror.md.
 */
import type { DeltaPage, DeltaTokenProblem, ListDeltaPagesOptions } from "../graph/userDeltaClient.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import { USERS } from "../kinds/users.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import { MIRROR_EDGE_SCOPE } from "../tables/edgeTables.js";
import { newRunId } from "../tables/keys.js";
import { lastPerId, planDeltaPage } from "./planChanges.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import type { MirrorUser } from "./mirrorEntity.js";
import { MirrorRunCounters } from "./mirrorRunCounters.js";
import {
  type MirrorChangeCounts,
  type MirrorChangeRecord,
  type MirrorDeltaState,
  type MirrorRunReason,
  type MirrorRunRecord,
  type MirrorSkippedUser,
  type SavedDeltaStateVersion,
  type VersionedDeltaState,
  noMirrorRunCounts,
} from "./mirrorRecords.js";
import type { MirrorTableStats, MirrorWriteOptions } from "./mirrorTables.js";
import type { MirrorChange, MirrorWrite } from "./planChanges.js";
import type { OperationOptions } from "../shared/abort.js";

/** The mirror's store, as a round sees it (UserMirrorClient in production; a fake in unit tests). */
export interface MirrorStore {
  /** The kind of object it holds (UserMirrorClient.kind); the users when absent. */
  readonly kind?: ObjectKind;
  readonly stats: MirrorTableStats;
  /** `running`: the runs left running as read under the same lease (not read again). */
  beginRound(lease: LosableLeaseGuard, options?: OperationOptions & { running?: readonly MirrorRunRecord[] }): Promise<string[]>;
  getDeltaState(options?: OperationOptions): Promise<VersionedDeltaState | undefined>;
  saveDeltaState(state: MirrorDeltaState, previous: SavedDeltaStateVersion, options?: MirrorWriteOptions): Promise<string>;
  recordRun(run: MirrorRunRecord, options?: MirrorWriteOptions): Promise<void>;
  /** The round's end: the state saved and the run recorded in one transaction (all or nothing); returns the state's ETag. */
  finishRound(state: MirrorDeltaState, previous: SavedDeltaStateVersion, run: MirrorRunRecord, options?: MirrorWriteOptions): Promise<string>;
  getUsers(ids: readonly string[], options?: OperationOptions): Promise<Map<string, MirrorUser>>;
  applyWrites(writes: readonly MirrorWrite[], options?: MirrorWriteOptions): Promise<{ skipped: MirrorSkippedUser[] }>;
  writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options?: MirrorWriteOptions): Promise<void>;
  listChanges(runId: string, options?: OperationOptions): AsyncIterable<MirrorChangeRecord>;
  sweep(round: string, runId: string, now: Date, options?: MirrorWriteOptions): Promise<number>;
}

/** The delta reader, as the mirror sees it (UserDeltaClient). */
export interface DeltaPageSource {
  /** The `$select` of a first round; the saved token must be bound to the same. */
  readonly select: readonly string[];
  /** Selected properties delta cannot track (read by snapshots only), with the reason. */
  readonly snapshotOnly?: ReadonlyArray<{ name: string; reason: string }>;
  listDeltaPages(options?: ListDeltaPagesOptions): AsyncIterable<DeltaPage>;
}

export interface MirrorSyncDependencies {
  /** The kind of object the mirror holds (its change detection). Default: the mirror store's (the users). */
  kind?: ObjectKind;
  delta: DeltaPageSource;
  mirror: MirrorStore;
  logger: Logger;
  /**
   * The writer lease the round runs under: every write is checked against it and fenced, and the
   * round starts by taking the mirror's partitions over. Absent only in tests that own the store.
   */
  lease?: LosableLeaseGuard;
  /** The clock (tests). Default: Date. */
  now?: () => Date;
  /** USER_SYNC_GROUPS: the users' manager edges, kept with the mirror from the pages' `manager@delta` (src/sync/managerEdges.ts). */
  managers?: MirrorManagerEdges;
}

/** The users' manager edges as a mirror round sees them (ManagerEdges). */
export interface MirrorManagerEdges {
  writePage(scope: string, changes: DeltaPage["managers"], options?: MirrorWriteOptions & { round?: string }): Promise<number>;
  sweepMirror(round: string, options?: MirrorWriteOptions): Promise<unknown>;
  /** `record`: the round's run id and time, under which the changes are logged. */
  applyToMirror(changes: NonNullable<DeltaPage["managers"]>, options?: MirrorWriteOptions & { record?: { runId: string; at: Date } }): Promise<unknown>;
}

export interface RunMirrorSyncOptions extends OperationOptions {
  /** Force a full round: `forced` (run --full) or `scheduled` (the full-round schedule is due). */
  full?: "forced" | "scheduled";
  /** What started the run; recorded with it. */
  trigger?: SyncTrigger;
  /** Called after every applied page. */
  onPage?: (progress: { mode: "full" | "incremental"; pages: number; itemsRead: number }) => void;
  /**
   * A full round is done elsewhere (in one pass with a snapshot run: src/sync/onePassRound.ts):
   * when the round turns out to need one (Graph refused the delta token), it is not read here. The
   * run record is returned with `status: "running"`, `mode: "full"` and the refusal's reason, for
   * the one-pass round to continue (what an incremental page applied before the refusal stays: the
   * full round replaces every user it reads, and sweeps the rest).
   */
  handOffFullRound?: boolean;
  /**
   * The mirror's saved state as the run read it under the same writer lease, before the round
   * (what is due reads it): the round does not read it again. Only for a round nothing has written
   * since that read; a state saved in between (a late write) makes the round's save fail on its ETag.
   * `running`: the mirror runs left running, read with it (readRoundStart): the round marks them
   * failed without querying them again.
   */
  saved?: { state: VersionedDeltaState | undefined; running?: readonly MirrorRunRecord[] };
  /** Called with the delta state the round saved (and its ETag) once it is saved. */
  onStateSaved?: (saved: VersionedDeltaState) => void;
  /**
   * A forced full round continues one an earlier run stopped in (a snapshot run's groups pass
   * continued from its checkpoint): reading starts at `startLink` (a nextLink of that round), and
   * what this run writes carries that round's mark, so that the sweep spares what the earlier run
   * marked. Graph refusing the link fails the round (the caller starts over).
   */
  continueFull?: { round: string; startLink: string; seenLinks?: readonly string[] };
}

/**
 * The run reason for each way Graph says the saved token is no good (DeltaTokenProblem). The union
 * MirrorRunReason (userMirrorClient.ts) predates the last three; they are stored as written.
 */
const TOKEN_RUN_REASONS: Record<DeltaTokenProblem, MirrorRunReason> = { expired: "tokenExpired", gone: "tokenGone", invalid: "tokenInvalid", resyncRequired: "tokenResyncRequired", malformed: "tokenMalformed" };
export function tokenRunReason(problem: unknown): MirrorRunReason {
  return TOKEN_RUN_REASONS[problem as DeltaTokenProblem] ?? "tokenExpired";
}

/** The `$select` lists are the same property list, case aside (order matters: it is the key order of stored users). */
export function sameSelect(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p.toLowerCase() === b[i]!.toLowerCase());
}

/** Decides what a run does, from the saved state and the options. */
export function decideMode(saved: VersionedDeltaState | undefined, select: readonly string[], full: RunMirrorSyncOptions["full"]): { mode: "full" | "incremental"; reason: MirrorRunReason } {
  if (full) return { mode: "full", reason: full };
  if (saved?.state.deltaLink === undefined) return { mode: "full", reason: "firstRound" };
  if (!sameSelect(saved.state.select, select)) return { mode: "full", reason: "selectChanged" };
  return { mode: "incremental", reason: "deltaLink" };
}

/**
 * Runs one round against the mirror and records it. Returns the run record (status succeeded, or
 * running when a full round is handed off: `handOffFullRound`);
 * a failed run is recorded as failed and the error is rethrown. The saved deltaLink changes only
 * when a round completes, so a failed run is simply read again by the next one (applying changes
 * is idempotent).
 */
export function runMirrorSync(deps: MirrorSyncDependencies, options: RunMirrorSyncOptions = {}): Promise<MirrorRunRecord> {
  return new MirrorRound(deps, options).run();
}

/** One mirror run (runMirrorSync): taken over, read, applied, recorded. */
export class MirrorRound {
  readonly #deps: MirrorSyncDependencies;
  readonly #options: RunMirrorSyncOptions;
  readonly #now: () => Date;
  readonly #signal: { abortSignal: AbortSignal | undefined };
  /** The options of every write: the signal, and the lease when there is one. */
  readonly #write: MirrorWriteOptions;
  readonly #counters: MirrorRunCounters;
  #run!: MirrorRunRecord;
  /** Whether an incremental page wrote change rows: a round that wrote none has nothing to count (an idle tenant's). */
  #changesWritten = false;

  constructor(deps: MirrorSyncDependencies, options: RunMirrorSyncOptions = {}) {
    this.#deps = deps;
    this.#options = options;
    this.#now = deps.now ?? (() => new Date());
    this.#signal = { abortSignal: options.abortSignal };
    this.#write = { ...this.#signal, ...(deps.lease ? { lease: deps.lease } : {}) };
    this.#counters = new MirrorRunCounters(deps.mirror, deps.logger);
  }

  async run(): Promise<MirrorRunRecord> {
    const saved = await this.#begin();
    const run = this.#run;
    try {
      let deltaLink: string | undefined;
      let round = saved?.state.round ?? run.runId;
      let fullRoundAt = saved?.state.fullRoundAt;
      if (run.mode === "incremental") deltaLink = await this.#incremental(saved!.state.deltaLink!, round);
      if (run.mode === "full" && this.#options.handOffFullRound) {
        this.#counters.countTables(run);
        await this.#deps.mirror.recordRun(run, this.#write);
        return run;
      }
      if (run.mode === "full") {
        round = this.#options.continueFull?.round ?? run.runId;
        deltaLink = await this.#full(round);
        fullRoundAt = this.#now();
      }
      await this.#succeed({ deltaLink: deltaLink!, select: run.select, round, savedAt: this.#now(), runId: run.runId, ...(fullRoundAt ? { fullRoundAt } : {}) }, saved);
      return run;
    } catch (error) {
      await this.#fail(error);
      throw error;
    }
  }

  /** Takes the mirror over, reads its saved state, decides the round and records its start. */
  async #begin(): Promise<VersionedDeltaState | undefined> {
    const { delta, mirror, logger, lease } = this.#deps;
    const startedAt = this.#now();
    const select = [...delta.select];
    // Take the mirror over first: a late write of a run that lost the lease cannot land after this.
    if (lease) {
      const running = this.#options.saved?.running;
      const marked = await mirror.beginRound(lease, { ...this.#signal, ...(running ? { running } : {}) });
      if (marked.length > 0) logger.warn(`Mirror run${marked.length === 1 ? "" : "s"} ${marked.join(", ")} had stopped without finishing; marked failed (their changes are read again).`);
    }
    const saved = this.#options.saved ? this.#options.saved.state : await mirror.getDeltaState(this.#signal);
    const { mode, reason } = decideMode(saved, select, this.#options.full);
    this.#counters.startTables();
    this.#run = {
      runId: newRunId(startedAt),
      status: "running",
      mode,
      reason,
      ...(this.#options.trigger ? { trigger: this.#options.trigger } : {}),
      startedAt,
      select,
      ...noMirrorRunCounts(),
    };
    await mirror.recordRun(this.#run, this.#write);
    return saved;
  }

  /** The incremental round from the saved link; when Graph refuses the token, the run turns full (and says why). */
  async #incremental(deltaLink: string, round: string): Promise<string | undefined> {
    const run = this.#run;
    try {
      return await this.#readRound(deltaLink, (page) => this.#applyIncremental(page, round));
    } catch (error) {
      if (!isUserSyncError(error, "graph_delta_token_invalid")) throw error;
      // The token is no good: start over with a full round, and say why in the run record.
      run.mode = "full";
      run.reason = tokenRunReason(error.details.reason);
      run.counters.deltaRestarts = (run.counters.deltaRestarts ?? 0) + 1;
      this.#deps.logger.warn(`${error.message} Starting a full round of the mirror.`);
      return undefined;
    }
  }

  /** The full round: every user read and written with the round's mark, then the sweep. */
  async #full(round: string): Promise<string> {
    const { delta, mirror, logger } = this.#deps;
    const run = this.#run;
    if (run.reason === "selectChanged") logger.info(`USER_SYNC_SELECT (or USER_SYNC_GROUPS, which adds manager) changed since the mirror's delta token was issued: the token was dropped and a full round runs.`);
    for (const p of delta.snapshotOnly ?? []) logger.info(`USER_SYNC_SELECT's ${p.name} is read by snapshots only, not by the mirror: ${p.reason}`);
    const continued = this.#options.continueFull;
    const deltaLink = await this.#readRound(continued?.startLink, (page) => this.#applyFull(page, round), continued?.seenLinks);
    run.swept = await mirror.sweep(round, run.runId, this.#now(), this.#write);
    await this.#deps.managers?.sweepMirror(round, this.#write);
    return deltaLink;
  }

  async #readRound(startLink: string | undefined, apply: (page: DeltaPage) => Promise<void>, seenLinks?: readonly string[]): Promise<string> {
    const run = this.#run;
    let deltaLink: string | undefined;
    for await (const page of this.#deps.delta.listDeltaPages({ counters: run.counters, ...this.#signal, ...(startLink ? { startLink } : {}), ...(seenLinks ? { seenLinks } : {}) })) {
      run.pages += 1;
      run.itemsRead += page.items.length;
      await apply(page);
      this.#options.onPage?.({ mode: run.mode, pages: run.pages, itemsRead: run.itemsRead });
      if (page.deltaLink !== undefined) deltaLink = page.deltaLink;
    }
    // listDeltaPages ends only after a page with a deltaLink (parseDeltaPage requires one link).
    return deltaLink!;
  }

  /** Incremental page: read the page's users from the mirror, plan, write, record the change set. */
  async #applyIncremental(page: DeltaPage, round: string): Promise<void> {
    const { mirror } = this.#deps;
    const run = this.#run;
    const at = this.#now();
    const items = lastPerId(page.items);
    const existing = await mirror.getUsers(items.map((i) => (i.kind === "user" ? i.user.id : i.id)), this.#signal);
    const plan = planDeltaPage(items, existing, { runId: run.runId, round, now: at, sameValues: (this.#deps.kind ?? this.#deps.mirror.kind ?? USERS).sameValues });
    const { skipped } = await mirror.applyWrites(plan.writes, this.#write);
    this.#counters.recordSkipped(run, skipped);
    await mirror.writeChanges(run.runId, plan.changes, at, this.#write);
    if (plan.changes.length > 0) this.#changesWritten = true;
    run.changes.unchanged += plan.unchanged;
    // A removed user loses its manager edge; the others' `manager@delta` replaces theirs.
    const managers = this.#deps.managers;
    if (managers) await managers.applyToMirror([...(page.managers ?? []), ...items.flatMap((i) => (i.kind === "removed" ? [{ userId: i.id, managerId: null }] : []))], { ...this.#write, record: { runId: run.runId, at } });
  }

  /** Full-round page: every user written whole (Replace) with the round's mark; removals as in an incremental page. */
  async #applyFull(page: DeltaPage, round: string): Promise<void> {
    const run = this.#run;
    const items = lastPerId(page.items);
    const users = items.flatMap((i) => (i.kind === "user" ? [i.user] : []));
    const writes: MirrorWrite[] = users.map((user) => ({ mode: "Replace", mirrorUser: { user, state: "present", round, runId: run.runId } satisfies MirrorUser }));
    const { skipped } = await this.#deps.mirror.applyWrites(writes, this.#write);
    this.#counters.recordSkipped(run, skipped);
    run.usersWritten += writes.length - skipped.length;
    await this.#deps.managers?.writePage(MIRROR_EDGE_SCOPE, page.managers, { ...this.#write, round });
    const removals = items.filter((i) => i.kind === "removed");
    if (removals.length > 0) await this.#applyIncremental({ pageNumber: page.pageNumber, items: removals }, round);
  }

  /**
   * The round completed: its change counts, then the new delta state and the run recorded as
   * succeeded, in one transaction (a run marked failed by the run that took over saves nothing).
   */
  async #succeed(state: MirrorDeltaState, previous: SavedDeltaStateVersion): Promise<void> {
    const { mirror } = this.#deps;
    const run = this.#run;
    // A full round's sweep writes change rows of its own; an incremental round that wrote none has none to count.
    if (run.mode !== "incremental" || this.#changesWritten) await countChanges(mirror, run.runId, run.changes, this.#options.abortSignal);
    run.status = "succeeded";
    run.endedAt = this.#now();
    this.#counters.countTables(run);
    try {
      const savedEtag = await mirror.finishRound(state, previous, run, this.#write);
      this.#options.onStateSaved?.({ state, etag: savedEtag });
    } catch (error) {
      // Not recorded: the record still says running (the catch in run() records it failed).
      run.status = "running";
      delete run.endedAt;
      throw error;
    }
  }

  /** Records the run as failed, unless it lost its lease (the run that took over marks it failed). */
  async #fail(error: unknown): Promise<void> {
    const { mirror, logger, lease } = this.#deps;
    const run = this.#run;
    if (lease && (isUserSyncError(error, "lease_lost") || (lease as { lost?: unknown }).lost !== undefined)) return;
    run.status = "failed";
    run.endedAt = this.#now();
    run.error = redact(describeError(error));
    this.#counters.countTables(run);
    try {
      await mirror.recordRun(run, lease ? { lease } : {});
    } catch (recordError) {
      logger.error(`Could not record mirror run ${run.runId} as failed: ${describeError(recordError)}`);
    }
  }
}

/** Counts the run's change set from the change log (one row per user: repeats are not counted twice). */
async function countChanges(mirror: MirrorStore, runId: string, counts: MirrorChangeCounts, abortSignal: AbortSignal | undefined): Promise<void> {
  for await (const change of mirror.listChanges(runId, { abortSignal })) counts[change.change] += 1;
}
