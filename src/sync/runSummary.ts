import { describeError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import type { RunHandle, RunStats } from "./userSyncRun.js";

const number = new Intl.NumberFormat("en-US");

/** The one-line summary the timer logs and the command line prints after a successful run. */
export function formatSuccessSummary(run: RunHandle, stats: RunStats, elapsedInMs: number): string {
  return (
    `User sync succeeded: ${number.format(stats.usersRead)} users in ${number.format(stats.pages)} pages, ` +
    `${number.format(stats.entitiesWritten)} entities in ${number.format(stats.transactions)} transactions, ` +
    `${(elapsedInMs / 1000).toFixed(1)} s; snapshot ${run.snapshotId} is now the latest (run ${run.runId}).`
  );
}

/** The one-line summary of a failed run; the message already says what to fix. */
export function formatFailureSummary(error: unknown): string {
  return redact(`User sync failed: ${describeError(error)}`);
}
