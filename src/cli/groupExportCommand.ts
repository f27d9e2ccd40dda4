/**
 * `entra-user-sync export --groups` and `export --memberships [--transitive]` (issue 29, item 6):
 * a snapshot's (--latest, --snapshot <id>) or the live mirror's (--current) groups, or their direct
 * or nested memberships, in JSON Lines or CSV (groupExportFormats.ts) or Parquet (the analytics
 * lane's file shape: groupParquetExport.ts), read through the group ports (src/kinds/membershipPorts.ts).
 */
import type { GroupDataSource, GroupDataSources } from "../kinds/membershipPorts.js";
import { formatCount } from "../shared/counts.js";
import { UserSyncError } from "../shared/errors.js";
import { storeFromEnvironment } from "./clients.js";
import type { ExportFormat } from "./exportFormats.js";
import { writeGroups, writeMemberships, writeTransitiveMemberships } from "./groupExportFormats.js";
import { assertGroupsKept, groupDataNotFound, groupSourcesFromEnvironment, noGroupDataIn } from "./groupSources.js";
import { groupSetSource } from "./groupParquetExport.js";
import { writeData, writeError } from "./output.js";
import { tenantStamp, writeParquetFile } from "./parquetExport.js";

export interface GroupExportCommandOptions {
  latest?: boolean;
  snapshot?: string;
  current?: boolean;
  /** `parquet`: the analytics lane's file shape, to `out` (groupParquetExport.ts). */
  format: ExportFormat | "parquet";
  out?: string | undefined;
  raw?: boolean;
  tenant?: string | undefined;
  /** What is exported: the groups, or their memberships (direct, or nested with `transitive`). */
  what: "groups" | "memberships";
  transitive?: boolean;
  /** The group stores (default: the environment's, groupSourcesFromEnvironment). */
  sources?: GroupDataSources;
}

export async function groupExportCommand(options: GroupExportCommandOptions): Promise<void> {
  assertGroupsKept(process.env);
  const sources = options.sources ?? groupSourcesFromEnvironment(options.tenant);
  const source = await sourceToExport(sources, options);
  if (options.format === "parquet") return writeParquetFile(groupSetSource(source, options.what, options.transitive === true, tenantStamp(options.tenant)), options.out!);
  const out = { format: options.format, raw: options.raw === true, write: writeData };
  if (options.what === "groups") {
    const count = await writeGroups(source, out);
    await source.assertWhole();
    writeError(`Exported ${formatCount(count, "group")} from ${source.label}.\n`);
    return;
  }
  if (!options.transitive) {
    const count = await writeMemberships(source, out);
    await source.assertWhole();
    writeError(`Exported ${formatCount(count, "direct membership")} from ${source.label}.\n`);
    return;
  }
  const summary = await writeTransitiveMemberships(source, out);
  await source.assertWhole();
  writeError(`Exported ${formatCount(summary.memberships, "nested membership")} of ${formatCount(summary.groups, "group")} (direct ones at depth 1) from ${source.label}.\n`);
  if (summary.inCycle.count > 0) {
    writeError(
      `note: ${formatCount(summary.inCycle.count, "group")} ${summary.inCycle.count === 1 ? "is" : "are"} in a cycle of nested groups (first: ${summary.inCycle.first.join(", ")}); each walk ended at the group it had seen, and no group is listed as its own member.\n`,
    );
  }
}

async function sourceToExport(sources: GroupDataSources, options: GroupExportCommandOptions): Promise<GroupDataSource> {
  if (options.current) {
    const current = await sources.current();
    if (!current) throw groupDataNotFound(noGroupDataIn("the live mirror"));
    return current;
  }
  let snapshotId = options.snapshot;
  if (options.latest) {
    const latest = await storeFromEnvironment(options.tenant).getLatestSnapshot();
    if (!latest) throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync first (entra-user-sync run), then export.");
    snapshotId = latest.snapshotId;
  }
  const source = await sources.snapshot(snapshotId!);
  if (!source) throw groupDataNotFound(noGroupDataIn(`snapshot ${snapshotId}`));
  return source;
}
