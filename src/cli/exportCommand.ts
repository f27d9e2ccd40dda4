/** `entra-user-sync export`: a snapshot, the live mirror (--current), or one mirror run's change set (--changes). */
import type { GraphUser } from "../graph/types.js";
import { toGraphObject } from "../mirror/mirrorEntity.js";
import { formatCount, formatNumber } from "../shared/counts.js";
import { UserSyncError } from "../shared/errors.js";
import { mirrorFromEnvironment, storeFromEnvironment } from "./clients.js";
import { createUserLineWriter, type ExportFormat } from "./exportFormats.js";
import { write } from "./output.js";

export interface ExportOptions {
  latest?: boolean;
  snapshot?: string;
  current?: boolean;
  includeDeleted?: boolean;
  changes?: string;
  format: ExportFormat;
}

export async function exportCommand(options: ExportOptions): Promise<void> {
  if (options.current) return exportCurrent(options);
  if (options.changes !== undefined) return exportChanges(options.changes, options.format);
  const store = storeFromEnvironment();
  let snapshotId = options.snapshot;
  if (options.latest) {
    const latest = await store.getLatestSnapshot();
    if (!latest) {
      throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync first (entra-user-sync run), then export.");
    }
    snapshotId = latest.snapshotId;
  }
  const writer = createUserLineWriter(options.format);
  let count = 0;
  for await (const user of store.listSnapshotUsers(snapshotId!)) {
    await write(writer.linesFor(user));
    count += 1;
  }
  process.stderr.write(`Exported ${formatCount(count, "user")} from snapshot ${snapshotId}.\n`);
}

/** The live mirror: present users as Graph shows them; with --include-deleted also removed users, marked "@removed". */
async function exportCurrent(options: ExportOptions): Promise<void> {
  const mirror = mirrorFromEnvironment();
  const state = await mirror.getDeltaState();
  if (!state?.state.deltaLink) {
    throw new UserSyncError("snapshot_not_found", "The live mirror has not completed its first round yet. Run a sync first (entra-user-sync run), then export --current.");
  }
  const columns = options.includeDeleted ? [...state.state.select, "@removed"] : state.state.select;
  const writer = createUserLineWriter(options.format, { columns });
  const counts = { present: 0, removed: 0 };
  for await (const mirrorUser of mirror.listUsers({ includeRemoved: options.includeDeleted === true })) {
    await write(writer.linesFor(toGraphObject(mirrorUser) as GraphUser));
    counts[mirrorUser.state === "present" ? "present" : "removed"] += 1;
  }
  const removed = options.includeDeleted ? ` and ${formatCount(counts.removed, "removed user")}` : "";
  process.stderr.write(`Exported ${formatCount(counts.present, "current user")}${removed} from the live mirror (as of ${state.state.savedAt.toISOString()}, run ${state.state.runId}).\n`);
}

/** One mirror run's change set: what it added, updated, restored and removed. */
async function exportChanges(runId: string, format: ExportFormat): Promise<void> {
  const mirror = mirrorFromEnvironment();
  const run = await mirror.getRun(runId);
  if (!run) {
    throw new UserSyncError(
      "snapshot_not_found",
      `There is no mirror run ${runId}. List runs with: entra-user-sync runs (change sets belong to runs whose MODE is incremental or full; a snapshot run is exported with --snapshot <id>).`,
    );
  }
  const writer = createUserLineWriter(format, { columns: ["change", "reason", "at", "id", "user"] });
  const counts: Record<string, number> = {};
  for await (const change of mirror.listChanges(runId)) {
    const line: Record<string, unknown> = { change: change.change };
    if (change.reason !== undefined) line.reason = change.reason;
    line.at = change.at.toISOString();
    line.id = change.id;
    line.user = change.user;
    await write(writer.linesFor(line as GraphUser));
    counts[change.change] = (counts[change.change] ?? 0) + 1;
  }
  const summary =
    (["added", "updated", "restored", "removed"] as const)
      .filter((k) => counts[k] !== undefined)
      .map((k) => `${formatNumber(counts[k]!)} ${k}`)
      .join(", ") || "no changes";
  process.stderr.write(`Exported the change set of mirror run ${runId} (${run.mode} round, ${run.status}): ${summary}.\n`);
}
