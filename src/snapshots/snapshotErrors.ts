/**
 * Why a snapshot cannot be read, in one place (code and message keyed by what happened, one factory):
 * `snapshot_not_found` when it is not a complete, kept snapshot; `read_incomplete` when it stopped
 * being one while it was read.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";
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

type SnapshotFailure = SnapshotProblem["kind"];
type FactsOf<K extends SnapshotFailure> = Extract<SnapshotProblem, { kind: K }>;

/** Each problem's code and message. */
export const SnapshotFailures: { [K in SnapshotFailure]: { code: UserSyncErrorCode; message: (facts: FactsOf<K>) => string } } = {
  notAnId: {
    code: "snapshot_not_found",
    message: (p) => `"${p.snapshotId.slice(0, 80)}" is not a snapshot id (they look like 20261121T023300123Z-a1b2c3). List them with: entra-user-sync runs.`,
  },
  noSuchSnapshot: { code: "snapshot_not_found", message: (p) => `There is no snapshot ${p.snapshotId}. ${LIST_RUNS}` },
  incomplete: {
    code: "snapshot_not_found",
    message: (p) => `Snapshot ${p.snapshotId} is incomplete: its run is ${p.status}. Use a complete snapshot (for example the latest).`,
  },
  deleted: { code: "snapshot_not_found", message: (p) => `Snapshot ${p.snapshotId} was deleted by retention on ${p.deletedAt.toISOString()}. ${RETENTION_FIX}` },
  partitionCountsDiffer: {
    code: "snapshot_not_found",
    message: (p) =>
      `Snapshots ${p.fromId} and ${p.toId} are spread over different partition counts (${p.from} and ${p.to}), so they cannot be compared partition by partition. Compare snapshots written with the same partition count, or export both and compare the files.`,
  },
  changedWhileRead: {
    code: "read_incomplete",
    message: (p) => {
      const why = p.deletedAt ? `retention began deleting it at ${p.deletedAt.toISOString()}` : "its run record changed";
      return `Snapshot ${p.snapshotId} changed while it was being read (${why}), so what was printed may be incomplete: do not use it. Read a newer snapshot (export --latest), or keep snapshots longer with SNAPSHOT_RETENTION_COUNT, SNAPSHOT_RETENTION_DAYS or SNAPSHOT_RETENTION_GRACE_MINUTES.`;
    },
  },
};

export function createSnapshotError(problem: SnapshotProblem): UserSyncError {
  const entry = SnapshotFailures[problem.kind] as { code: UserSyncErrorCode; message: (facts: SnapshotProblem) => string };
  const snapshotId = "snapshotId" in problem ? problem.snapshotId.slice(0, 80) : undefined;
  return new UserSyncError(entry.code, entry.message(problem), { details: { problem: problem.kind, ...(snapshotId ? { snapshotId } : {}) } });
}

/** Throws `snapshot_not_found` (notAnId) unless `snapshotId` has the shape of a snapshot id. */
export function assertSnapshotId(snapshotId: string): void {
  if (!isRunId(snapshotId)) throw createSnapshotError({ kind: "notAnId", snapshotId });
}
