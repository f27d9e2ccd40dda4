import type { GraphUser, UserPage } from "../graph/types.js";
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";

/** What a run counts; stored with the run record. */
export interface RunStats {
  pages: number;
  usersRead: number;
  entitiesWritten: number;
  transactions: number;
  /** Named counts from the stages (e.g. Graph throttles, retries, waitedInMs); stored with the run. */
  counters: Record<string, number>;
}

/** The parts of the run record the sync needs. */
export interface RunHandle {
  runId: string;
  snapshotId: string;
}

/** The reading stage, as the sync sees it. */
export interface UserPageSource {
  /** `counters` is this run's bag of named counts: the source adds to it as it reads. */
  listUserPages(options?: { abortSignal?: AbortSignal; counters?: Record<string, number> }): AsyncIterable<UserPage>;
}

/** The storage stage, as the sync sees it. */
export interface SnapshotSink<TRun extends RunHandle> {
  startRun(options: { trigger: SyncTrigger; select: readonly string[]; abortSignal?: AbortSignal }): Promise<TRun>;
  upsertUsers(snapshotId: string, users: readonly GraphUser[], options?: { abortSignal?: AbortSignal }): Promise<{ entitiesWritten: number; transactions: number }>;
  completeRun(run: TRun, stats: RunStats): Promise<TRun>;
  failRun(run: TRun, error: string, stats: RunStats): Promise<TRun>;
}

export type SyncTrigger = "timer" | "cli";

export interface UserSyncDependencies<TRun extends RunHandle> {
  source: UserPageSource;
  sink: SnapshotSink<TRun>;
  select: readonly string[];
  logger: Logger;
}

export interface RunUserSyncOptions {
  trigger: SyncTrigger;
  abortSignal?: AbortSignal;
  /** Called after every committed page. */
  onProgress?: (stats: Readonly<RunStats>) => void;
}

export interface UserSyncResult<TRun extends RunHandle> {
  run: TRun;
  stats: RunStats;
}

/**
 * One sync run: reads every page of users and writes it into a new snapshot, then promotes the
 * snapshot to latest. Writing page N overlaps reading page N+1; at most two pages are in memory.
 * A run that fails is recorded as failed and never becomes the latest snapshot; the error is rethrown.
 */
export async function runUserSync<TRun extends RunHandle>(
  deps: UserSyncDependencies<TRun>,
  options: RunUserSyncOptions,
): Promise<UserSyncResult<TRun>> {
  const { source, sink, logger } = deps;
  const abortSignal = options.abortSignal;
  const run = await sink.startRun({ trigger: options.trigger, select: deps.select, ...(abortSignal ? { abortSignal } : {}) });
  const stats: RunStats = { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0, counters: {} };
  let pendingWrite: Promise<void> | undefined;
  let writeFailure: { error: unknown } | undefined;

  const write = (page: UserPage): Promise<void> =>
    sink.upsertUsers(run.snapshotId, page.users, abortSignal ? { abortSignal } : {}).then(
      (written) => {
        stats.pages += 1;
        stats.entitiesWritten += written.entitiesWritten;
        stats.transactions += written.transactions;
        options.onProgress?.({ ...stats, counters: { ...stats.counters } });
      },
      (error: unknown) => {
        writeFailure = { error };
      },
    );

  try {
    for await (const page of source.listUserPages({ counters: stats.counters, ...(abortSignal ? { abortSignal } : {}) })) {
      stats.usersRead += page.users.length;
      // Wait for the previous page's writes before starting this one: bounded memory, and the
      // reader fetches the next page while this one is written.
      if (pendingWrite) await pendingWrite;
      if (writeFailure) throw writeFailure.error;
      pendingWrite = write(page);
    }
    if (pendingWrite) await pendingWrite;
    if (writeFailure) throw writeFailure.error;
  } catch (error) {
    // Let an in-flight write settle before recording the failure, so the record's counts are final.
    if (pendingWrite) await pendingWrite;
    const reason = redact(describeError(error));
    try {
      await sink.failRun(run, reason, stats);
    } catch (recordError) {
      logger.error(`Could not record run ${run.runId} as failed: ${describeError(recordError)}`);
    }
    throw error;
  }
  const completed = await sink.completeRun(run, stats);
  return { run: completed, stats };
}
