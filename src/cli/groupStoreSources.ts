/**
 * The group read ports (src/kinds/membershipPorts.ts) over the group stores (composeGroupStores):
 * a snapshot's groups and `members` edges (scope: the snapshot id), or the live mirror's (scope
 * `mirror`). Orders, as the ports promise: groups ascending by id (the stores' partitions, each in
 * id order, merged in bounded memory); edges ascending by group id then member id (the forward edge
 * table's PartitionKey `<scope>-<groupId>`, RowKey the member id: one range read in that order).
 * Whole or failed: a snapshot's run record is read again after the last row (retention began
 * deleting it: read_incomplete), the mirror's version likewise (a round wrote meanwhile).
 */
import type { GroupStores } from "../app/groupStores.js";
import { DEFAULT_GROUP_SELECT } from "../configuration/defaults.js";
import type { GroupDataSource, GroupDataSources, ManagerLink, MembershipEdge } from "../kinds/membershipPorts.js";
import type { GraphObject } from "../kinds/objectKind.js";
import { toGraphObject } from "../mirror/mirrorEntity.js";
import { createMirrorError } from "../mirror/mirrorErrors.js";
import { createSnapshotError } from "../snapshots/snapshotErrors.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { MIRROR_EDGE_SCOPE } from "../tables/edgeTables.js";

/** The groups' columns: their fixed selection, `id` first. */
const GROUP_COLUMNS: readonly string[] = ["id", ...DEFAULT_GROUP_SELECT.filter((name) => name !== "id")];

/** Where the users' manager links are read: a scope's links ascending by user id, or none. */
export type ManagerLinks = (scope: string) => AsyncIterable<ManagerLink>;

/** The ports over one prefix's group stores; `managers` lists the users' manager links of a scope. */
export function groupSourcesOf(stores: GroupStores, managers: ManagerLinks): GroupDataSources {
  return {
    snapshot: (snapshotId) => snapshotSource(stores, managers, snapshotId),
    current: () => mirrorSource(stores, managers),
  };
}

async function* membershipsOf(stores: GroupStores, scope: string): AsyncIterableIterator<MembershipEdge> {
  for await (const edge of stores.edges.listEdges(scope)) yield { groupId: edge.sourceId, memberId: edge.targetId, memberType: edge.targetType };
}

/** A complete snapshot's run record, or snapshot_not_found saying why it is none. */
async function completeRun(stores: GroupStores, snapshotId: string): Promise<SyncRunRecord> {
  const run = await stores.snapshots.getRun(snapshotId);
  if (!run) throw createSnapshotError({ kind: "noSuchSnapshot", snapshotId });
  if (run.status !== "succeeded") throw createSnapshotError({ kind: "incomplete", snapshotId, status: run.status });
  if (run.snapshotDeletedAt) throw createSnapshotError({ kind: "deleted", snapshotId, deletedAt: run.snapshotDeletedAt });
  return run;
}

/** A snapshot's group data: undefined when its run kept no groups (USER_SYNC_GROUPS off, or its groups part failed). */
async function snapshotSource(stores: GroupStores, managers: ManagerLinks, snapshotId: string): Promise<GroupDataSource | undefined> {
  const run = await completeRun(stores, snapshotId);
  if (run.groups?.status !== "succeeded") return undefined;
  return {
    label: `snapshot ${snapshotId}`,
    select: GROUP_COLUMNS,
    pointInTime: { time: run.startedAt, runId: run.runId },
    listGroups: () => stores.snapshots.listSnapshotObjectsById(snapshotId),
    listMemberships: () => membershipsOf(stores, snapshotId),
    listManagers: () => managers(snapshotId),
    assertWhole: async () => {
      const after = await stores.snapshots.getRun(snapshotId);
      if (after?.status === "succeeded" && !after.snapshotDeletedAt) return;
      throw createSnapshotError({ kind: "changedWhileRead", snapshotId, deletedAt: after?.snapshotDeletedAt });
    },
  };
}

/** The live mirror's group data: undefined until the groups' mirror completed a round. */
async function mirrorSource(stores: GroupStores, managers: ManagerLinks): Promise<GroupDataSource | undefined> {
  const state = await stores.mirror.getDeltaState();
  if (!state?.state.deltaLink) return undefined;
  const before = await stores.mirror.getVersion();
  return {
    label: `the live mirror (as of ${state.state.savedAt.toISOString()}, run ${state.state.runId})`,
    select: GROUP_COLUMNS,
    pointInTime: { time: state.state.savedAt, runId: state.state.runId },
    listGroups: () => mirrorGroups(stores),
    listMemberships: () => membershipsOf(stores, MIRROR_EDGE_SCOPE),
    listManagers: () => managers(MIRROR_EDGE_SCOPE),
    assertWhole: async () => {
      if ((await stores.mirror.getVersion()) !== before) throw createMirrorError("changedWhileRead", {});
    },
  };
}

async function* mirrorGroups(stores: GroupStores): AsyncIterableIterator<GraphObject> {
  for await (const group of stores.mirror.listUsersById()) yield toGraphObject(group) as GraphObject;
}
