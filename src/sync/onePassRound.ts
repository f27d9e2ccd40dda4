/**
 * The mirror's full round in one pass over the directory (docs/mirror.md, "One pass"): it rides on
 * a snapshot run's pass over `/users`. Before the pass, one request to
 * `/users/delta?$deltatoken=latest` gives the round's delta link ("sync from now"); each page the
 * snapshot commits is written to the mirror whole (Replace), marked with the round; after the last
 * page the sweep marks the mirror users the round did not see `missing`, and the round's delta link
 * becomes the mirror's. The next incremental round replays what changed during the pass.
 *
 * The round (its mark, its delta link, its `$select`) is kept with the snapshot run record, so a run
 * continued from its checkpoint continues the same round; the sweep is one query for the users not
 * carrying the mark, so a sweep stopped half-way simply runs again.
 */
import type { GraphUser } from "../graph/types.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import { USERS } from "../kinds/users.js";
import type { MirrorUser } from "../mirror/mirrorEntity.js";
import type { MirrorRunReason, MirrorRunRecord, VersionedDeltaState } from "../mirror/mirrorRecords.js";
import { sameSelect, type MirrorManagerEdges, type MirrorStore, type RunMirrorSyncOptions } from "../mirror/mirrorSync.js";
import { propertiesOf, type ManagerChange } from "../graph/managerLinks.js";
import { MIRROR_EDGE_SCOPE } from "../tables/edgeTables.js";
import type { MirrorWrite } from "../mirror/planChanges.js";
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import { newRunId } from "../tables/keys.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { MirrorRunCounters } from "../mirror/mirrorRunCounters.js";
import type { SnapshotCompanion, SnapshotMirrorRound, SyncRunView } from "./snapshotPorts.js";
import type { OperationOptions } from "../shared/abort.js";

/** The delta reader, as the one-pass round sees it (UserDeltaClient). */
export interface LatestDeltaSource {
  /** The mirror's `$select`: USER_SYNC_SELECT without the snapshot-only properties. */
  readonly select: readonly string[];
  readonly snapshotOnly?: ReadonlyArray<{ name: string; reason: string }>;
  /** `GET /users/delta?$select=…&$deltatoken=latest`: a delta link from now, no users. */
  latestDeltaLink(options?: OperationOptions & { counters?: Record<string, number> }): Promise<string>;
}

export interface OnePassRoundDependencies {
  /** The kind of object the pass reads and the mirror holds (its canonical form). Default: the mirror store's (the users). */
  kind?: ObjectKind;
  delta: LatestDeltaSource;
  mirror: MirrorStore;
  logger: Logger;
  /** The writer lease the snapshot runs under: every mirror write is sent under it and fenced. */
  lease: LosableLeaseGuard;
  now?: () => Date;
  /** USER_SYNC_GROUPS: the users' manager edges; the pages' managers go to the mirror's with the round's mark, and the sweep follows. */
  managers?: MirrorManagerEdges;
}

export interface OnePassRoundOptions extends OperationOptions {
  /** Why a new round starts with a new snapshot run; undefined: only a stopped run's round is continued. */
  reason: MirrorRunReason | undefined;
  trigger?: SyncTrigger;
  onPage?: RunMirrorSyncOptions["onPage"];
  /**
   * The run record of an incremental round that handed its full round over (Graph refused its delta
   * token: `handOffFullRound`): the one-pass round continues that record rather than starting one.
   */
  continues?: MirrorRunRecord;
}

export class OnePassMirrorRound implements SnapshotCompanion<SyncRunView> {
  readonly #deps: OnePassRoundDependencies;
  readonly #options: OnePassRoundOptions;
  readonly #now: () => Date;
  readonly #counters: Record<string, number> = {};
  #round: SnapshotMirrorRound | undefined;
  #record: MirrorRunRecord | undefined;
  #saved: VersionedDeltaState | undefined;
  readonly #recorder: MirrorRunCounters;

  constructor(deps: OnePassRoundDependencies, options: OnePassRoundOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#now = deps.now ?? (() => new Date());
    this.#recorder = new MirrorRunCounters(deps.mirror, deps.logger);
  }

  get wanted(): boolean {
    return this.#options.reason !== undefined;
  }

  get counters(): Readonly<Record<string, number>> {
    return this.#counters;
  }

  /** The mirror's run record of this invocation, once the round is attached. */
  get record(): MirrorRunRecord | undefined {
    return this.#record;
  }

  async prepare(options: OperationOptions & { restarts?: SnapshotMirrorRound } = {}): Promise<SnapshotMirrorRound> {
    const { delta } = this.#deps;
    const round = newRunId(this.#now());
    const deltaLink = await delta.latestDeltaLink({ counters: this.#counters, abortSignal: options.abortSignal });
    return { round, deltaLink, select: [...delta.select], reason: this.#options.reason ?? options.restarts?.reason ?? "forced" };
  }

  async attach(run: SyncRunView, how: { resumed: boolean; restartedBecause?: string }): Promise<boolean> {
    const { mirror, logger, lease, delta } = this.#deps;
    const round = run.mirrorRound;
    if (!round) return false;
    if (!sameSelect(round.select, delta.select)) {
      logger.warn(`Run ${run.runId} carries a mirror round for other properties; the mirror is not continued with it.`);
      return false;
    }
    const signal = this.#signal();
    if (!this.#record) {
      const continued = this.#options.continues;
      // Take the mirror over first: a late write of a run that lost the lease cannot land after this.
      // (A continued round's incremental part took it over already, under this same lease.)
      if (!continued) {
        const marked = await mirror.beginRound(lease, signal);
        if (marked.length > 0) logger.warn(`Mirror run${marked.length === 1 ? "" : "s"} ${marked.join(", ")} had stopped without finishing; marked failed.`);
      }
      this.#saved = await mirror.getDeltaState(signal);
      // A continued round's table work so far counts on.
      this.#recorder.startTables(continued?.counters);
      if (continued) Object.assign(this.#counters, continued.counters);
      this.#record = continued ? { ...continued, status: "running", mode: "full", counters: this.#counters } : {
        runId: newRunId(this.#now()),
        status: "running",
        mode: "full",
        reason: round.reason as MirrorRunReason,
        ...(this.#options.trigger ? { trigger: this.#options.trigger } : {}),
        startedAt: this.#now(),
        select: [...round.select],
        pages: 0,
        itemsRead: 0,
        usersWritten: 0,
        changes: { added: 0, updated: 0, restored: 0, removed: 0, unchanged: 0 },
        swept: 0,
        counters: this.#counters,
      };
      for (const p of delta.snapshotOnly ?? []) logger.info(`USER_SYNC_SELECT's ${p.name} is read by snapshots only, not by the mirror: ${p.reason}`);
    }
    if (how.resumed) this.#counters.roundResumes = (this.#counters.roundResumes ?? 0) + 1;
    if (how.restartedBecause !== undefined) {
      this.#counters.roundRestarts = (this.#counters.roundRestarts ?? 0) + 1;
      this.#record.note = `The round restarted: ${redact(how.restartedBecause)}.`;
      logger.warn(`The mirror's full round (mirror run ${this.#record.runId}) restarts with the new snapshot: ${redact(how.restartedBecause)}.`);
    }
    this.#round = round;
    this.#record.round = round.round;
    await mirror.recordRun(this.#record, { ...signal, lease });
    // The ids `runs` shows: the mirror run's and the snapshot run's (a round's own id, which may span several runs, stays internal).
    logger.info(`${how.resumed ? "Continuing" : "Starting"} the mirror's full round (mirror run ${this.#record.runId}) in the same pass as snapshot run ${run.runId}.`);
    return true;
  }

  async page(users: readonly GraphUser[], managers?: readonly ManagerChange[]): Promise<void> {
    const { mirror, lease } = this.#deps;
    const round = this.#round!;
    const record = this.#record!;
    // The round's `$select` may name the `manager` relationship (USER_SYNC_GROUPS): never a property.
    const select = propertiesOf(round.select);
    const { canonical } = this.#deps.kind ?? this.#deps.mirror.kind ?? USERS;
    const writes: MirrorWrite[] = users.map((user) => ({
      mode: "Replace",
      mirrorUser: { user: canonical(pick(user, select), select), state: "present", round: round.round, runId: record.runId } satisfies MirrorUser,
    }));
    const [{ skipped }] = await Promise.all([
      mirror.applyWrites(writes, { ...this.#signal(), lease }),
      this.#deps.managers?.writePage(MIRROR_EDGE_SCOPE, managers ? [...managers] : undefined, { ...this.#signal(), lease, round: round.round }),
    ]);
    this.#recorder.recordSkipped(record, skipped);
    record.pages += 1;
    record.itemsRead += users.length;
    record.usersWritten += writes.length - skipped.length;
    this.#options.onPage?.({ mode: "full", pages: record.pages, itemsRead: record.itemsRead });
  }

  async complete(): Promise<void> {
    const { mirror, lease } = this.#deps;
    const round = this.#round!;
    const record = this.#record!;
    const write = { ...this.#signal(), lease };
    record.swept += await mirror.sweep(round.round, record.runId, this.#now(), write);
    await this.#deps.managers?.sweepMirror(round.round, write);
    for await (const change of mirror.listChanges(record.runId, this.#signal())) record.changes[change.change] += 1;
    const at = this.#now();
    record.status = "succeeded";
    record.endedAt = this.#now();
    this.#recorder.countTables(record);
    try {
      // The state and the record in one transaction: a round marked failed by a run that took over saves nothing.
      await mirror.finishRound({ deltaLink: round.deltaLink, select: [...round.select], round: round.round, savedAt: at, runId: record.runId, fullRoundAt: at }, this.#saved, record, write);
    } catch (error) {
      record.status = "running";
      delete record.endedAt;
      throw error;
    }
  }

  async stop(how: { paused: boolean; error?: unknown }): Promise<void> {
    const record = this.#record;
    if (!record) return;
    record.status = how.paused ? "paused" : "failed";
    record.endedAt = this.#now();
    if (how.error !== undefined) record.error = redact(describeError(how.error));
    this.#recorder.countTables(record);
    await this.#deps.mirror.recordRun(record, { lease: this.#deps.lease });
  }

  #signal(): OperationOptions {
    return { abortSignal: this.#options.abortSignal };
  }
}

/** The user's mirror properties: a `/users` page holds the snapshot's `$select`, which may have more (snapshot-only ones). */
function pick(user: GraphUser, select: readonly string[]): GraphUser {
  const picked: Record<string, unknown> = { id: user.id };
  for (const name of select) picked[name] = user[name] ?? null;
  return picked as GraphUser;
}
