import type { GraphUser, UserPage } from "../graph/types.js";
import { describeError, isUserSyncError, UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { MAX_SKIPPED_RECORDED, type SkippedUser, type RunStats as StoredRunStats } from "../snapshots/runRecords.js";
import { keepLease } from "../snapshots/leaseKeeper.js";
import { formatCount } from "../shared/counts.js";

export type { SkippedUser };

/** What a run counts, stored with the run record: the store's RunStats, with both bags always present. */
export type RunStats = StoredRunStats & {
  /** Named counts from the stages (e.g. Graph throttles, retries, waitedInMs, skippedUsers, resumes). */
  counters: Record<string, number>;
  /** The first skipped users (at most MAX_SKIPPED_RECORDED); `counters.skippedUsers` has the total. */
  skipped: SkippedUser[];
};

export { MAX_SKIPPED_RECORDED };
/** Skipped users logged one by one per run; the rest are only counted. */
const MAX_SKIPPED_LOGGED = 10;

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
  stats: Omit<RunStats, "skipped"> & { skipped?: readonly SkippedUser[] };
}

/** The reading stage, as the sync sees it. */
export interface UserPageSource {
  /** `counters` is this run's bag of named counts: the source adds to it as it reads. `startLink` continues from a checkpoint. */
  listUserPages(options?: { abortSignal?: AbortSignal; counters?: Record<string, number>; startLink?: string; seenLinks?: Iterable<string> }): AsyncIterable<UserPage>;
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
  acquireLease(options: { trigger: SyncTrigger; leaseDurationInMs?: number; abortSignal?: AbortSignal }): Promise<TLease>;
  /** Throws `lease_lost` (and marks the lease lost) when another run took the lease over. */
  renewLease(lease: TLease): Promise<void>;
  releaseLease(lease: TLease): Promise<void>;
  /** Runs that are running (their process died: we hold the lease) or paused, newest first. */
  listUnfinishedRuns(): AsyncIterable<TRun>;
  startRun(options: { trigger: SyncTrigger; select: readonly string[]; abortSignal?: AbortSignal; lease: TLease }): Promise<TRun>;
  /** Takes the run's snapshot over (its previous holder's late writes cannot land) and marks it running. */
  resumeRun(run: TRun, options: { lease: TLease }): Promise<TRun>;
  abandonRun(run: TRun, reason: string, options: { lease: TLease }): Promise<TRun>;
  upsertUsers(
    snapshotId: string,
    users: readonly GraphUser[],
    options: { abortSignal?: AbortSignal; lease: TLease },
  ): Promise<{ entitiesWritten: number; transactions: number; skipped: SkippedUser[] }>;
  /** Saves progress and renews the lease in one transaction (throws `lease_lost` when it was taken over). */
  checkpointRun(run: TRun, nextLink: string | undefined, stats: RunStats, options: { lease: TLease; linkDigests?: readonly string[] }): Promise<TRun>;
  pauseRun(run: TRun, options: { lease: TLease }): Promise<TRun>;
  completeRun(run: TRun, stats: RunStats, options: { lease: TLease }): Promise<TRun>;
  failRun(run: TRun, error: string, stats: RunStats, options: { lease: TLease }): Promise<TRun>;
  deleteExpiredSnapshots?(options: {
    keepCount: number;
    keepWithinInMs: number;
    keepSupersededWithinInMs?: number;
    abortSignal?: AbortSignal;
    lease: TLease;
  }): Promise<{ deletedSnapshotIds: string[]; deletedEntities: number }>;
}

export type SyncTrigger = "timer" | "cli";

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
  /** Applied after a snapshot is promoted. Default: no retention. */
  retention?: { keepCount: number; keepWithinInMs: number; keepSupersededWithinInMs?: number };
}

export interface RunUserSyncOptions {
  trigger: SyncTrigger;
  /** Aborting stops the run at its last checkpoint (paused); the next run continues. */
  abortSignal?: AbortSignal;
  /** Called after every committed page. */
  onProgress?: (stats: Readonly<RunStats>) => void;
}

/** Options of a run under a writer lease its caller already holds (and releases). */
export interface RunUserSyncUnderLeaseOptions<TLease> extends RunUserSyncOptions {
  /** The caller's lease: the run renews it while it runs, but neither acquires nor releases it. */
  lease?: TLease;
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

export const DEFAULT_RESUME_WITHIN_IN_MS = 60 * 60_000;

function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === "AbortError";
}

/** Graph refused a saved link (expired or foreign skiptoken): start over cleanly. */
function isRejectedLink(error: unknown): boolean {
  if (!isUserSyncError(error)) return false;
  if (error.code === "graph_untrusted_next_link") return true;
  const status = Number(error.details.status);
  return error.code === "graph_request_failed" && (status === 400 || status === 404 || status === 410);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/**
 * One sync run, the only writer at a time (a lease): resumes a stopped run's snapshot from its
 * checkpoint when it can (else abandons it and starts a new snapshot), reads every remaining page
 * and writes it, checkpointing after each committed page, then promotes the snapshot to latest and
 * applies retention. Writing page N overlaps reading page N+1; at most two pages are in memory.
 * At the maximum run duration (or on abort) it stops at the last checkpoint (paused). A run that
 * fails is recorded as failed and never becomes the latest snapshot; the error is rethrown.
 */
export async function runUserSync<TRun extends SyncRunView, TLease extends RunLeaseView>(
  deps: UserSyncDependencies<TRun, TLease>,
  options: RunUserSyncUnderLeaseOptions<TLease>,
): Promise<UserSyncResult<TRun>> {
  const { source, sink, logger } = deps;
  const control = deps.runControl ?? {};
  const startedAt = Date.now();
  const external = options.abortSignal;
  external?.throwIfAborted();
  const heldByCaller = options.lease !== undefined;
  const lease =
    options.lease ??
    (await sink.acquireLease({
      trigger: options.trigger,
      ...(control.leaseDurationInMs !== undefined ? { leaseDurationInMs: control.leaseDurationInMs } : {}),
      ...(external ? { abortSignal: external } : {}),
    }));

  // Stopping: reads stop on any reason; writes only on abort or a lost lease (a page being written
  // when the deadline comes is finished and checkpointed).
  const readStop = new AbortController();
  const hardStop = new AbortController();
  let stopReason: "max_run_duration" | "aborted" | "lease_lost" | undefined;
  let leaseLost: unknown;
  const requestStop = (reason: NonNullable<typeof stopReason>) => {
    stopReason ??= reason;
    readStop.abort();
    if (reason !== "max_run_duration") hardStop.abort();
  };
  const onExternalAbort = () => requestStop("aborted");
  external?.addEventListener("abort", onExternalAbort);
  const deadline =
    control.maxRunDurationInMs !== undefined ? setTimeout(() => requestStop("max_run_duration"), Math.max(0, control.maxRunDurationInMs - (Date.now() - startedAt))) : undefined;

  // The lease: renewed by a keeper (ours, unless the caller holds and keeps it); once it is lost,
  // reading and writing stop at once and the run ends with lease_lost, recording nothing more.
  const keeper = heldByCaller ? undefined : keepLease(sink, lease, logger);
  const onLeaseLost = (error: unknown) => {
    leaseLost ??= lease.lost ?? error;
    requestStop("lease_lost");
  };
  const onLeaseSignal = () => onLeaseLost(lease.signal.reason);
  lease.signal.addEventListener("abort", onLeaseSignal);
  if (lease.signal.aborted) onLeaseSignal();
  const isLeaseLoss = (error: unknown) => isUserSyncError(error, "lease_lost") || lease.lost !== undefined;

  let skippedLogged = 0;
  const recordSkipped = (stats: RunStats, skipped: readonly SkippedUser[]) => {
    if (skipped.length === 0) return;
    stats.counters.skippedUsers = (stats.counters.skippedUsers ?? 0) + skipped.length;
    for (const user of skipped) {
      if (stats.skipped.length < MAX_SKIPPED_RECORDED) stats.skipped.push(user);
      if (skippedLogged++ < MAX_SKIPPED_LOGGED) logger.warn(`Skipped a user that cannot be stored: ${redact(user.reason)}`);
      else if (skippedLogged === MAX_SKIPPED_LOGGED + 1) logger.warn("More users were skipped; the run record lists the first ones and counts them all (counters.skippedUsers).");
    }
  };

  type PassResult = { kind: "completed" | "paused"; run: TRun; stats: RunStats } | { kind: "restart"; run: TRun; reason: string };

  const pass = async (initial: TRun, stats: RunStats, startLink: string | undefined, readComplete: boolean, committedLinks: string[] = []): Promise<PassResult> => {
    let run = initial;
    let committedRead = stats.usersRead;
    let pagesThisPass = 0;
    let stoppedEarly = false;
    let pendingWrite: Promise<void> | undefined;
    let writeFailure: { error: unknown } | undefined;

    const write = async (page: UserPage): Promise<void> => {
      try {
        const written = await sink.upsertUsers(run.snapshotId, page.users, { abortSignal: hardStop.signal, lease });
        stats.pages += 1;
        stats.entitiesWritten += written.entitiesWritten;
        stats.transactions += written.transactions;
        committedRead += page.users.length;
        recordSkipped(stats, written.skipped);
        if (page.linkDigest !== undefined) committedLinks.push(page.linkDigest);
        run = await sink.checkpointRun(run, page.nextLink, { ...stats, usersRead: committedRead }, { lease, linkDigests: committedLinks });
        options.onProgress?.({ ...stats, counters: { ...stats.counters }, skipped: [...stats.skipped] });
      } catch (error) {
        if (isLeaseLoss(error)) onLeaseLost(error);
        writeFailure ??= { error };
      }
    };

    if (!readComplete) {
      try {
        // A resumed pass also stops at a link its earlier part read (a cycle across the pause).
        const pages = source.listUserPages({
          counters: stats.counters,
          abortSignal: readStop.signal,
          ...(startLink !== undefined ? { startLink, seenLinks: committedLinks } : {}),
        });
        for await (const page of pages) {
          pagesThisPass += 1;
          stats.usersRead += page.users.length;
          // Wait for the previous page's writes before starting this one: bounded memory, and the
          // reader fetches the next page while this one is written.
          if (pendingWrite) await pendingWrite;
          if (writeFailure) throw writeFailure.error;
          if (readStop.signal.aborted) {
            stoppedEarly = true;
            break;
          }
          // Start the write on the next turn of the event loop: the loop first asks for the next
          // page, so its request is on the wire before this page's (synchronous) encoding runs.
          pendingWrite = nextTurn().then(() => write(page));
        }
        if (pendingWrite) await pendingWrite;
        if (writeFailure) throw writeFailure.error;
      } catch (error) {
        // Let an in-flight write settle before recording anything, so the record's counts are final.
        if (pendingWrite) await pendingWrite;
        // Another run holds the lease now and may be continuing this snapshot: touch nothing.
        if (leaseLost || isLeaseLoss(error)) throw leaseLost ?? lease.lost ?? error;
        const failure = writeFailure?.error ?? error;
        if (stopReason !== undefined && (isAbort(error) || isAbort(failure))) {
          stoppedEarly = true;
        } else if (startLink !== undefined && pagesThisPass === 0 && isRejectedLink(error)) {
          return { kind: "restart", run, reason: `Graph refused its saved page link (${describeError(error)})` };
        } else {
          const reason = redact(describeError(failure));
          try {
            await sink.failRun(run, reason, { ...stats, usersRead: Math.max(stats.usersRead, committedRead) }, { lease });
          } catch (recordError) {
            if (isLeaseLoss(recordError)) throw leaseLost ?? lease.lost ?? recordError;
            logger.error(`Could not record run ${run.runId} as failed: ${describeError(recordError)}`);
          }
          throw failure;
        }
      }
    }
    if (leaseLost) throw leaseLost;
    if (stoppedEarly) {
      run = await sink.pauseRun(run, { lease });
      return { kind: "paused", run, stats: { ...stats, usersRead: committedRead } };
    }
    const completed = await sink.completeRun(run, { ...stats, usersRead: committedRead }, { lease });
    return { kind: "completed", run: completed, stats: { ...stats, usersRead: committedRead } };
  };

  const freshStats = (): RunStats => ({ pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0, counters: {}, skipped: [] });

  try {
    // Decide what to do with runs that stopped: resume the newest if it can be, abandon the rest.
    const resumeWithinInMs = control.resumeWithinInMs ?? DEFAULT_RESUME_WITHIN_IN_MS;
    const unfinished: TRun[] = [];
    for await (const run of sink.listUnfinishedRuns()) unfinished.push(run);
    let resumable: TRun | undefined;
    for (const run of unfinished) {
      const why = resumable ? "a newer stopped run was resumed instead" : whyNotResumable(run, deps.select, sink.partitionCount, resumeWithinInMs);
      if (why === undefined) {
        resumable = run;
        continue;
      }
      logger.warn(`Run ${run.runId} (${run.status}) is abandoned: ${why}. Its partial data is deleted by retention.`);
      await sink.abandonRun(run, `Abandoned: ${why}.`, { lease });
    }

    let result: PassResult | undefined;
    let resumed = false;
    if (resumable) {
      const checkpoint = resumable.checkpoint!;
      const run = await sink.resumeRun(resumable, { lease });
      const stats: RunStats = {
        pages: run.stats.pages,
        usersRead: run.stats.usersRead,
        entitiesWritten: run.stats.entitiesWritten,
        transactions: run.stats.transactions,
        counters: { ...run.stats.counters, resumes: (run.stats.counters.resumes ?? 0) + 1 },
        skipped: [...(run.stats.skipped ?? [])],
      };
      resumed = true;
      logger.info(
        `Resuming run ${run.runId} from its checkpoint of ${checkpoint.at.toISOString()} (${formatCount(stats.pages, "page")}, ${formatCount(stats.entitiesWritten, "user")} written so far).`,
      );
      result = await pass(run, stats, checkpoint.nextLink, checkpoint.nextLink === undefined, [...(checkpoint.linkDigests ?? [])]);
      if (result.kind === "restart") {
        logger.warn(`Run ${result.run.runId} is abandoned and a new snapshot started: ${result.reason}.`);
        await sink.abandonRun(result.run, `Abandoned: ${result.reason}.`, { lease });
        resumed = false;
        result = undefined;
      }
    }
    if (result === undefined) {
      hardStop.signal.throwIfAborted();
      const run = await sink.startRun({ trigger: options.trigger, select: deps.select, abortSignal: hardStop.signal, lease });
      result = await pass(run, freshStats(), undefined, false);
    }
    if (result.kind === "restart") throw new UserSyncError("graph_request_failed", result.reason);

    const outcome: UserSyncResult<TRun> = { run: result.run, stats: result.stats, outcome: result.kind, resumed };
    if (result.kind === "paused") {
      outcome.pausedBecause = stopReason === "max_run_duration" ? "max_run_duration" : "aborted";
      logger.info(
        `Run ${result.run.runId} stopped at a checkpoint (${outcome.pausedBecause === "max_run_duration" ? "maximum run duration reached" : "asked to stop"}) after ${formatCount(result.stats.pages, "page")}; the next run continues it.`,
      );
      return outcome;
    }
    if (deps.retention && sink.deleteExpiredSnapshots) {
      try {
        outcome.retention = await sink.deleteExpiredSnapshots({ ...deps.retention, abortSignal: readStop.signal, lease });
        if (outcome.retention.deletedSnapshotIds.length > 0) {
          logger.info(`Retention deleted ${formatCount(outcome.retention.deletedSnapshotIds.length, "snapshot")} (${formatCount(outcome.retention.deletedEntities, "entity", "entities")}).`);
        }
      } catch (error) {
        if (isLeaseLoss(error)) throw leaseLost ?? lease.lost ?? error;
        // The snapshot is promoted already; retention continues on the next run.
        logger.warn(`Retention did not finish (the next run continues it): ${describeError(error)}`);
      }
    }
    return outcome;
  } finally {
    if (deadline) clearTimeout(deadline);
    await keeper?.stop();
    lease.signal.removeEventListener("abort", onLeaseSignal);
    external?.removeEventListener("abort", onExternalAbort);
    if (!leaseLost && !lease.lost && !heldByCaller) {
      try {
        await sink.releaseLease(lease);
      } catch (error) {
        logger.warn(`Could not release the writer lease (it expires by itself): ${describeError(error)}`);
      }
    }
  }
}

/** Why a stopped run cannot be resumed, or undefined when it can. */
export function whyNotResumable(run: SyncRunView, select: readonly string[], partitionCount: number, resumeWithinInMs: number, now: number = Date.now()): string | undefined {
  const checkpoint = run.checkpoint;
  if (!checkpoint) return "it stopped before committing its first page";
  const age = now - checkpoint.at.getTime();
  if (age > resumeWithinInMs) return `its last checkpoint is ${minutes(age)} old, over the ${minutes(resumeWithinInMs)} of USER_SYNC_RESUME_WITHIN_MINUTES (Graph page links do not last forever)`;
  if (run.select.join(",") !== select.join(",")) return "it read other properties (USER_SYNC_SELECT changed)";
  if (run.partitionCount !== partitionCount) return "it spread users over another partition count";
  return undefined;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
