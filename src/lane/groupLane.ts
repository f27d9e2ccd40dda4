/**
 * Groups and memberships in the analytics lane (USER_SYNC_GROUPS=true; docs/analytics.md, "Groups
 * and memberships"):
 * - a promoted snapshot whose run kept groups gets two more sets beside its users',
 *   `tenant=<id>/object=groups/snapshot_time=<time>/` and `object=memberships/…`, read back from the
 *   snapshot's groups table and its `members` edges (one page of rows in memory at a time). They are
 *   written, each with its own manifest and `_SUCCESS`, before the users' set is sealed: the users'
 *   `_SUCCESS` is the snapshot's last file (docs/decisions.md).
 * - each succeeded run of the groups' mirror that changed a group gets
 *   `changes/tenant=<id>/object=groups/run_time=<time>/`, and one that read membership changes
 *   `changes/tenant=<id>/object=memberships/run_time=<time>/`.
 * Same contract as the users' sets (laneSet.ts): deterministic names and bytes, fenced by the lease.
 */
import { DEFAULT_GROUP_SELECT } from "../configuration/defaults.js";
import type { GraphObject } from "../kinds/objectKind.js";
import type { MembershipChangeRecord } from "../mirror/membershipChangeLog.js";
import type { MirrorRunRecord } from "../mirror/mirrorRecords.js";
import type { OperationOptions } from "../shared/abort.js";
import type { SyncRunRecord } from "../snapshots/runRecords.js";
import type { StoredEdge } from "../tables/edgeTables.js";
import { changedObjects, changeRows, changeSetRuns, changeStamps, writeRunSet, type ChangeSetOf, type LaneChangeSource, type LaneWriteContext } from "./changeLane.js";
import { changeLaneColumns, groupLaneColumns, membershipChangeLaneColumns, membershipLaneColumns, stampedRows } from "./laneColumns.js";
import { snapshotSetPrefix, writeLaneSet, type LaneSetResult } from "./laneSet.js";

/** What the lane reads of the groups (the group stores, src/app/groupStores.ts, in production). */
export interface LaneGroupSource {
  /** A snapshot's groups, ascending by id (as export --groups reads them). */
  snapshots: { listSnapshotObjectsById(snapshotId: string, options: OperationOptions): AsyncIterable<GraphObject> };
  /** A scope's (a snapshot id's) `members` edges, by group then member (as export --memberships reads them). */
  edges: { listEdges(scope: string, options: OperationOptions): AsyncIterable<StoredEdge> };
  /** The groups' mirror: its runs and their group changes. */
  mirror: LaneChangeSource;
  /** A groups' mirror run's membership changes (joined, left). */
  memberships: { listChanges(runId: string, options: OperationOptions): AsyncIterable<MembershipChangeRecord> };
}

/** The groups' columns: their fixed selection (the groups' delta reader's $select, `id` first), as export --groups writes them. */
export const LANE_GROUP_SELECT: readonly string[] = DEFAULT_GROUP_SELECT;

/** One set the lane wrote (or found complete), with where it is. */
export interface WrittenGroupSet {
  object: "groups" | "memberships";
  prefix: string;
  set: LaneSetResult;
}

/** A stored edge as a membership row's values. */
const membershipOf = (edge: StoredEdge) => ({ groupId: edge.sourceId, memberId: edge.targetId, memberType: edge.targetType });

/** A membership change as a row's values. */
const membershipChangeOf = (c: MembershipChangeRecord) => ({ change: c.change, reason: c.reason ?? null, graphReason: c.graphReason ?? null, at: c.at, groupId: c.groupId, memberId: c.memberId, memberType: c.memberType });

/**
 * A snapshot's groups and memberships sets, when its run kept groups (none otherwise): the
 * memberships', then the groups', each sealed. The caller seals the users' set after them.
 */
export async function writeSnapshotGroupSets(run: SyncRunRecord, context: LaneWriteContext, groups: LaneGroupSource): Promise<WrittenGroupSet[]> {
  if (run.groups?.status !== "succeeded") return [];
  const { tenantId, abortSignal } = context;
  const stamps = { _snapshotTime: run.startedAt, _tenantId: tenantId, _runId: run.runId };
  const sets = [
    { object: "memberships" as const, columns: membershipLaneColumns(), rows: stampedRows(groups.edges.listEdges(run.snapshotId, { abortSignal }), stamps, membershipOf) },
    { object: "groups" as const, columns: groupLaneColumns(LANE_GROUP_SELECT), rows: stampedRows(groups.snapshots.listSnapshotObjectsById(run.snapshotId, { abortSignal }), stamps) },
  ];
  const written: WrittenGroupSet[] = [];
  for (const { object, columns, rows } of sets) {
    const prefix = snapshotSetPrefix(tenantId, object, run.startedAt);
    const manifest = { formatVersion: 1 as const, kind: "snapshot" as const, tenantId, object, time: run.startedAt.toISOString(), runId: run.runId, columns };
    const set = await writeLaneSet(context.container, context.settings, { prefix, manifest, rows, fence: context.lease, rowsPerGroup: context.rowsPerGroup, groupsPerPart: context.groupsPerPart, abortSignal });
    written.push({ object, prefix, set });
  }
  return written;
}

/** A groups' mirror run that changed a group, or read membership changes (a full round's may all be unchanged: its set is then empty). */
function changedGroupsOrMemberships(run: MirrorRunRecord): boolean {
  return changedObjects(run) || (run.counters.membershipChanges ?? 0) > 0;
}

/** The change sets of the newest groups' mirror runs that are not in the lane yet: the group changes, then the membership changes, of each. */
export async function writeGroupChangeSets(context: LaneWriteContext, groups: LaneGroupSource, written: (run: MirrorRunRecord, object: string, set: LaneSetResult) => void): Promise<void> {
  const { tenantId, abortSignal } = context;
  for (const run of await changeSetRuns(groups.mirror, abortSignal, changedGroupsOrMemberships)) {
    if (changedObjects(run)) written(run, "groups", await writeRunSet(run, context, groupChangeSetOf(groups, run, "groups", tenantId, { abortSignal })));
    if ((run.counters.membershipChanges ?? 0) > 0) written(run, "memberships", await writeRunSet(run, context, groupChangeSetOf(groups, run, "memberships", tenantId, { abortSignal })));
  }
}

/** One of a groups' mirror run's two change sets (the lane's, and export --changes <run> --groups|--memberships --format parquet). */
export function groupChangeSetOf(groups: Pick<LaneGroupSource, "mirror" | "memberships">, run: Pick<MirrorRunRecord, "runId" | "startedAt">, object: "groups" | "memberships", tenantId: string, options: OperationOptions): ChangeSetOf {
  const stamps = changeStamps(run, tenantId);
  if (object === "groups") return { object, columns: changeLaneColumns("group"), rows: changeRows(groups.mirror.listChanges(run.runId, options), stamps, "group") };
  return { object, columns: membershipChangeLaneColumns(), rows: stampedRows(groups.memberships.listChanges(run.runId, options), stamps, membershipChangeOf) };
}
