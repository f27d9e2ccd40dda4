import type { OperationOptions } from "../shared/abort.js";
import type { Settings } from "../configuration/settings.js";
import type { GraphUsersClient } from "../graph/graphUsersClient.js";
import type { UserDeltaClient } from "../graph/userDeltaClient.js";
import { decideMode, runMirrorSync, type RunMirrorSyncOptions } from "../mirror/mirrorSync.js";
import type { MirrorRunRecord, UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { VersionedDeltaState } from "../mirror/mirrorRecords.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import { redactingLogger, withRunLogger, type Logger } from "../shared/logger.js";
import type { LaneRoundResult, SnapshotLane } from "../lane/snapshotLane.js";
import type { LaneStream } from "../lane/streamedSet.js";
import { deadHolderTakeoverLine } from "../snapshots/writerLease.js";
import type { LatestSnapshot, SnapshotStoreClient, SyncRunRecord, WriterLease } from "../snapshots/snapshotStoreClient.js";
import { decideDueWork, type DueWork } from "./dueWork.js";
import { formatMirrorSummary } from "./runSummary.js";
import type { RunControl, RunUserSyncOptions, SyncTrigger, UserSyncDependencies, UserSyncResult } from "./snapshotPorts.js";
import type { ManagerEdges } from "./managerEdges.js";
import { OnePassMirrorRound } from "./onePassRound.js";
import { runSnapshot } from "./snapshotRun.js";
import { RunUnderLease } from "./runUnderLease.js";
import type { SyncServiceClients } from "./syncClients.js";
import { GroupsPart } from "./groupsPart.js";

export interface UserSyncServiceOptions {
  /**
   * The tenant's tables are known to exist (this process created them for an earlier run): runs
   * do not check again. A run that fails for any reason leaves the next one to check
   * (src/app/tenantServices.ts).
   */
  tablesExist?: boolean;
}

export interface RunSyncOptions extends RunUserSyncOptions {
  runControl?: RunControl;
}

/** Aborting `abortSignal` pauses the snapshot at its last checkpoint, or stops the mirror's round (read again next time). */
export interface RunDueOptions extends OperationOptions {
  trigger: SyncTrigger;
  /** `run --full`: a snapshot and a full round of the mirror now, whatever the schedule. */
  full?: boolean;
  /** Overrides the settings' maximum run duration, resume window and lease duration (tests, the command line). */
  runControl?: RunControl;
  /** Called after every committed snapshot page. */
  onProgress?: RunUserSyncOptions["onProgress"];
  /** Called after every applied mirror page. */
  onMirrorPage?: RunMirrorSyncOptions["onPage"];
  /** "Now" for deciding what is due (tests). Default: the current time. */
  now?: Date;
  /**
   * When the invocation started (the timer's or queue trigger's handler was called, a message was
   * received, the command started). The maximum run duration (USER_SYNC_MAX_RUN_MINUTES) counts
   * from it, so that the time before the snapshot (tables, the lease, what is due, a mirror round,
   * Key Vault and the token) is inside the limit and the run pauses before functionTimeout with the
   * documented margin (docs/operations.md). Default: when runDue is called.
   */
  invokedAt?: Date;
  /**
   * Called once the writer lease is held, before any table but the run-records table (where the
   * lease lives) is created and before anything is read or written (multi-tenant mode: the
   * registry is read again under the lease, and the run's start is recorded on the tenant's row).
   * Throwing ends the run having written nothing; for `tenant_removed`, the run-records table goes
   * too when it holds nothing but this run's lease (it was created for this run alone).
   */
  underLease?: (lease: WriterLease, options: OperationOptions) => Promise<void>;
  /** Filled by the run with what it read under the lease, for its telemetry (which then need not read it again). */
  reads?: RunReads;
}

/**
 * What a run read under its lease, as it stands at the run's end (the run's telemetry reads only
 * what is missing here). `undefined`: not known (not read, or written since); `null`: read, none.
 */
export interface RunReads {
  /** The unfinished snapshot run what is due found (the one the run continues), as it was before the run. */
  unfinishedSnapshot?: SyncRunRecord | null;
  /** The latest complete snapshot's pointer: known while no snapshot run has started in this run. */
  latestSnapshot?: LatestSnapshot | null;
  /** The mirror's delta state: as read by what is due, or as the mirror's last round saved it. */
  deltaState?: VersionedDeltaState | null;
}

/** runMirrorRound's options: runDue's, without `full` (a full round is never forced by a mirror round). */
export type RunMirrorRoundOptions = Omit<RunDueOptions, "full">;

/** A mirror round does a snapshot only for the mirror's sake: to continue a stopped run, or to carry the full round the mirror needs. */
function mirrorRoundOnly(due: DueWork): DueWork {
  return { snapshot: due.snapshot === "continuing" || due.snapshot === "mirrorFullRound" ? due.snapshot : undefined, mirrorFull: undefined };
}

/** One run's context under the held lease. */
interface DueRunContext {
  held: RunUnderLease<WriterLease>;
  logger: Logger;
  options: RunDueOptions;
  runControl: RunControl;
  invokedAt: Date;
  /** The groups part of the run (USER_SYNC_GROUPS), when on. */
  groups: GroupsPart | undefined;
  /** The analytics lane's stream of the snapshot's pages, when the lane is set. */
  laneStream: LaneStream | undefined;
}

/** What is due, the round the mirror's state gives, and that state as read under the lease. */
type DecidedDue = { due: DueWork; mirrorRound: ReturnType<typeof decideMode>; state: VersionedDeltaState | undefined; running: readonly MirrorRunRecord[] };
type SnapshotPass = { onePass: OnePassMirrorRound; failure: { error: unknown } | undefined };

export interface DueRunResult {
  /** What was due. */
  due: DueWork;
  /** The snapshot run, when one was due. */
  snapshot?: UserSyncResult<SyncRunRecord>;
  /** How long the snapshot part took. */
  snapshotElapsedInMs?: number;
  /** The mirror's run (absent only when the run was asked to stop before it). */
  mirror?: MirrorRunRecord;
  /** What the analytics lane wrote or failed (absent when the lane is not set, or the run stopped before it). */
  lane?: LaneRoundResult;
  /** The groups' mirror run (USER_SYNC_GROUPS), when the groups part ran. */
  groupsMirror?: MirrorRunRecord;
}

/**
 * Orchestrates runs over the clients the composition root built once per process
 * (src/app/compose.ts: the credential, the certificate cache, MSAL's confidential client and its
 * token cache, the Graph request stage and the stores). The Functions host and the command line
 * share it, so both take one code path.
 */
export class UserSyncService {
  // The clients are the service's own (no public client field: test/architecture/serviceClients.test.ts).
  // Whoever needs them gets them from the composition (src/app/) or through a port.
  private readonly settings: Settings;
  private readonly users: GraphUsersClient;
  /** The delta reader of the live mirror (same Graph pipeline settings as `users`). */
  private readonly delta: UserDeltaClient;
  private readonly store: SnapshotStoreClient;
  /** The live mirror (same storage and credential as `store`). */
  private readonly mirror: UserMirrorClient;
  readonly #lane: SnapshotLane | undefined;
  /** USER_SYNC_GROUPS: the groups' reader and stores. */
  readonly #groups: SyncServiceClients["groups"];
  /** The run-records table (the lease's), then the data tables: created once per service, or known to exist. */
  readonly #tablesReady: { runs?: Promise<void> | undefined; data?: Promise<void> | undefined } = {};
  #tablesKnown = false;
  #tablesCreated = false;

  /**
   * Builds nothing: `app` holds the clients the composition built (src/app/compose.ts: composeApp
   * for the one tenant, TenantServices for each registered tenant); the service keeps those it uses.
   */
  constructor(app: SyncServiceClients, options: UserSyncServiceOptions = {}) {
    if (options.tablesExist) {
      this.#tablesReady.runs = Promise.resolve();
      this.#tablesReady.data = Promise.resolve();
      this.#tablesKnown = true;
      this.#tablesCreated = true;
    }
    this.settings = app.settings;
    this.users = app.users;
    this.delta = app.delta;
    this.store = app.store;
    this.mirror = app.mirror;
    this.#lane = app.lane;
    this.#groups = app.groups;
  }

  /**
   * Does what is due, under the writer lease (taken first: when another run holds it, this throws
   * `run_in_progress` having read and written nothing):
   * 1. the point-in-time snapshot, when `full` is set, the full schedule (USER_SYNC_FULL_SCHEDULE)
   *    had an occurrence since the latest complete snapshot started, there is none yet, or a stopped
   *    snapshot run is to be continued;
   * 2. the live mirror's round: full when `full` is set or the full schedule is due for it (mark and
   *    sweep), else incremental from the saved delta link (the mirror itself falls back to a full
   *    round when its token is missing, expired, gone, or bound to another $select).
   * A full round of the mirror is made in one pass with the snapshot run (docs/mirror.md, "One
   * pass"): when the mirror needs one and no snapshot is due, a snapshot run is started for it, and
   * an incremental round whose delta token Graph refuses hands its full round to one.
   * When the snapshot fails, the mirror still gets a round of its own (so a failing snapshot does not
   * leave the mirror stale); the snapshot's error is thrown afterwards. A snapshot that paused at its
   * maximum run duration carries its mirror round to the next run.
   */
  async runDue(logger: Logger, options: RunDueOptions): Promise<DueRunResult> {
    const safeLogger = redactingLogger(logger);
    // Long-lived clients (the certificate cache, MSAL) log to this run's logger, in this run's async context only.
    return withRunLogger(safeLogger, () => this.#runDue(safeLogger, options));
  }

  /**
   * A round of the live mirror now (a change notification, an operator's command), under the same
   * writer lease lifecycle as runDue: an incremental round from the saved delta link. A snapshot is
   * made only where the mirror's round needs one: a stopped snapshot run is continued (it may carry
   * the mirror's full round), and a full round the mirror needs (no delta link yet, USER_SYNC_SELECT
   * changed, Graph refused its delta token) is made in one pass with a snapshot run, as in runDue.
   * A snapshot or full round that is only due by schedule is left to the next due run.
   */
  async runMirrorRound(logger: Logger, options: RunMirrorRoundOptions): Promise<DueRunResult> {
    const safeLogger = redactingLogger(logger);
    return withRunLogger(safeLogger, () => this.#runDue(safeLogger, { ...options, full: false }, mirrorRoundOnly));
  }

  /** One run over the lease lifecycle: the lease, the `underLease` hook, the data tables, then what is due (`focus` narrows it). */
  async #runDue(safeLogger: Logger, options: RunDueOptions, focus: (due: DueWork) => DueWork = (due) => due): Promise<DueRunResult> {
    const invokedAt = options.invokedAt ?? new Date();
    const runControl: RunControl = { ...this.settings.runControl, ...options.runControl };
    // Only the lease's own table exists before the lease is held: nothing else is created or
    // written by a run that does not hold it (docs/storage.md, "The writer lease").
    const lifecycle = { store: this.store, logger: safeLogger, acquire: () => this.#acquireLease(options.trigger, runControl, options.abortSignal), heldLine: deadHolderTakeoverLine };
    return RunUnderLease.run<WriterLease, DueRunResult>(lifecycle, async (held) => {
      await this.#enterLease(held.lease, safeLogger, options);
      await this.#ensureTables("data", options.abortSignal);
      // Read once under the lease: what is due, and the round the mirror's saved state gives.
      const decided = await this.#decideDue({ full: options.full === true, ...(options.now ? { now: options.now } : {}), abortSignal: options.abortSignal }, options.reads);
      // USER_SYNC_GROUPS: the permission is checked first; without it only the groups part fails (after the rest of the run).
      const groups = this.#groups ? await GroupsPart.begin(this.#groups, { logger: safeLogger, lease: held.lease, trigger: options.trigger, abortSignal: options.abortSignal }) : undefined;
      const laneStream = this.#lane?.openStream({ lease: held.lease, logger: safeLogger, abortSignal: options.abortSignal });
      let result: DueRunResult;
      let groupsFailure: { error: unknown } | undefined;
      try {
        result = await this.#doDue({ held, logger: safeLogger, options, runControl, invokedAt, groups, laneStream }, { ...decided, due: focus(decided.due) });
        // The groups' mirror round before the lane (its change set lands in this run), but the lane
        // before the groups part's outcome: a groups failure (a missing permission) must not starve the lane.
        groupsFailure = groups ? await this.#finishGroups(held, groups, result) : undefined;
        const lane = await this.#runLane(held, safeLogger, options.abortSignal, laneStream);
        if (lane) result.lane = lane;
      } finally {
        laneStream?.discard();
      }
      if (groupsFailure) throw groupsFailure.error;
      return result;
    });
  }

  /** The groups part's end (GroupsPart.finish): its failure is returned, to be thrown after the lane; a lost lease is thrown. */
  async #finishGroups(held: RunUnderLease<WriterLease>, groups: GroupsPart, result: DueRunResult): Promise<{ error: unknown } | undefined> {
    try {
      await groups.finish(result);
      return undefined;
    } catch (error) {
      if (held.isLoss(error)) throw held.translate(error);
      return { error };
    }
  }

  /**
   * The analytics lane, after what was due: the promoted snapshots it has not written yet. Its
   * failures are recorded on the snapshot's run and logged, never thrown (the sync succeeded); a
   * lost lease is.
   */
  async #runLane(held: RunUnderLease<WriterLease>, logger: Logger, abortSignal: AbortSignal | undefined, stream: LaneStream | undefined): Promise<LaneRoundResult | undefined> {
    if (!this.#lane || abortSignal?.aborted) return undefined;
    held.assertHeld(() => held.lease.assertHeld());
    try {
      return await this.#lane.catchUp({ lease: held.lease, logger, abortSignal, stream });
    } catch (error) {
      throw held.translate(error);
    }
  }

  /** The `underLease` hook; for `tenant_removed`, the run-records table goes when it holds nothing but this run's lease. */
  async #enterLease(lease: WriterLease, logger: Logger, options: RunDueOptions): Promise<void> {
    if (!options.underLease) return;
    const signal = { abortSignal: options.abortSignal };
    try {
      await options.underLease(lease, signal);
    } catch (error) {
      if (isUserSyncError(error, "tenant_removed") && (await this.store.discardRunsTableHoldingOnly(lease, signal))) {
        this.#forgetTables();
        logger.info(`Removed table ${this.store.runsTableName}: it held nothing but this run's writer lease.`);
      }
      throw error;
    }
  }

  /** What is due, under the held lease: an incremental round (which may hand its full round over), or a snapshot run carrying the mirror's full round, then the mirror's own round. */
  async #doDue(run: DueRunContext, decided: DecidedDue): Promise<DueRunResult> {
    const result: DueRunResult = { due: decided.due };
    let handedOff: MirrorRunRecord | undefined;
    if (result.due.snapshot === undefined) {
      // An incremental round. When Graph refuses its delta token, the full round that follows is
      // not read from /users/delta here: it is made in one pass with a snapshot run, below.
      let round: MirrorRunRecord;
      try {
        // Nothing has written the mirror's state since what is due read it under this lease: the round does not read it again.
        round = await this.#runMirror(run, undefined, { handOffFullRound: true, saved: { state: decided.state, running: decided.running } });
      } catch (error) {
        throw run.held.translate(error);
      }
      result.mirror = round;
      if (round.status !== "running") return result;
      handedOff = round;
      result.due = { ...result.due, snapshot: "mirrorFullRound" };
    }
    const pass = await this.#snapshotPass(run, decided, handedOff, result);
    return this.#afterSnapshot(run, result, pass);
  }

  /**
   * The snapshot run, with the mirror's full round riding on its pass over /users (one read of the
   * directory): a new one when the mirror needs a full round, or the round a stopped run carries.
   * A failed snapshot is returned (the mirror still gets its round); a lost lease or an abort is thrown.
   */
  async #snapshotPass(run: DueRunContext, decided: DecidedDue, handedOff: MirrorRunRecord | undefined, result: DueRunResult): Promise<SnapshotPass> {
    const { held, logger, options } = run;
    const lease = held.lease;
    const abortSignal = options.abortSignal;
    const startedAt = Date.now();
    // The snapshot may be promoted and the one pass may save the mirror's state: neither is known any more.
    if (options.reads) {
      options.reads.latestSnapshot = undefined;
      options.reads.deltaState = undefined;
    }
    const plan = handedOff ? { mode: "full", reason: handedOff.reason } : decided.mirrorRound;
    const onePass = new OnePassMirrorRound(
      { delta: this.delta, mirror: this.mirror, logger, lease, ...this.#managers() },
      {
        reason: plan.mode === "full" ? plan.reason : undefined,
        trigger: options.trigger,
        // No onMirrorPage: the snapshot's progress (onProgress) already reports the one pass.
        abortSignal: AbortSignal.any([lease.signal, ...(abortSignal ? [abortSignal] : [])]),
        ...(handedOff ? { continues: handedOff } : {}),
      },
    );
    let failure: { error: unknown } | undefined;
    try {
      result.snapshot = await runSnapshot<SyncRunRecord, WriterLease>(
        {
          source: this.users,
          sink: this.store,
          select: this.settings.select,
          logger,
          runControl: run.runControl,
          retention: this.settings.retention,
          companion: onePass,
          ...(run.laneStream ? { pageTap: run.laneStream } : {}),
          ...(run.groups ? { beforePromotion: run.groups.beforePromotion } : {}),
          ...this.#snapshotManagers(),
        },
        { trigger: options.trigger, lease, invokedAt: run.invokedAt, abortSignal, ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
      );
    } catch (error) {
      if (held.isLoss(error)) throw held.translate(error);
      if (abortSignal?.aborted) throw error;
      failure = { error };
    }
    result.snapshotElapsedInMs = Date.now() - startedAt;
    if (onePass.record) result.mirror = onePass.record;
    return { onePass, failure };
  }

  /**
   * After the snapshot: the mirror's round, unless the pass carried it. When the snapshot failed,
   * the mirror still gets its round and the snapshot's error is thrown afterwards.
   */
  async #afterSnapshot(run: DueRunContext, result: DueRunResult, pass: SnapshotPass): Promise<DueRunResult> {
    const { held, logger, options } = run;
    const snapshotFailure = pass.failure;
    if (options.abortSignal?.aborted) return result;
    // A run that lost its lease does not go on to the mirror.
    held.assertHeld(() => held.lease.assertHeld());
    const carried = pass.onePass.record;
    if (carried && (carried.status === "succeeded" || carried.status === "paused")) {
      // The round was done in the snapshot's pass, or waits with it at its checkpoint: no other
      // round now (an incremental one would write users without the round's mark, and its sweep
      // would then take them for users the pass did not see).
      result.mirror = carried;
      if (carried.status === "paused") logger.info("The mirror's full round paused with the snapshot; the next run continues both.");
      if (snapshotFailure) throw snapshotFailure.error;
      return result;
    }
    let mirrorFull = result.due.mirrorFull;
    if (mirrorFull === "scheduled" && result.snapshot?.outcome === "paused") {
      logger.info("The snapshot paused at its maximum run duration: the mirror gets an incremental round now, and its scheduled full round runs after the snapshot completes.");
      mirrorFull = undefined;
    }
    try {
      result.mirror = await this.#runMirror(run, mirrorFull);
    } catch (error) {
      if (held.isLoss(error)) throw held.translate(error);
      if (!snapshotFailure) throw error;
      logger.error(`The mirror's round failed too: ${describeError(error)}`);
    }
    if (snapshotFailure) {
      if (result.mirror) logger.info(formatMirrorSummary(result.mirror));
      throw snapshotFailure.error;
    }
    return result;
  }

  /** What a run would do now (reads the store's latest snapshot and unfinished runs, and the mirror's state). */
  async whatIsDue(options: OperationOptions & { full?: boolean; now?: Date } = {}): Promise<DueWork> {
    return (await this.#decideDue(options)).due;
  }

  /** What is due, and the mirror round its saved state gives with it (one read of each). */
  async #decideDue(options: OperationOptions & { full?: boolean; now?: Date }, reads?: RunReads): Promise<DecidedDue> {
    const signal = { abortSignal: options.abortSignal };
    // The pointer and the newest unfinished run in one query.
    const { latest, unfinished } = await this.store.readDueRecords(signal);
    // The pointer keeps its run's start; a pointer written before it did sends us to the run.
    const latestSnapshotStartedAt = latest ? (latest.startedAt ?? (await this.store.getRun(latest.runId, signal))?.startedAt ?? latest.completedAt) : undefined;
    const hasUnfinishedSnapshot = unfinished !== undefined;
    // The mirror's state and its runs left running in one query: the round marks those without reading them again.
    const { saved: state, running } = await this.mirror.readRoundStart(signal);
    if (reads) Object.assign(reads, { unfinishedSnapshot: unfinished ?? null, latestSnapshot: latest ?? null, deltaState: state ?? null } satisfies RunReads);
    const due = decideDueWork({
      mirrorNeedsFullRound: decideMode(state, this.delta.select, undefined).mode === "full",
      full: options.full === true,
      fullSchedule: this.settings.fullSchedule,
      now: options.now ?? new Date(),
      latestSnapshotStartedAt,
      hasUnfinishedSnapshot,
      mirrorFullRoundAt: state?.state.fullRoundAt,
    });
    return { due, mirrorRound: decideMode(state, this.delta.select, due.mirrorFull), state, running };
  }

  /** USER_SYNC_GROUPS: the users' manager edges the mirror's rounds keep (none without the groups). */
  #managers(): { managers?: ManagerEdges } {
    return this.#groups ? { managers: this.#groups.stores.managers } : {};
  }

  /** USER_SYNC_GROUPS: each snapshot page's managers go into the snapshot's manager edges. */
  #snapshotManagers(): { pageLinks?: UserSyncDependencies<SyncRunRecord, WriterLease>["pageLinks"] } {
    const managers = this.#groups?.stores.managers;
    return managers ? { pageLinks: (snapshotId, page, options) => managers.writePage(snapshotId, page.managers, options) } : {};
  }

  /** One mirror round under the held (and kept) lease; a lost lease stops the round and writes nothing more. */
  async #runMirror(run: DueRunContext, full: DueWork["mirrorFull"], round: Pick<RunMirrorSyncOptions, "handOffFullRound" | "saved"> = {}): Promise<MirrorRunRecord> {
    const { held, logger, options } = run;
    const lease = held.lease;
    const signals = [lease.signal, ...(options.abortSignal ? [options.abortSignal] : [])];
    const reads = options.reads;
    // The round may save the mirror's state: known again only once it did.
    if (reads) reads.deltaState = undefined;
    const onStateSaved = reads ? (saved: VersionedDeltaState) => (reads.deltaState = saved) : undefined;
    try {
      return await runMirrorSync(
        { delta: this.delta, mirror: this.mirror, logger, lease, ...this.#managers() },
        {
          trigger: options.trigger,
          abortSignal: AbortSignal.any(signals),
          ...(full ? { full } : {}),
          ...(options.onMirrorPage ? { onPage: options.onMirrorPage } : {}),
          ...(onStateSaved ? { onStateSaved } : {}),
          ...round,
        },
      );
    } catch (error) {
      if (lease.lost) throw lease.lost;
      throw error;
    }
  }

  /**
   * Runs one sync (or continues a stopped one). Log lines go to `logger` for the duration of the run.
   * Throws `run_in_progress` when another run holds the writer lease. `runControl` overrides the
   * settings' maximum run duration, resume window and lease duration (tests, the command line).
   */
  async runSync(logger: Logger, options: RunSyncOptions): Promise<UserSyncResult<SyncRunRecord>> {
    const safeLogger = redactingLogger(logger);
    return withRunLogger(safeLogger, () => this.#runSync(safeLogger, options));
  }

  async #runSync(safeLogger: Logger, options: RunSyncOptions): Promise<UserSyncResult<SyncRunRecord>> {
    await this.#ensureTables("runs", options.abortSignal);
    await this.#ensureTables("data", options.abortSignal);
    const { runControl, ...runOptions } = options;
    return await runSnapshot<SyncRunRecord, WriterLease>(
      {
        source: this.users,
        sink: this.store,
        select: this.settings.select,
        logger: safeLogger,
        runControl: { ...this.settings.runControl, ...runControl },
        retention: this.settings.retention,
      },
      runOptions,
    );
  }

  /** True once this service has created (or found) its tables, or was built knowing they exist. */
  get tablesExist(): boolean {
    return this.#tablesCreated;
  }

  /**
   * Takes the writer lease, creating the run-records table first when needed. Tables this service
   * knew to exist may have been deleted since (tenants remove --delete-data): when the lease's
   * table is gone, it is created again and the lease taken once more.
   */
  async #acquireLease(trigger: SyncTrigger, runControl: RunControl, abortSignal: AbortSignal | undefined): Promise<WriterLease> {
    const acquire = () =>
      this.store.acquireLease({ trigger, ...(runControl.leaseDurationInMs !== undefined ? { leaseDurationInMs: runControl.leaseDurationInMs } : {}), abortSignal });
    await this.#ensureTables("runs", abortSignal);
    try {
      return await acquire();
    } catch (error) {
      if (!this.#tablesKnown || !isUserSyncError(error, "storage_request_failed") || error.details.statusCode !== 404) throw error;
      this.#forgetTables();
      await this.#ensureTables("runs", abortSignal);
      return await acquire();
    }
  }

  #forgetTables(): void {
    this.#tablesReady.runs = undefined;
    this.#tablesReady.data = undefined;
    this.#tablesKnown = false;
    this.#tablesCreated = false;
  }

  /** The run-records table (`runs`), or the snapshots and mirror tables (`data`), created once per service. */
  #ensureTables(which: "runs" | "data", abortSignal: AbortSignal | undefined): Promise<void> {
    let ready = this.#tablesReady[which];
    if (ready === undefined) {
      const signal = { abortSignal };
      ready =
        which === "runs"
          ? this.store.createRunsTableIfNotExists(signal)
          : Promise.all([
              this.store.createSnapshotsTableIfNotExists(signal),
              this.mirror.createTablesIfNotExist(signal),
              ...(this.#groups ? [GroupsPart.createTables(this.#groups.stores, signal)] : []),
            ]).then(() => {
              this.#tablesCreated = true;
            });
      this.#tablesReady[which] = ready;
      // A failed attempt is not cached: the next run tries again.
      const attempt = ready;
      attempt.catch(() => {
        if (this.#tablesReady[which] === attempt) this.#tablesReady[which] = undefined;
      });
    }
    return ready;
  }
}
