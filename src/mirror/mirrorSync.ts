/**
 * One mirror run: an incremental round from the saved deltaLink when there is one and it is still
 * good, otherwise a full round (mark and sweep). See docs/mirror.md.
 */
import type { DeltaPage, DeltaTokenProblem, ListDeltaPagesOptions } from "../graph/userDeltaClient.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import { newRunId } from "../tables/keys.js";
import { lastPerId, planDeltaPage } from "./planChanges.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import type { MirrorUser } from "./mirrorEntity.js";
import {
  MAX_MIRROR_SKIPPED_RECORDED,
  type MirrorChangeCounts,
  type MirrorChangeRecord,
  type MirrorDeltaState,
  type MirrorRunReason,
  type MirrorRunRecord,
  type MirrorSkippedUser,
  type VersionedDeltaState,
} from "./mirrorRecords.js";
import type { MirrorTableStats, MirrorWriteOptions } from "./mirrorTables.js";
import type { MirrorChange, MirrorWrite } from "./planChanges.js";

/** The mirror's store, as a round sees it (UserMirrorClient in production; a fake in unit tests). */
export interface MirrorStore {
  readonly stats: MirrorTableStats;
  beginRound(lease: LosableLeaseGuard, options?: { abortSignal?: AbortSignal }): Promise<string[]>;
  getDeltaState(options?: { abortSignal?: AbortSignal }): Promise<VersionedDeltaState | undefined>;
  saveDeltaState(state: MirrorDeltaState, etag: string | undefined, options?: MirrorWriteOptions): Promise<string>;
  recordRun(run: MirrorRunRecord, options?: MirrorWriteOptions): Promise<void>;
  getUsers(ids: readonly string[], options?: { abortSignal?: AbortSignal }): Promise<Map<string, MirrorUser>>;
  applyWrites(writes: readonly MirrorWrite[], options?: MirrorWriteOptions): Promise<{ skipped: MirrorSkippedUser[] }>;
  writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options?: MirrorWriteOptions): Promise<void>;
  listChanges(runId: string, options?: { abortSignal?: AbortSignal }): AsyncIterable<MirrorChangeRecord>;
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
}

export interface RunMirrorSyncOptions {
  /** Force a full round: `forced` (run --full) or `scheduled` (the full-round schedule is due). */
  full?: "forced" | "scheduled";
  abortSignal?: AbortSignal;
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
export async function runMirrorSync(deps: MirrorSyncDependencies, options: RunMirrorSyncOptions = {}): Promise<MirrorRunRecord> {
  const { delta, mirror, logger, lease } = deps;
  const write = lease ? { lease } : {};
  const now = deps.now ?? (() => new Date());
  const abortSignal = options.abortSignal;
  const signal = { abortSignal };
  const startedAt = now();
  const runId = newRunId(startedAt);
  const select = [...delta.select];
  // Take the mirror over first: a late write of a run that lost the lease cannot land after this.
  if (lease) {
    const marked = await mirror.beginRound(lease, signal);
    if (marked.length > 0) logger.warn(`Mirror run${marked.length === 1 ? "" : "s"} ${marked.join(", ")} had stopped without finishing; marked failed (their changes are read again).`);
  }
  const saved = await mirror.getDeltaState(signal);
  let { mode, reason } = decideMode(saved, select, options.full);
  const statsBefore = { ...mirror.stats };
  const counters: Record<string, number> = {};
  const run: MirrorRunRecord = {
    runId,
    status: "running",
    mode,
    reason,
    ...(options.trigger ? { trigger: options.trigger } : {}),
    startedAt,
    select,
    pages: 0,
    itemsRead: 0,
    usersWritten: 0,
    changes: { added: 0, updated: 0, restored: 0, removed: 0, unchanged: 0 },
    swept: 0,
    counters,
  };
  await mirror.recordRun(run, { ...signal, ...write });
  let skippedLogged = 0;
  const recordSkipped = (skipped: readonly MirrorSkippedUser[]) => {
    if (skipped.length === 0) return;
    counters.skippedUsers = (counters.skippedUsers ?? 0) + skipped.length;
    run.skipped ??= [];
    for (const user of skipped) {
      if (run.skipped.length < MAX_MIRROR_SKIPPED_RECORDED) run.skipped.push({ id: user.id.slice(0, 200), reason: redact(user.reason).slice(0, 400) });
      if (skippedLogged++ < 10) logger.warn(`The mirror skipped a user that cannot be stored: ${redact(user.reason)}`);
    }
  };
  const tableCounters = () => {
    counters.tableRequests = mirror.stats.requests - statsBefore.requests;
    counters.tableTransactions = mirror.stats.transactions - statsBefore.transactions;
    counters.tableEntitiesWritten = mirror.stats.entitiesWritten - statsBefore.entitiesWritten;
    counters.tableEntitiesRead = mirror.stats.entitiesRead - statsBefore.entitiesRead;
  };

  /** Incremental page: read the page's users from the mirror, plan, write, record the change set. */
  const applyIncremental = async (page: DeltaPage, round: string): Promise<void> => {
    const at = now();
    const items = lastPerId(page.items);
    const existing = await mirror.getUsers(items.map((i) => (i.kind === "user" ? i.user.id : i.id)), signal);
    const plan = planDeltaPage(items, existing, { runId, round, now: at });
    const { skipped } = await mirror.applyWrites(plan.writes, { ...signal, ...write });
    recordSkipped(skipped);
    await mirror.writeChanges(runId, plan.changes, at, { ...signal, ...write });
    run.changes.unchanged += plan.unchanged;
  };

  /** Full-round page: every user written whole (Replace) with the round's mark; removals as in an incremental page. */
  const applyFull = async (page: DeltaPage): Promise<void> => {
    const items = lastPerId(page.items);
    const users = items.flatMap((i) => (i.kind === "user" ? [i.user] : []));
    const writes: MirrorWrite[] = users.map((user) => ({ mode: "Replace", mirrorUser: { user, state: "present", round: runId, runId } satisfies MirrorUser }));
    const { skipped } = await mirror.applyWrites(writes, { ...signal, ...write });
    recordSkipped(skipped);
    run.usersWritten += writes.length - skipped.length;
    const removals = items.filter((i) => i.kind === "removed");
    if (removals.length > 0) await applyIncremental({ pageNumber: page.pageNumber, items: removals }, runId);
  };

  const readRound = async (startLink: string | undefined, apply: (page: DeltaPage) => Promise<void>): Promise<string> => {
    let deltaLink: string | undefined;
    for await (const page of delta.listDeltaPages({ counters, ...signal, ...(startLink ? { startLink } : {}) })) {
      run.pages += 1;
      run.itemsRead += page.items.length;
      await apply(page);
      options.onPage?.({ mode, pages: run.pages, itemsRead: run.itemsRead });
      if (page.deltaLink !== undefined) deltaLink = page.deltaLink;
    }
    // listDeltaPages ends only after a page with a deltaLink (parseDeltaPage requires one link).
    return deltaLink!;
  };

  try {
    let deltaLink: string | undefined;
    let round = saved?.state.round ?? runId;
    let fullRoundAt = saved?.state.fullRoundAt;
    if (mode === "incremental") {
      try {
        deltaLink = await readRound(saved!.state.deltaLink, (page) => applyIncremental(page, round));
      } catch (error) {
        if (!isUserSyncError(error, "graph_delta_token_invalid")) throw error;
        // The token is no good: start over with a full round, and say why in the run record.
        mode = "full";
        reason = tokenRunReason(error.details.reason);
        run.mode = mode;
        run.reason = reason;
        counters.deltaRestarts = (counters.deltaRestarts ?? 0) + 1;
        logger.warn(`${error.message} Starting a full round of the mirror.`);
      }
    }
    if (mode === "full" && options.handOffFullRound) {
      tableCounters();
      await mirror.recordRun(run, { ...signal, ...write });
      return run;
    }
    if (mode === "full") {
      if (reason === "selectChanged") logger.info(`USER_SYNC_SELECT changed since the mirror's delta token was issued: the token was dropped and a full round runs.`);
      round = runId;
      for (const p of delta.snapshotOnly ?? []) logger.info(`USER_SYNC_SELECT's ${p.name} is read by snapshots only, not by the mirror: ${p.reason}`);
      deltaLink = await readRound(undefined, applyFull);
      run.swept = await mirror.sweep(round, runId, now(), { ...signal, ...write });
      fullRoundAt = now();
    }
    await countChanges(mirror, runId, run.changes, abortSignal);
    const state = { deltaLink: deltaLink!, select, round, savedAt: now(), runId, ...(fullRoundAt ? { fullRoundAt } : {}) };
    await mirror.saveDeltaState(state, saved?.etag, { ...signal, ...write });
    run.status = "succeeded";
    run.endedAt = now();
    tableCounters();
    await mirror.recordRun(run, { ...signal, ...write });
    return run;
  } catch (error) {
    // A round that lost its lease records nothing: the run that took over marks it failed.
    if (lease && (isUserSyncError(error, "lease_lost") || (lease as { lost?: unknown }).lost !== undefined)) throw error;
    run.status = "failed";
    run.endedAt = now();
    run.error = redact(describeError(error));
    tableCounters();
    try {
      await mirror.recordRun(run, write);
    } catch (recordError) {
      logger.error(`Could not record mirror run ${runId} as failed: ${describeError(recordError)}`);
    }
    throw error;
  }
}

/** Counts the run's change set from the change log (one row per user: repeats are not counted twice). */
async function countChanges(mirror: MirrorStore, runId: string, counts: MirrorChangeCounts, abortSignal: AbortSignal | undefined): Promise<void> {
  for await (const change of mirror.listChanges(runId, { abortSignal })) counts[change.change] += 1;
}
