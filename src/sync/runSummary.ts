import type { MirrorRunReason, MirrorRunRecord } from "../mirror/userMirrorClient.js";
import { describeError } from "../shared/errors.js";
import { formatCount } from "../shared/counts.js";
import { redact } from "../shared/redact.js";
import type { RunHandle, UserSyncResult } from "./snapshotPorts.js";

const number = new Intl.NumberFormat("en-US");
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The parts of a snapshot run's result a summary needs. */
export type SnapshotSummaryInput = Pick<UserSyncResult<RunHandle>, "run" | "stats" | "outcome" | "pausedBecause">;

/**
 * The one-line summary of a snapshot run that ended without an error. Only a completed run's
 * snapshot is the latest; a paused run stopped at a checkpoint and the next run continues it.
 */
export function formatSnapshotSummary(result: SnapshotSummaryInput, elapsedInMs: number): string {
  const { run, stats } = result;
  const counts = `${formatCount(stats.usersRead, "user")} in ${formatCount(stats.pages, "page")}, ${formatCount(stats.entitiesWritten, "entity", "entities")} in ${formatCount(stats.transactions, "transaction")}`;
  if (result.outcome === "paused") {
    const why = result.pausedBecause === "max_run_duration" ? "it reached its maximum run duration (--max-minutes or USER_SYNC_MAX_RUN_MINUTES)" : "it was asked to stop";
    return (
      `User sync paused at a checkpoint because ${why}: ${counts} so far, ${seconds(elapsedInMs)}; ` +
      `snapshot ${run.snapshotId} is not complete yet and the next run continues it (run ${run.runId}). The previous complete snapshot stays the latest.`
    );
  }
  return `User sync succeeded: ${counts}, ${seconds(elapsedInMs)}; snapshot ${run.snapshotId} is now the latest (run ${run.runId}).`;
}


const REASONS: Record<MirrorRunReason, string> = {
  firstRound: "first round",
  forced: "forced with --full",
  scheduled: "USER_SYNC_FULL_SCHEDULE",
  selectChanged: "USER_SYNC_SELECT changed",
  tokenExpired: "the delta token expired",
  tokenInvalid: "Graph: sync state invalid",
  tokenResyncRequired: "Graph: resync required",
  tokenMalformed: "Graph: badly formed token",
  tokenGone: "Graph asked for a full resync (410 Gone)",
  deltaLink: "saved delta link",
};

/** Why a mirror run was full (or incremental), in words. */
export function describeMirrorReason(reason: MirrorRunReason): string {
  return REASONS[reason] ?? reason;
}

/** The one-line summary of a successful mirror run. */
export function formatMirrorSummary(run: MirrorRunRecord): string {
  const took = run.endedAt ? `, ${seconds(run.endedAt.getTime() - run.startedAt.getTime())}` : "";
  const c = run.changes;
  const changes = `${number.format(c.added)} added, ${number.format(c.updated)} updated, ${number.format(c.restored)} restored, ${number.format(c.removed)} removed`;
  if (run.mode === "incremental") {
    return `Mirror updated incrementally: ${changes} (${number.format(c.unchanged)} unchanged) from ${formatCount(run.itemsRead, "change")} in ${formatCount(run.pages, "page")}${took} (run ${run.runId}).`;
  }
  if (run.round !== undefined) {
    // A full round in the snapshot's pass over /users (src/sync/onePassRound.ts).
    if (run.status === "paused") {
      return `Mirror full round (${describeMirrorReason(run.reason)}) paused with the snapshot: ${formatCount(run.usersWritten, "user")} written from ${formatCount(run.pages, "page")} in this run (mirror run ${run.runId}); the next run continues the round.`;
    }
    return (
      `Mirror full round (${describeMirrorReason(run.reason)}) in the snapshot's pass: ${formatCount(run.usersWritten, "user")} written from ${formatCount(run.pages, "page")}, ` +
      `${number.format(run.swept)} not seen and marked missing; ${changes}${took} (run ${run.runId}).` +
      (run.note ? ` ${run.note}` : "")
    );
  }
  return (
    `Mirror full round (${describeMirrorReason(run.reason)}): ${formatCount(run.usersWritten, "user")} written from ${formatCount(run.pages, "page")}, ` +
    `${number.format(run.swept)} not seen and marked missing; ${changes}${took} (run ${run.runId}).` +
    (run.pages > 1 ? " Graph's delta query may return a user on two pages: repeats are counted in the users written, and the mirror holds every user once." : "")
  );
}

/** The one-line summary of a failed run; the message already says what to fix. */
export function formatFailureSummary(error: unknown): string {
  return redact(`User sync failed: ${describeError(error)}`);
}
