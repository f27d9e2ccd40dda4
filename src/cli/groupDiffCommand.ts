/**
 * `entra-user-sync diff --groups` (issue 29, item 6): what changed between two complete snapshots'
 * groups (added, removed, changed), direct memberships (joined, left) and managers (set, cleared,
 * changed), read through the group ports (src/kinds/membershipPorts.ts) and compared in bounded
 * memory (src/snapshots/groupDiff.ts). The snapshots are chosen as for the users (default: the
 * latest two).
 */
import type { GroupDataSource, GroupDataSources } from "../kinds/membershipPorts.js";
import { formatNumber } from "../shared/counts.js";
import { jsonLine } from "../shared/safeText.js";
import { diffSortedGroups, diffSortedManagers, diffSortedMemberships } from "../snapshots/groupDiff.js";
import { storeFromEnvironment } from "./clients.js";
import { snapshotsToCompare } from "./diffCommand.js";
import { assertGroupsKept, groupDataNotFound, groupSourcesFromEnvironment, noGroupDataIn } from "./groupSources.js";
import { formatTable, write, writeData, writeError } from "./output.js";

export interface GroupDiffOptions {
  from?: string;
  to?: string;
  format: "table" | "jsonl";
  tenant?: string | undefined;
  /** The group stores (default: the environment's, groupSourcesFromEnvironment). */
  sources?: GroupDataSources;
  /** The two snapshots (default: as `diff` chooses them, from the run records). */
  pick?: (from: string | undefined, to: string | undefined) => Promise<{ from: string; to: string }>;
}

/** Each change once, under its kind (`group`, `membership`, `manager`). */
export type GroupDiffCounts = Record<"group" | "membership" | "manager", Record<string, number>>;

export async function groupDiffCommand(options: GroupDiffOptions): Promise<void> {
  assertGroupsKept(process.env);
  const sources = options.sources ?? groupSourcesFromEnvironment(options.tenant);
  const pick = options.pick ?? ((from, to) => snapshotsToCompare(storeFromEnvironment(options.tenant), from, to));
  const { from, to } = await pick(options.from, options.to);
  const older = await snapshotSource(sources, from);
  const newer = await snapshotSource(sources, to);
  const counts: GroupDiffCounts = { group: {}, membership: {}, manager: {} };
  const report = async (kind: keyof GroupDiffCounts, change: { change: string }) => {
    counts[kind][change.change] = (counts[kind][change.change] ?? 0) + 1;
    if (options.format === "jsonl") await writeData(jsonLine({ kind, ...change }));
  };
  for await (const change of diffSortedGroups(older.listGroups(), newer.listGroups())) await report("group", change);
  for await (const change of diffSortedMemberships(older.listMemberships(), newer.listMemberships())) await report("membership", change);
  for await (const change of diffSortedManagers(older.listManagers(), newer.listManagers())) await report("manager", change);
  await older.assertWhole();
  await newer.assertWhole();
  const n = (kind: keyof GroupDiffCounts, change: string) => formatNumber(counts[kind][change] ?? 0);
  const summary =
    `Compared the groups of snapshot ${from} with ${to}: ${n("group", "added")} added, ${n("group", "removed")} removed, ${n("group", "changed")} changed; ` +
    `${n("membership", "joined")} memberships joined, ${n("membership", "left")} left; ` +
    `${n("manager", "set")} managers set, ${n("manager", "cleared")} cleared, ${n("manager", "changed")} changed.`;
  if (options.format === "jsonl") {
    writeError(`${summary}\n`);
    return;
  }
  const rows = [
    ["WHAT", "CHANGE", "COUNT"],
    ...(["added", "removed", "changed"] as const).map((c) => ["groups", c, n("group", c)]),
    ...(["joined", "left"] as const).map((c) => ["memberships", c, n("membership", c)]),
    ...(["set", "cleared", "changed"] as const).map((c) => ["managers", c, n("manager", c)]),
  ];
  await write(`${summary}\n\n${formatTable(rows)}`);
}

async function snapshotSource(sources: GroupDataSources, snapshotId: string): Promise<GroupDataSource> {
  const source = await sources.snapshot(snapshotId);
  if (!source) throw groupDataNotFound(noGroupDataIn(`snapshot ${snapshotId}`));
  return source;
}
