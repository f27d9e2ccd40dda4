/**
 * What a snapshot run needs from the other stages, as ports: the reader of Graph `/users`
 * (UserPageSource), the snapshot store (SnapshotSink) and the writer lease (RunLeaseView), with the
 * run's options and result. GraphUsersClient, SnapshotStoreClient and WriterLease implement them in
 * production; the unit tests use fakes.
 */
import type { GraphUser, UserPage } from "../graph/types.js";
import type { Logger } from "../shared/logger.js";
import { MAX_SKIPPED_RECORDED, type SkippedUser, type SnapshotMirrorRound, type RunStats as StoredRunStats } from "../snapshots/runRecords.js";

export type { SkippedUser, SnapshotMirrorRound };

/** What a run counts, stored with the run record: the store's RunStats, with both bags always present. */
export type RunStats = StoredRunStats & {
  /** Named counts from the stages (e.g. Graph throttles, retries, waitedInMs, skippedUsers, resumes). */
  counters: Record<string, number>;
  /** The first skipped users (at most MAX_SKIPPED_RECORDED); `counters.skippedUsers` has the total. */
  skipped: SkippedUser[];
};

export { MAX_SKIPPED_RECORDED };

/** The parts of the run record the sync needs. */
export interface RunHandle {
  runId: string;
  snapshotId: string;
}

/** A run record as the sync reads it, to decide whether a stopped run can be resumed. */
export interface SyncRunView extends RunHandle {
  status: string;
  startedAt: Date;
  select: readonly string[];
  partitionCount: number;
  /** Progress after the last committed page; `nextLink` absent when every page is committed. */
  checkpoint?: { nextLink?: string; at: Date; linkDigests?: readonly string[] };
  /** The mirror's full round riding on this run's pass, when there is one. */
  mirrorRound?: SnapshotMirrorRound;
  stats: Omit<RunStats, "skipped"> & { skipped?: readonly SkippedUser[] };
}

/** The reading stage, as the sync sees it. */
export interface UserPageSource {
  /** `counters` is this run's bag of named counts: the source adds to it as it reads. `startLink` continues from a checkpoint. */
  listUserPages(options?: OperationOptions & { counters?: Record<string, number>; startLink?: string; seenLinks?: Iterable<string> }): AsyncIterable<UserPage>;
}

/** The writer lease as the sync sees it (WriterLease in production). */
export interface RunLeaseView {
  /** Aborted when the lease is lost: the run stops reading and writing. */
  readonly signal: AbortSignal;
  /** Why it was lost, once it is. */
  readonly lost?: Error | undefined;
  readonly durationInMs: number;
}

/**
 * The storage stage, as the sync sees it (SnapshotStoreClient in production). Every write takes the
 * run's lease: the store sends it only while the lease is held, fenced in storage.
 */
export interface SnapshotSink<TRun extends SyncRunView, TLease extends RunLeaseView> {
  readonly partitionCount: number;
  /** Takes the writer lease or throws `run_in_progress`. */
  acquireLease(options: OperationOptions & { trigger: SyncTrigger; leaseDurationInMs?: number }): Promise<TLease>;
  /** Throws `lease_lost` (and marks the lease lost) when another run took the lease over. */
  renewLease(lease: TLease): Promise<void>;
  releaseLease(lease: TLease): Promise<void>;
  /** Runs that are running (their process died: we hold the lease) or paused, newest first. */
  listUnfinishedRuns(): AsyncIterable<TRun>;
  startRun(options: OperationOptions & { trigger: SyncTrigger; select: readonly string[]; mirrorRound?: SnapshotMirrorRound; lease: TLease }): Promise<TRun>;
  /** Takes the run's snapshot over (its previous holder's late writes cannot land) and marks it running. */
  resumeRun(run: TRun, options: { lease: TLease }): Promise<TRun>;
  abandonRun(run: TRun, reason: string, options: { lease: TLease }): Promise<TRun>;
  upsertUsers(
    snapshotId: string,
    users: readonly GraphUser[],
    options: OperationOptions & { lease: TLease },
  ): Promise<{ entitiesWritten: number; transactions: number; skipped: SkippedUser[] }>;
  /** Saves progress and renews the lease in one transaction (throws `lease_lost` when it was taken over). */
  checkpointRun(run: TRun, nextLink: string | undefined, stats: RunStats, options: { lease: TLease; linkDigests?: readonly string[] }): Promise<TRun>;
  pauseRun(run: TRun, options: { lease: TLease }): Promise<TRun>;
  completeRun(run: TRun, stats: RunStats, options: { lease: TLease }): Promise<TRun>;
  failRun(run: TRun, error: string, stats: RunStats, options: { lease: TLease }): Promise<TRun>;
  deleteExpiredSnapshots?(
    options: OperationOptions & {
      keepCount: number;
      keepWithinInMs: number;
      keepSupersededWithinInMs?: number;
      lease: TLease;
    },
  ): Promise<{ deletedSnapshotIds: string[]; deletedEntities: number }>;
}

import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { OperationOptions } from "../shared/abort.js";

export type { SyncTrigger };

/**
 * A writer that rides on a snapshot run's pass over `/users` (the mirror's full round). The run
 * calls it in this order: `prepare` before a new run is started (what it returns is kept with the
 * run record), `attach` with the run it continues or started, `page` for every page after the
 * snapshot wrote it and before the checkpoint, then `complete` before the snapshot is promoted, or
 * `stop` when the run pauses or fails.
 */
export interface SnapshotCompanion<TRun> {
  /** Whether a new run should carry it (false: the snapshot runs alone). */
  readonly wanted: boolean;
  /** What the companion's own requests counted so far (a failed `prepare` is counted on the failed run). */
  readonly counters?: Readonly<Record<string, number>>;
  /**
   * Called before a new run starts, when wanted or when the run replaces one that carried a round
   * (`restarts`: that round, started again): what to keep with the run record.
   */
  prepare(options: OperationOptions & { restarts?: SnapshotMirrorRound }): Promise<SnapshotMirrorRound>;
  /** The run starts or continues: false when the run carries no round (the companion stays out of it). */
  attach(run: TRun, how: { resumed: boolean; restartedBecause?: string }): Promise<boolean>;
  /** One page the snapshot committed to storage (before its checkpoint), with its users' managers when read. */
  page(users: readonly GraphUser[], managers?: UserPage["managers"]): Promise<void>;
  /** Every page is read and written: finish (sweep, save state). Called again after a crash in it. */
  complete(): Promise<void>;
  /** The run stops without completing. */
  stop(how: { paused: boolean; error?: unknown }): Promise<void>;
}

/** A reader of the snapshot's committed pages (the analytics lane's stream). Never throws. */
export interface SnapshotPageTap {
  attach(run: SyncRunView, how: { resumed: boolean }): void;
  page(users: readonly GraphUser[], skipped: readonly SkippedUser[]): Promise<void>;
}

export interface RunControl {
  /** Stop cleanly at a checkpoint after this long (the next run continues). Default: no limit. */
  maxRunDurationInMs?: number;
  /** Resume a stopped run only while its last checkpoint is younger than this. Default 60 minutes. */
  resumeWithinInMs?: number;
  /** Writer lease duration; renewed four times within its duration minus the safety margin. Default: the store's (5 minutes). */
  leaseDurationInMs?: number;
}

export interface UserSyncDependencies<TRun extends SyncRunView, TLease extends RunLeaseView> {
  source: UserPageSource;
  sink: SnapshotSink<TRun, TLease>;
  select: readonly string[];
  logger: Logger;
  runControl?: RunControl;
  /**
   * A second writer fed from the same pass (the mirror's full round, src/sync/onePassRound.ts):
   * each page goes to it before the checkpoint, and it finishes before the snapshot is promoted.
   */
  companion?: SnapshotCompanion<TRun>;
  /**
   * Called once every page is written (and the companion finished), before the snapshot is
   * promoted: the run's other parts (the groups, src/sync/groupsRound.ts). Returns the run record to
   * promote (with what the part records on it). Throwing fails the run (not promoted); an abort
   * pauses it, and the continued run calls it again. `checkpoint` saves the run record given (what
   * the part records on it: where it stands) as the run's checkpoint, under the lease, fenced like
   * a page's checkpoint; the run pauses with it.
   */
  beforePromotion?: (run: TRun, options: { abortSignal: AbortSignal; checkpoint: (run: TRun) => Promise<TRun> }) => Promise<TRun>;
  /**
   * USER_SYNC_GROUPS: writes a page's relationships (its users' managers, `UserPage.managers`) into
   * the snapshot, beside its users and before the checkpoint.
   */
  pageLinks?: (snapshotId: string, page: UserPage, options: OperationOptions & { lease: TLease }) => Promise<unknown>;
  /**
   * The analytics lane's stream (src/lane/streamedSet.ts): told which run the pass writes (and
   * whether it continues a stopped one), then handed every page the snapshot committed, with the
   * users the store skipped, before the checkpoint. It never throws.
   */
  pageTap?: SnapshotPageTap;
  /** Applied after a snapshot is promoted. Default: no retention. */
  retention?: { keepCount: number; keepWithinInMs: number; keepSupersededWithinInMs?: number };
}

/** Aborting `abortSignal` stops the run at its last checkpoint (paused); the next run continues. */
export interface RunUserSyncOptions extends OperationOptions {
  trigger: SyncTrigger;
  /** Called after every committed page. */
  onProgress?: (stats: Readonly<RunStats>) => void;
}

/** Options of a run under a writer lease its caller already holds (and releases). */
export interface RunUserSyncUnderLeaseOptions<TLease> extends RunUserSyncOptions {
  /** The caller's lease: the run renews it while it runs, but neither acquires nor releases it. */
  lease?: TLease;
  /**
   * When the invocation that runs the snapshot started (a timer tick, a queue message, a command):
   * the maximum run duration counts from it, so that what came before the snapshot (tables, the
   * lease, what is due, a mirror round, tokens, Key Vault) is inside the limit. Default: the run's start.
   */
  invokedAt?: Date;
}

export interface UserSyncResult<TRun extends RunHandle> {
  run: TRun;
  stats: RunStats;
  /** `completed`: the snapshot is promoted. `paused`: stopped at a checkpoint; the next run continues it. */
  outcome: "completed" | "paused";
  /** Why a paused run stopped. */
  pausedBecause?: "max_run_duration" | "aborted";
  /** True when this run continued a stopped run's snapshot. */
  resumed: boolean;
  /** What retention deleted after promotion (absent when it did not run or failed: see the log). */
  retention?: { deletedSnapshotIds: string[]; deletedEntities: number };
}

export { DEFAULT_RESUME_WITHIN_IN_MS } from "../configuration/defaults.js";
