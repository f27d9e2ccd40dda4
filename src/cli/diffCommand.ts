/** `entra-user-sync diff`: what changed between two complete snapshots (default: the latest two), for one object kind (default the users). */
import type { ObjectKind } from "../kinds/objectKind.js";
import { USERS } from "../kinds/users.js";
import { formatCount, formatNumber } from "../shared/counts.js";
import { UserSyncError } from "../shared/errors.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import { storeFromEnvironment } from "./clients.js";
import { jsonLine } from "../shared/safeText.js";
import { formatTable, write, writeData, writeError } from "./output.js";

export interface DiffOptions {
  from?: string;
  to?: string;
  format: "table" | "jsonl";
  /** The tenant selectTenant checked (`--tenant`); undefined in single-tenant mode. */
  tenant?: string | undefined;
  /** The kind of object compared (src/kinds/). Default: the users. */
  kind?: ObjectKind;
}

export async function diffCommand(options: DiffOptions): Promise<void> {
  const kind = options.kind ?? USERS;
  const store = storeFromEnvironment(options.tenant, kind);
  const { from, to } = await snapshotsToCompare(store, options.from, options.to);
  const counts = { added: 0, removed: 0, changed: 0 };
  const byProperty = new Map<string, number>();
  for await (const change of store.diffSnapshots(from, to)) {
    counts[change.change] += 1;
    if (change.change === "changed") {
      for (const name of Object.keys(change.properties)) byProperty.set(name, (byProperty.get(name) ?? 0) + 1);
    }
    if (options.format === "jsonl") await writeData(jsonLine(change));
  }
  const summary = `Compared snapshot ${from} with ${to}: ${formatNumber(counts.added)} added, ${formatNumber(counts.removed)} removed, ${formatNumber(counts.changed)} changed.`;
  if (options.format === "jsonl") {
    writeError(`${summary}\n`);
    return;
  }
  const rows = [
    ["CHANGE", kind.name.toUpperCase()],
    ["added", formatNumber(counts.added)],
    ["removed", formatNumber(counts.removed)],
    ["changed", formatNumber(counts.changed)],
  ];
  let text = `${summary}\n\n${formatTable(rows)}`;
  if (byProperty.size > 0) {
    const properties = [...byProperty].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    text += `\n${formatTable([["PROPERTY", `${kind.name.toUpperCase()} CHANGED`], ...properties.map(([name, n]) => [name, formatNumber(n)])])}`;
  }
  await write(text);
}

/** Default: the latest snapshot and the complete one before it; `--to` alone compares it with its predecessor. */
export async function snapshotsToCompare(store: SnapshotStoreClient, from: string | undefined, to: string | undefined): Promise<{ from: string; to: string }> {
  if (from !== undefined && to !== undefined) return { from, to };
  let target = to;
  if (target === undefined) {
    const latest = await store.getLatestSnapshot();
    if (!latest) throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync twice (entra-user-sync run, then entra-user-sync run --full), then diff.");
    target = latest.snapshotId;
  }
  if (from !== undefined) return { from, to: target };
  let complete = 0;
  for await (const run of store.listRuns()) {
    if (run.status !== "succeeded" || run.snapshotDeletedAt) continue;
    complete += 1;
    if (run.snapshotId < target) return { from: run.snapshotId, to: target };
  }
  throw new UserSyncError(
    "snapshot_not_found",
    `There is no complete snapshot before ${target} to compare it with (${formatCount(complete, "complete snapshot")} kept). ` +
      "Write another with: entra-user-sync run --full, or name both with --from and --to (see: entra-user-sync runs).",
  );
}
