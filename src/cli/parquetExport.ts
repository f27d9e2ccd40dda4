/**
 * `export --format parquet --out <file>`: the same file shape the analytics lane writes
 * (docs/analytics.md), to a local file, without Blob Storage: a snapshot (--latest, --snapshot),
 * the live mirror (--current) or one mirror run's change set (--changes). The columns, types and
 * stamps are the lane's; the file is one part (its row groups are written as users are read).
 * Groups and memberships: groupParquetExport.ts.
 */
import { propertiesOf } from "../graph/managerLinks.js";
import { rename, rm } from "node:fs/promises";
import { EXPORT_LANE_DEFAULTS } from "../configuration/defaults.js";
import type { GraphUser } from "../graph/types.js";
import { changeRows } from "../lane/changeLane.js";
import { changeLaneColumns, LANE_STAMP_COLUMNS, stampedRows, userLaneColumns, type LaneColumn, type LaneRow } from "../lane/laneColumns.js";
import { writeParquetParts } from "../lane/parquetParts.js";
import { filePartSink } from "../lane/partSinks.js";
import { toGraphObject } from "../mirror/mirrorEntity.js";
import type { UserMirrorClient } from "../mirror/userMirrorClient.js";
import { formatCount } from "../shared/counts.js";
import { UserSyncError } from "../shared/errors.js";
import { isRunId } from "../tables/keys.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import { writeError } from "./output.js";

/** A set to write: its columns and rows, and what to say once it is written. */
export interface ParquetSource {
  columns: LaneColumn[];
  rows: AsyncIterable<LaneRow>;
  /** Checked after the last row (a source that changed while it was read throws, and the file is not kept). */
  after?: () => Promise<void>;
  describe(rows: number): string;
}

/** `_tenantId`: the tenant named with --tenant, else GRAPH_TENANT_ID (empty when unset). */
export function tenantStamp(tenant: string | undefined, env: Record<string, string | undefined> = process.env): string {
  return tenant ?? env.GRAPH_TENANT_ID?.trim() ?? "";
}

/** A complete snapshot, as the lane writes it. */
export async function snapshotSource(store: SnapshotStoreClient, snapshotId: string, tenantId: string): Promise<ParquetSource> {
  // A missing or incomplete snapshot is refused by listSnapshotUsers, naming why, before the first row.
  const run = isRunId(snapshotId) ? await store.getRun(snapshotId) : undefined;
  const stamps = { _snapshotTime: run?.startedAt ?? null, _tenantId: tenantId, _runId: snapshotId };
  return { columns: userLaneColumns(run?.select ?? ["id"]), rows: stampedRows(store.listSnapshotUsers(snapshotId), stamps), describe: (n) => `Exported ${formatCount(n, "user")} from snapshot ${snapshotId}` };
}

/** The live mirror's current users (and removed ones, with an `@removed` JSON column). */
export function mirrorSource(mirror: UserMirrorClient, state: { select: string[]; savedAt: Date; runId: string }, tenantId: string, includeDeleted: boolean, version: string): ParquetSource {
  const columns = [...propertiesOf(state.select).map((name) => userLaneColumns([name])[0]!), ...(includeDeleted ? [{ name: "@removed", type: "json" as const }] : []), ...LANE_STAMP_COLUMNS];
  const stamps = { _snapshotTime: state.savedAt, _tenantId: tenantId, _runId: state.runId };
  return {
    columns,
    rows: stampedRows(mirror.listUsers({ includeRemoved: includeDeleted }), stamps, (user) => toGraphObject(user) as GraphUser),
    after: async () => {
      if ((await mirror.getVersion()) !== version) throw mirrorChanged();
    },
    describe: (n) => `Exported ${formatCount(n, "user")} from the live mirror (as of ${state.savedAt.toISOString()}, run ${state.runId})`,
  };
}

/** One mirror run's change set. */
export function changesSource(mirror: UserMirrorClient, run: { runId: string; startedAt: Date }, tenantId: string): ParquetSource {
  const stamps = { _snapshotTime: run.startedAt, _tenantId: tenantId, _runId: run.runId };
  return { columns: changeLaneColumns(), rows: changeRows(mirror.listChanges(run.runId), stamps), describe: (n) => `Exported the change set of mirror run ${run.runId} (${formatCount(n, "change")})` };
}

function mirrorChanged(): Error {
  return new UserSyncError("read_incomplete", "The live mirror changed while it was read (a sync round wrote to it), so the file would mix two states: it was not kept. Run export --current again (entra-user-sync runs shows when rounds run).");
}

/**
 * Writes the set to `out` (through a temporary file beside it, renamed at the end: an interrupted
 * or failed export leaves no partial file under the name asked for).
 */
export async function writeParquetFile(source: ParquetSource, out: string): Promise<void> {
  const partial = `${out}.partial`;
  try {
    const [part] = await writeParquetParts({
      columns: source.columns,
      rows: source.rows,
      rowsPerGroup: EXPORT_LANE_DEFAULTS.rowsPerGroup,
      groupsPerPart: Number.MAX_SAFE_INTEGER,
      openPart: () => filePartSink(partial),
    });
    await source.after?.();
    await rename(partial, out);
    writeError(`${source.describe(part?.rows ?? 0)} to ${out} (Parquet, ${formatCount(source.columns.length, "column")}).\n`);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
