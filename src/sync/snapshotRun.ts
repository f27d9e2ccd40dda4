/**
 * One snapshot run, the only writer at a time (a lease): resumes a stopped run's snapshot from its
 * checkpoint when it can (else abandons it and starts a new snapshot), reads every remaining page
 * and writes it, checkpointing after each committed page, then promotes the snapshot to latest and
 * applies retention. Writing page N overlaps reading page N+1; at most two pages are in memory.
 * At the maximum run duration (or on abort) it stops at the last checkpoint (paused). A run that
 * fails is recorded as failed and never becomes the latest snapshot; the error is rethrown. A run
 * whose lease is lost stops at once and records nothing more (`lease_lost`).
 */
import type { UserPage } from "../graph/types.js";
import { formatCount } from "../shared/counts.js";
import { describeError, isUserSyncError, UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import {
  DEFAULT_RESUME_WITHIN_IN_MS,
  MAX_SKIPPED_RECORDED,
  type RunLeaseView,
  type RunStats,
  type RunUserSyncUnderLeaseOptions,
  type SkippedUser,
  type SnapshotMirrorRound,
  type SyncRunView,
  type UserSyncDependencies,
  type UserSyncResult,
} from "./snapshotPorts.js";
import { isAbortError } from "../shared/abort.js";
import { RunUnderLease } from "./runUnderLease.js";

/** Skipped users logged one by one per run; the rest are only counted. */
const MAX_SKIPPED_LOGGED = 10;

type StopReason = "max_run_duration" | "aborted" | "lease_lost";
type PassResult<TRun> = { kind: "completed" | "paused"; run: TRun; stats: RunStats } | { kind: "restart"; run: TRun; reason: string };

/** Runs one snapshot run to its end (completed, paused, or thrown). */
export function runSnapshot<TRun extends SyncRunView, TLease extends RunLeaseView>(
  deps: UserSyncDependencies<TRun, TLease>,
  options: RunUserSyncUnderLeaseOptions<TLease>,
): Promise<UserSyncResult<TRun>> {
  return new SnapshotRun(deps, options).run();
}

export class SnapshotRun<TRun extends SyncRunView, TLease extends RunLeaseView> {
  readonly #deps: UserSyncDependencies<TRun, TLease>;
  readonly #options: RunUserSyncUnderLeaseOptions<TLease>;
  /** Reads stop on any stop reason; writes only on abort or a lost lease (a page being written at the deadline is finished and checkpointed). */
  readonly #readStop = new AbortController();
  readonly #hardStop = new AbortController();
  #stopReason: StopReason | undefined;
  #leaseLost: unknown;
  #lease!: TLease;
  #skippedLogged = 0;
  /** Whether the companion (the mirror's full round) rides on the current run. */
  #attached = false;
  /** Why a stopped run that carried the mirror's round was abandoned (the new run's round says it restarted). */
  #abandonedRound: string | undefined;
  /** The mirror round an abandoned run carried: the new run starts the round again. */
  #carriedRound: SnapshotMirrorRound | undefined;

  constructor(deps: UserSyncDependencies<TRun, TLease>, options: RunUserSyncUnderLeaseOptions<TLease>) {
    this.#deps = deps;
    this.#options = options;
  }

  async run(): Promise<UserSyncResult<TRun>> {
    const { sink, logger } = this.#deps;
    const control = this.#deps.runControl ?? {};
    // The deadline counts from the invocation's start when the caller knows it (RunUserSyncUnderLeaseOptions.invokedAt).
    const startedAt = this.#options.invokedAt?.getTime() ?? Date.now();
    const external = this.#options.abortSignal;
    external?.throwIfAborted();
    // The lease: the caller's (held and kept by its own lifecycle), or taken, kept and released here.
    const held = this.#options.lease
      ? undefined
      : await RunUnderLease.begin<TLease>({
          store: sink,
          logger,
          acquire: () =>
            sink.acquireLease({
              trigger: this.#options.trigger,
              ...(control.leaseDurationInMs !== undefined ? { leaseDurationInMs: control.leaseDurationInMs } : {}),
              abortSignal: external,
            }),
        });
    this.#lease = this.#options.lease ?? held!.lease;
    const lease = this.#lease;
    const onExternalAbort = () => this.#requestStop("aborted");
    external?.addEventListener("abort", onExternalAbort);
    const deadline =
      control.maxRunDurationInMs !== undefined ? setTimeout(() => this.#requestStop("max_run_duration"), Math.max(0, control.maxRunDurationInMs - (Date.now() - startedAt))) : undefined;
    const onLeaseSignal = () => this.#onLeaseLost(lease.signal.reason);
    lease.signal.addEventListener("abort", onLeaseSignal);
    if (lease.signal.aborted) onLeaseSignal();
    try {
      return await this.#runUnderLease();
    } finally {
      if (deadline) clearTimeout(deadline);
      if (this.#leaseLost) held?.markLost();
      await held?.end();
      lease.signal.removeEventListener("abort", onLeaseSignal);
      external?.removeEventListener("abort", onExternalAbort);
    }
  }

  async #runUnderLease(): Promise<UserSyncResult<TRun>> {
    const { sink, logger } = this.#deps;
    const lease = this.#lease;
    const resumable = await this.#settleStoppedRuns();
    let result: PassResult<TRun> | undefined;
    let resumed = false;
    let restartedBecause: string | undefined = this.#abandonedRound;
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
      this.#attached = (await this.#deps.companion?.attach(run, { resumed: true })) ?? false;
      this.#deps.pageTap?.attach(run, { resumed: true });
      logger.info(
        `Resuming run ${run.runId} from its checkpoint of ${checkpoint.at.toISOString()} (${formatCount(stats.pages, "page")}, ${formatCount(stats.entitiesWritten, "user")} written so far).`,
      );
      result = await this.#pass(run, stats, checkpoint.nextLink, checkpoint.nextLink === undefined, [...(checkpoint.linkDigests ?? [])]);
      if (result.kind === "restart") {
        logger.warn(`Run ${result.run.runId} is abandoned and a new snapshot started: ${result.reason}.`);
        await sink.abandonRun(result.run, `Abandoned: ${result.reason}.`, { lease });
        restartedBecause = result.reason;
        if (result.run.mirrorRound) this.#carriedRound = result.run.mirrorRound;
        resumed = false;
        result = undefined;
      }
    }
    if (result === undefined) {
      this.#hardStop.signal.throwIfAborted();
      const companion = this.#deps.companion;
      // A round that an abandoned run carried starts again with the new run, whatever else is due.
      const restarts = this.#carriedRound;
      let mirrorRound: SnapshotMirrorRound | undefined;
      let prepareFailure: { error: unknown } | undefined;
      try {
        mirrorRound = companion && (companion.wanted || restarts) ? await companion.prepare({ abortSignal: this.#hardStop.signal, ...(restarts ? { restarts } : {}) }) : undefined;
      } catch (error) {
        if (this.#stopReason !== undefined || this.#isLeaseLoss(error)) throw this.#isLeaseLoss(error) ? this.#lostError(error) : error;
        prepareFailure = { error };
      }
      const run = await sink.startRun({ trigger: this.#options.trigger, select: this.#deps.select, ...(mirrorRound ? { mirrorRound } : {}), abortSignal: this.#hardStop.signal, lease });
      if (prepareFailure) {
        // The round's first request (sync from now) failed: the snapshot run is recorded as failed
        // with that error, so `runs` and the telemetry show what went wrong.
        await this.#recordFailure(run, prepareFailure.error, { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0, counters: { ...companion?.counters }, skipped: [] });
        throw prepareFailure.error;
      }
      this.#attached = (await companion?.attach(run, { resumed: false, ...(restartedBecause !== undefined ? { restartedBecause } : {}) })) ?? false;
      this.#deps.pageTap?.attach(run, { resumed: false });
      result = await this.#pass(run, { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0, counters: {}, skipped: [] }, undefined, false);
    }
    if (result.kind === "restart") throw new UserSyncError("graph_request_failed", result.reason);

    const outcome: UserSyncResult<TRun> = { run: result.run, stats: result.stats, outcome: result.kind, resumed };
    if (result.kind === "paused") {
      outcome.pausedBecause = this.#stopReason === "max_run_duration" ? "max_run_duration" : "aborted";
      logger.info(
        `Run ${result.run.runId} stopped at a checkpoint (${outcome.pausedBecause === "max_run_duration" ? "maximum run duration reached" : "asked to stop"}) after ${formatCount(result.stats.pages, "page")}; the next run continues it.`,
      );
      return outcome;
    }
    const retention = await this.#applyRetention();
    if (retention) outcome.retention = retention;
    return outcome;
  }

  /** Decides what to do with runs that stopped: the newest one that can be resumed is returned, the rest are abandoned. */
  async #settleStoppedRuns(): Promise<TRun | undefined> {
    const { sink, logger } = this.#deps;
    const resumeWithinInMs = this.#deps.runControl?.resumeWithinInMs ?? DEFAULT_RESUME_WITHIN_IN_MS;
    const unfinished: TRun[] = [];
    for await (const run of sink.listUnfinishedRuns()) unfinished.push(run);
    let resumable: TRun | undefined;
    for (const run of unfinished) {
      const why = resumable ? "a newer stopped run was resumed instead" : whyNotResumable(run, this.#deps.select, sink.partitionCount, resumeWithinInMs);
      if (why === undefined) {
        resumable = run;
        continue;
      }
      logger.warn(`Run ${run.runId} (${run.status}) is abandoned: ${why}. Its partial data is deleted by retention.`);
      if (run.mirrorRound && !resumable && this.#abandonedRound === undefined) {
        this.#abandonedRound = `run ${run.runId} was abandoned: ${why}`;
        this.#carriedRound = run.mirrorRound;
      }
      await sink.abandonRun(run, `Abandoned: ${why}.`, { lease: this.#lease });
    }
    return resumable;
  }

  /** Reads the pages from `startLink` (or the first) and writes each, one page ahead; then pauses, completes, or asks for a restart. */
  async #pass(initial: TRun, stats: RunStats, startLink: string | undefined, readComplete: boolean, committedLinks: string[] = []): Promise<PassResult<TRun>> {
    const { source, sink } = this.#deps;
    const lease = this.#lease;
    const progress = { run: initial, committedRead: stats.usersRead, failure: undefined as { error: unknown } | undefined };
    let pagesThisPass = 0;
    let stoppedEarly = false;
    let pendingWrite: Promise<void> | undefined;
    if (!readComplete) {
      try {
        // A resumed pass also stops at a link its earlier part read (a cycle across the pause).
        const pages = source.listUserPages({
          counters: stats.counters,
          abortSignal: this.#readStop.signal,
          ...(startLink !== undefined ? { startLink, seenLinks: committedLinks } : {}),
        });
        for await (const page of pages) {
          pagesThisPass += 1;
          stats.usersRead += page.users.length;
          // Wait for the previous page's writes before starting this one: bounded memory, and the
          // reader fetches the next page while this one is written.
          if (pendingWrite) await pendingWrite;
          if (progress.failure) throw progress.failure.error;
          if (this.#readStop.signal.aborted) {
            stoppedEarly = true;
            break;
          }
          // Start the write on the next turn of the event loop: the loop first asks for the next
          // page, so its request is on the wire before this page's (synchronous) encoding runs.
          pendingWrite = nextTurn().then(() => this.#writePage(page, stats, progress, committedLinks));
        }
        if (pendingWrite) await pendingWrite;
        if (progress.failure) throw progress.failure.error;
      } catch (error) {
        // Let an in-flight write settle before recording anything, so the record's counts are final.
        if (pendingWrite) await pendingWrite;
        // Another run holds the lease now and may be continuing this snapshot: touch nothing.
        if (this.#leaseLost || this.#isLeaseLoss(error)) throw this.#lostError(error);
        const failure = progress.failure?.error ?? error;
        if (this.#stopReason !== undefined && (isAbortError(error) || isAbortError(failure))) {
          stoppedEarly = true;
        } else if (startLink !== undefined && pagesThisPass === 0 && isRejectedLink(error)) {
          return { kind: "restart", run: progress.run, reason: `Graph refused its saved page link (${describeError(error)})` };
        } else {
          await this.#recordFailure(progress.run, failure, { ...stats, usersRead: Math.max(stats.usersRead, progress.committedRead) });
          throw failure;
        }
      }
    }
    if (this.#leaseLost) throw this.#leaseLost;
    const final = { ...stats, usersRead: progress.committedRead };
    // The companion (the mirror's sweep and delta link), then the run's other parts (the groups),
    // finish before the snapshot is promoted: a run stopped in them is continued with every page
    // read, and finishes them again (idempotent).
    if (!stoppedEarly && this.#attached) stoppedEarly = await this.#finishBeforePromotion(progress, final, async () => (await this.#deps.companion!.complete(), progress.run));
    const parts = this.#deps.beforePromotion;
    // A part's own checkpoints (the groups pass's page links) are the run's: saved like a page's, and kept when the run pauses.
    const checkpoint = async (run: TRun) => (progress.run = await sink.checkpointRun(run, undefined, final, { lease, linkDigests: run.checkpoint?.linkDigests ?? [] }));
    if (!stoppedEarly && parts) stoppedEarly = await this.#finishBeforePromotion(progress, final, () => parts(progress.run, { abortSignal: this.#readStop.signal, checkpoint }));
    if (stoppedEarly) {
      if (this.#attached) await this.#deps.companion!.stop({ paused: true });
      return { kind: "paused", run: await sink.pauseRun(progress.run, { lease }), stats: final };
    }
    return { kind: "completed", run: await sink.completeRun(progress.run, final, { lease }), stats: final };
  }

  /**
   * One step that finishes before promotion; it returns the run record to promote. True when it
   * stopped because the run was asked to stop (the run pauses); a failure is recorded and thrown.
   */
  async #finishBeforePromotion(progress: { run: TRun }, final: RunStats, step: () => Promise<TRun>): Promise<boolean> {
    try {
      progress.run = await step();
      return false;
    } catch (error) {
      if (this.#leaseLost || this.#isLeaseLoss(error)) throw this.#lostError(error);
      if (this.#stopReason !== undefined && isAbortError(error)) return true;
      await this.#recordFailure(progress.run, error, final);
      throw error;
    }
  }

  /** Writes one page and checkpoints it; a failure is kept for the reading loop to throw. */
  async #writePage(page: UserPage, stats: RunStats, progress: { run: TRun; committedRead: number; failure: { error: unknown } | undefined }, committedLinks: string[]): Promise<void> {
    const { sink } = this.#deps;
    const lease = this.#lease;
    try {
      // The snapshot and the companion (the mirror's full round) write the page side by side; the
      // checkpoint waits for both. allSettled: a failure of one is thrown after the other settled.
      const [snapshotWrite, companionWrite, linksWrite] = await Promise.allSettled([
        sink.upsertUsers(progress.run.snapshotId, page.users, { abortSignal: this.#hardStop.signal, lease }),
        this.#attached ? this.#deps.companion!.page(page.users, page.managers) : Promise.resolve(),
        this.#deps.pageLinks?.(progress.run.snapshotId, page, { abortSignal: this.#hardStop.signal, lease }),
      ]);
      if (snapshotWrite.status === "rejected") throw snapshotWrite.reason;
      if (companionWrite.status === "rejected") throw companionWrite.reason;
      if (linksWrite.status === "rejected") throw linksWrite.reason;
      const written = snapshotWrite.value;
      await this.#deps.pageTap?.page(page.users, written.skipped);
      stats.pages += 1;
      stats.entitiesWritten += written.entitiesWritten;
      stats.transactions += written.transactions;
      progress.committedRead += page.users.length;
      this.#recordSkipped(stats, written.skipped);
      if (page.linkDigest !== undefined) committedLinks.push(page.linkDigest);
      progress.run = await sink.checkpointRun(progress.run, page.nextLink, { ...stats, usersRead: progress.committedRead }, { lease, linkDigests: committedLinks });
      this.#options.onProgress?.({ ...stats, counters: { ...stats.counters }, skipped: [...stats.skipped] });
    } catch (error) {
      if (this.#isLeaseLoss(error)) this.#onLeaseLost(error);
      progress.failure ??= { error };
    }
  }

  async #recordFailure(run: TRun, failure: unknown, stats: RunStats): Promise<void> {
    if (this.#attached) {
      try {
        await this.#deps.companion!.stop({ paused: false, error: failure });
      } catch (stopError) {
        if (this.#isLeaseLoss(stopError)) throw this.#lostError(stopError);
        this.#deps.logger.error(`Could not record the mirror's round as failed: ${describeError(stopError)}`);
      }
    }
    try {
      await this.#deps.sink.failRun(run, redact(describeError(failure)), stats, { lease: this.#lease });
    } catch (recordError) {
      if (this.#isLeaseLoss(recordError)) throw this.#lostError(recordError);
      this.#deps.logger.error(`Could not record run ${run.runId} as failed: ${describeError(recordError)}`);
    }
  }

  /** After promotion: retention. Its failure does not fail the run (the next run continues it), a lost lease does. */
  async #applyRetention(): Promise<UserSyncResult<TRun>["retention"]> {
    const { sink, logger, retention } = this.#deps;
    if (!retention || !sink.deleteExpiredSnapshots) return undefined;
    try {
      const result = await sink.deleteExpiredSnapshots({ ...retention, abortSignal: this.#readStop.signal, lease: this.#lease });
      if (result.deletedSnapshotIds.length > 0) {
        logger.info(`Retention deleted ${formatCount(result.deletedSnapshotIds.length, "snapshot")} (${formatCount(result.deletedEntities, "entity", "entities")}).`);
      }
      return result;
    } catch (error) {
      if (this.#isLeaseLoss(error)) throw this.#lostError(error);
      logger.warn(`Retention did not finish (the next run continues it): ${describeError(error)}`);
      return undefined;
    }
  }

  #recordSkipped(stats: RunStats, skipped: readonly SkippedUser[]): void {
    if (skipped.length === 0) return;
    const { logger } = this.#deps;
    stats.counters.skippedUsers = (stats.counters.skippedUsers ?? 0) + skipped.length;
    for (const user of skipped) {
      if (stats.skipped.length < MAX_SKIPPED_RECORDED) stats.skipped.push(user);
      if (this.#skippedLogged++ < MAX_SKIPPED_LOGGED) logger.warn(`Skipped a user that cannot be stored: ${redact(user.reason)}`);
      else if (this.#skippedLogged === MAX_SKIPPED_LOGGED + 1) logger.warn("More users were skipped; the run record lists the first ones and counts them all (counters.skippedUsers).");
    }
  }

  #requestStop(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#readStop.abort();
    if (reason !== "max_run_duration") this.#hardStop.abort();
  }

  #onLeaseLost(error: unknown): void {
    this.#leaseLost ??= this.#lease.lost ?? error;
    this.#requestStop("lease_lost");
  }

  #isLeaseLoss(error: unknown): boolean {
    return isUserSyncError(error, "lease_lost") || this.#lease.lost !== undefined;
  }

  #lostError(error: unknown): unknown {
    return this.#leaseLost ?? this.#lease.lost ?? error;
  }
}


/** Graph refused a saved link (expired or foreign skiptoken): start over cleanly. */
function isRejectedLink(error: unknown): boolean {
  if (!isUserSyncError(error)) return false;
  if (error.code === "graph_untrusted_next_link") return true;
  const status = Number(error.details.status);
  return error.code === "graph_request_failed" && (status === 400 || status === 404 || status === 410);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

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
