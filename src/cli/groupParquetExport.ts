/**
 * `export --groups | --memberships [--transitive] --format parquet --out <file>` (a snapshot or the
 * live mirror) and `export --changes <groups' mirror run> --groups | --memberships --format parquet`:
 * the analytics lane's file shape of groups and memberships (docs/analytics.md, "Groups and
 * memberships"), to a local file: the lane's columns, types and stamps, in the order `export --groups`
 * and `--memberships` write their lines.
 */
import { MembershipGraph } from "../kinds/membershipClosure.js";
import type { GroupDataSource } from "../kinds/membershipPorts.js";
import { groupChangeSetOf } from "../lane/groupLane.js";
import { groupLaneColumns, membershipLaneColumns, stampedRows, type LaneRow } from "../lane/laneColumns.js";
import type { MirrorRunRecord } from "../mirror/mirrorRecords.js";
import { formatCount } from "../shared/counts.js";
import type { GroupStores } from "../sync/groupsRound.js";
import { nestedMembershipsOf } from "./groupExportFormats.js";
import type { ParquetSource } from "./parquetExport.js";

/** A snapshot's or the mirror's groups, or their memberships (direct, or nested with `transitive`), as the lane's set. */
export function groupSetSource(source: GroupDataSource, what: "groups" | "memberships", transitive: boolean, tenantId: string): ParquetSource {
  const stamps = { _snapshotTime: source.pointInTime?.time ?? null, _tenantId: tenantId, _runId: source.pointInTime?.runId ?? null };
  const after = () => source.assertWhole();
  if (what === "groups") {
    // The groups' selection, as the store read them (`id` first): the lane's LANE_GROUP_SELECT.
    return { columns: groupLaneColumns(source.select), rows: stampedRows(source.listGroups(), stamps), after, describe: (n) => `Exported ${formatCount(n, "group")} from ${source.label}` };
  }
  if (!transitive) {
    return { columns: membershipLaneColumns(), rows: stampedRows(source.listMemberships(), stamps, (e) => ({ groupId: e.groupId, memberId: e.memberId, memberType: e.memberType })), after, describe: (n) => `Exported ${formatCount(n, "direct membership")} from ${source.label}` };
  }
  return { columns: membershipLaneColumns({ transitive: true }), rows: nestedRows(source, stamps), after, describe: (n) => `Exported ${formatCount(n, "nested membership")} (direct ones at depth 1) from ${source.label}` };
}

/** The nested memberships (MembershipGraph, as export --memberships --transitive): the direct edges read once, then group by group. */
async function* nestedRows(source: GroupDataSource, stamps: Record<string, unknown>): AsyncIterableIterator<LaneRow> {
  const graph = await MembershipGraph.fromEdges(source.listMemberships());
  for (const closure of graph.closures()) for (const membership of nestedMembershipsOf(closure)) yield { ...membership, ...stamps };
}

/** One of a succeeded groups' mirror run's change sets: its group changes, or its membership changes. */
export function groupChangesSource(stores: GroupStores, run: MirrorRunRecord, what: "groups" | "memberships", tenantId: string): ParquetSource {
  const set = groupChangeSetOf(stores, run, what, tenantId, {});
  const noun = what === "groups" ? "group change" : "membership change";
  return { columns: set.columns, rows: set.rows, describe: (n) => `Exported the ${what === "groups" ? "group" : "membership"} changes of the groups' mirror run ${run.runId} (${formatCount(n, noun)})` };
}
