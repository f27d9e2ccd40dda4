/**
 * `export --changes <runId>` of a run of the groups' mirror (`runs` lists them with kind `groups`):
 * the groups it added, updated, restored and removed, then the memberships that joined and left
 * (`memberDeleted` or `removed` for a user, with Graph's own reason in `graphReason`; Graph's reason for
 * other members; `notSeen` when a full round no longer saw the membership), one per line.
 */
import type { GraphUser } from "../graph/types.js";
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import { formatNumber } from "../shared/counts.js";
import { createUserLineWriter, type ExportFormat } from "./exportFormats.js";
import { groupStoresFromEnvironment } from "./groupSources.js";
import { writeData, writeError } from "./output.js";

export interface GroupChangesExportOptions {
  format: ExportFormat;
  raw: boolean;
  tenant: string | undefined;
}

/** Writes a succeeded groups' mirror run's change set: group changes (`group`), then membership changes (`membership`). */
export async function exportGroupChanges(run: MirrorRunRecord, options: GroupChangesExportOptions): Promise<void> {
  const stores = groupStoresFromEnvironment(options.tenant);
  const writer = createUserLineWriter(options.format, { columns: ["change", "reason", "graphReason", "at", "id", "group", "membership"], raw: options.raw });
  const counts: Record<string, number> = {};
  const write = async (line: Record<string, unknown>) => {
    await writeData(writer.linesFor(line as GraphUser));
    counts[String(line.change)] = (counts[String(line.change)] ?? 0) + 1;
  };
  for await (const change of stores.mirror.listChanges(run.runId)) {
    await write({ change: change.change, ...(change.reason !== undefined ? { reason: change.reason } : {}), at: change.at.toISOString(), id: change.id, group: change.user });
  }
  for await (const change of stores.memberships.listChanges(run.runId)) {
    const membership = { groupId: change.groupId, memberId: change.memberId, memberType: change.memberType };
    const reasons = { ...(change.reason !== undefined ? { reason: change.reason } : {}), ...(change.graphReason !== undefined ? { graphReason: change.graphReason } : {}) };
    await write({ change: change.change, ...reasons, at: change.at.toISOString(), membership });
  }
  await writeData(writer.end());
  const summary =
    (["added", "updated", "restored", "removed", "joined", "left"] as const)
      .filter((k) => counts[k] !== undefined)
      .map((k) => `${formatNumber(counts[k]!)} ${k === "joined" || k === "left" ? `${k} (memberships)` : k}`)
      .join(", ") || "no changes";
  writeError(`Exported the change set of the groups' mirror run ${run.runId} (${run.mode} round, ${run.status}): ${summary}.\n`);
}
