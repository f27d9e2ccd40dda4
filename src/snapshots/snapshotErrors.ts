/**
 * Why a snapshot cannot be read, in one place (messages keyed by what happened, one factory):
 * `snapshot_not_found` when it is not a complete, kept snapshot; `read_incomplete` when it stopped
 * being one while it was read.
 */
import { UserSyncError } from "../shared/errors.js";
import { isRunId } from "../tables/keys.js";

const LIST_RUNS = "List runs and their snapshots with: entra-user-sync runs.";
const RETENTION_FIX = "Raise SNAPSHOT_RETENTION_COUNT or SNAPSHOT_RETENTION_DAYS to keep more.";

export type SnapshotProblem =
  | { kind: "notAnId"; snapshotId: string }
  | { kind: "noSuchSnapshot"; snapshotId: string }
  | { kind: "incomplete"; snapshotId: string; status: string }
  | { kind: "deleted"; snapshotId: string; deletedAt: Date }
  | { kind: "partitionCountsDiffer"; fromId: string; toId: string; from: number; to: number }
  | { kind: "changedWhileRead"; snapshotId: string; deletedAt?: Date | undefined };

function message(problem: SnapshotProblem): string {
  switch (problem.kind) {
    case "notAnId":
      return `"${problem.snapshotId.slice(0, 80)}" is not a snapshot id (they look like 20261121T023300123Z-a1b2c3). List them with: entra-user-sync runs.`;
    case "noSuchSnapshot":
      return `There is no snapshot ${problem.snapshotId}. ${LIST_RUNS}`;
    case "incomplete":
      return `Snapshot ${problem.snapshotId} is incomplete: its run is ${problem.status}. Use a complete snapshot (for example the latest).`;
    case "deleted":
      return `Snapshot ${problem.snapshotId} was deleted by retention on ${problem.deletedAt.toISOString()}. ${RETENTION_FIX}`;
    case "partitionCountsDiffer":
      return `Snapshots ${problem.fromId} and ${problem.toId} are spread over different partition counts (${problem.from} and ${problem.to}), so they cannot be compared partition by partition. Compare snapshots written with the same partition count, or export both and compare the files.`;
    case "changedWhileRead": {
      const why = problem.deletedAt ? `retention began deleting it at ${problem.deletedAt.toISOString()}` : "its run record changed";
      return `Snapshot ${problem.snapshotId} changed while it was being read (${why}), so what was printed may be incomplete: do not use it. Read a newer snapshot (export --latest), or keep snapshots longer with SNAPSHOT_RETENTION_COUNT, SNAPSHOT_RETENTION_DAYS or SNAPSHOT_RETENTION_GRACE_MINUTES.`;
    }
  }
}

export function createSnapshotError(problem: SnapshotProblem): UserSyncError {
  const code = problem.kind === "changedWhileRead" ? "read_incomplete" : "snapshot_not_found";
  const snapshotId = "snapshotId" in problem ? problem.snapshotId.slice(0, 80) : undefined;
  return new UserSyncError(code, message(problem), { details: { problem: problem.kind, ...(snapshotId ? { snapshotId } : {}) } });
}

/** Throws `snapshot_not_found` (notAnId) unless `snapshotId` has the shape of a snapshot id. */
export function assertSnapshotId(snapshotId: string): void {
  if (!isRunId(snapshotId)) throw createSnapshotError({ kind: "notAnId", snapshotId });
}
