/**
 * `entra-user-sync runs`: snapshot runs and the live mirror's rounds, newest first. The default
 * table fits 100 columns, or the terminal when it is narrower; `--wide` shows every column,
 * `--json` every field.
 */
import type { MirrorRunRecord, UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { SnapshotStoreClient, SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { formatNumber } from "../shared/counts.js";
import { describeMirrorReason } from "../sync/runSummary.js";
import { mirrorFromEnvironment, storeFromEnvironment } from "./clients.js";
import { jsonLine } from "../shared/safeText.js";
import { fitTable, formatTable, wrapWords, write, writeData, writeError } from "./output.js";
import { snapshotOnlyProperties } from "../configuration/userProperties.js";
import { GROUPS } from "../kinds/groups.js";
import { mergeSorted } from "../shared/mergeSorted.js";

const describeReason = (reason: MirrorRunRecord["reason"]) => describeMirrorReason(reason);
/** For a snapshot run that selected properties delta cannot track: "signInActivity: snapshots only". */
function snapshotOnlyNote(select: readonly string[]): string {
  const names = snapshotOnlyProperties(select).map((p) => p.name);
  return names.length === 0 ? "" : `${names.join(", ")}: snapshots only (delta cannot track)`;
}

export interface RunsCommandOptions {
  limit: number;
  json: boolean;
  wide: boolean;
  /** The tenant selectTenant checked (`--tenant`); undefined in single-tenant mode. */
  tenant?: string | undefined;
}

/** The default table's width: it fits a 100-column terminal (and a narrower terminal's width, when stdout is one). */
export const RUNS_TABLE_WIDTH = 100;

/** The width to fit: 100 columns, or a narrower terminal's. */
function tableWidth(): number {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  return columns !== undefined && columns > 0 ? Math.min(RUNS_TABLE_WIDTH, columns) : RUNS_TABLE_WIDTH;
}

/** What the analytics lane did with a snapshot run's snapshot ("" when the lane never looked at it). */
export function laneNote(run: SyncRunRecord): string {
  const lane = run.lane;
  if (!lane) return "";
  if (lane.status === "written") return `lane: written (${formatNumber(lane.rows ?? 0)} rows)`;
  return `lane failed (attempt ${lane.attempts}, the next run retries): ${lane.error ?? "unknown error"}`;
}

type ListedRun = { kind: "snapshot"; run: SyncRunRecord } | { kind: "mirror" | "groups"; run: MirrorRunRecord };

/** Snapshot runs, the users' mirror runs and the groups' mirror runs (kind `groups`), newest first (each list is newest first: a merge). */
function listAllRuns(store: SnapshotStoreClient, mirror: UserMirrorClient, groups: UserMirrorClient): AsyncIterableIterator<ListedRun> {
  const tagged = async function* <K extends ListedRun["kind"]>(kind: K, runs: AsyncIterable<SyncRunRecord | MirrorRunRecord>) {
    for await (const run of runs) yield { kind, run } as ListedRun;
  };
  const newestFirst = (a: ListedRun, b: ListedRun) => b.run.startedAt.getTime() - a.run.startedAt.getTime();
  return mergeSorted([tagged("snapshot", store.listRuns()), tagged("mirror", mirror.listRuns()), tagged("groups", groups.listRuns())], newestFirst);
}

/** What a snapshot run did with the groups (USER_SYNC_GROUPS): the counts per kind, or the groups part's failure ("" without groups). */
export function groupsNote(run: SyncRunRecord): string {
  const groups = run.groups;
  if (!groups) return "";
  if (groups.status === "succeeded") return `groups ${formatNumber(groups.groups ?? 0)}, memberships ${formatNumber(groups.edges ?? 0)}`;
  return `groups failed: ${groups.errorCode ?? groups.error ?? "unknown error"}`;
}

function changeCounts(run: MirrorRunRecord): string {
  const c = run.changes;
  const parts = (["added", "updated", "restored", "removed"] as const).filter((k) => c[k] > 0).map((k) => `${formatNumber(c[k])} ${k}`);
  const skipped = run.counters.skippedUsers ?? 0;
  if (skipped > 0) parts.push(`${formatNumber(skipped)} skipped`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

const changeTotal = (run: MirrorRunRecord) => run.changes.added + run.changes.updated + run.changes.restored + run.changes.removed;
const took = (startedAt: Date, endedAt: Date | undefined) => (endedAt ? `${((endedAt.getTime() - startedAt.getTime()) / 1000).toFixed(1)} s` : "");

/** One row of the default table: RUN, MODE, STATUS, TOOK, USERS, NOTE. */
function narrowRow(listed: ListedRun): string[] {
  if (listed.kind === "snapshot") {
    const run = listed.run;
    const base = run.error ?? (run.snapshotDeletedAt ? "users deleted by retention" : run.status === "paused" ? "stopped at a checkpoint; run continues it" : snapshotOnlyNote(run.select));
    const note = [groupsNote(run), base, laneNote(run)].filter((part) => part !== "").join("; ");
    return [run.runId, "snapshot", run.status, took(run.startedAt, run.endedAt), formatNumber(run.stats.usersRead), note];
  }
  const run = listed.run;
  const users = run.mode === "full" ? run.usersWritten : changeTotal(run);
  const note = run.error ?? (run.mode === "full" ? describeReason(run.reason) : changeCounts(run));
  if (listed.kind === "groups") {
    // Its record counts the groups' changes; the memberships that joined and left are in its change set.
    const groupsNote = run.error ?? (run.mode === "full" ? describeReason(run.reason) : `groups changed: ${changeCounts(run)}; memberships: export --changes`);
    return [run.runId, `groups ${run.mode}`, run.status, took(run.startedAt, run.endedAt), "", groupsNote];
  }
  return [run.runId, run.mode, run.status, took(run.startedAt, run.endedAt), formatNumber(users), note];
}

/** One row of the --wide table: every column. */
function wideRow(listed: ListedRun): string[] {
  if (listed.kind === "snapshot") {
    const run = listed.run;
    const s = run.stats;
    return [run.runId, "snapshot", "", run.status, run.trigger, run.startedAt.toISOString(), took(run.startedAt, run.endedAt), formatNumber(s.pages), formatNumber(s.usersRead), formatNumber(s.entitiesWritten), groupsNote(run), [run.error ?? "", laneNote(run)].filter((part) => part !== "").join("; ")];
  }
  const run = listed.run;
  const written = run.mode === "full" ? run.usersWritten : changeTotal(run);
  return [run.runId, listed.kind === "groups" ? `groups ${run.mode}` : run.mode, run.reason, run.status, run.trigger ?? "", run.startedAt.toISOString(), took(run.startedAt, run.endedAt), formatNumber(run.pages), formatNumber(run.itemsRead), formatNumber(written), changeCounts(run), run.error ?? ""];
}

const NARROW_HEADER = ["RUN", "MODE", "STATUS", "TOOK", "USERS", "NOTE"];
/** On a narrow terminal, the columns left out first: TOOK, then USERS, then MODE (RUN, STATUS and NOTE stay longest). */
const DROP_FIRST = [3, 4, 1];
const WIDE_HEADER = ["RUN", "MODE", "REASON", "STATUS", "TRIGGER", "STARTED", "TOOK", "PAGES", "USERS", "WRITTEN", "CHANGES", "ERROR"];

export async function runsCommand(options: RunsCommandOptions): Promise<void> {
  const store = storeFromEnvironment(options.tenant);
  const mirror = mirrorFromEnvironment(options.tenant);
  const groups = mirrorFromEnvironment(options.tenant, GROUPS);
  const rows: string[][] = [];
  let count = 0;
  for await (const listed of listAllRuns(store, mirror, groups)) {
    if (count++ >= options.limit) break;
    if (options.json) await writeData(jsonLine({ kind: listed.kind, ...listed.run }));
    else rows.push(options.wide ? wideRow(listed) : narrowRow(listed));
  }
  if (options.json) return;
  if (rows.length === 0) {
    writeError("No runs recorded yet. Start one with: entra-user-sync run\n");
    return;
  }
  if (options.wide) {
    await write(formatTable([WIDE_HEADER, ...rows]));
    await write("\nMODE: snapshot = a point-in-time snapshot; full / incremental = a round of the live mirror (export --current, export --changes <run>).\n");
    return;
  }
  const width = tableWidth();
  const table = fitTable([NARROW_HEADER, ...rows], width, DROP_FIRST);
  await write(table.text);
  const shown = new Set(table.columns.map((column) => NARROW_HEADER[column]));
  const legend = [
    "RUN: the run's start (UTC) and, for MODE snapshot, the snapshot id (export --snapshot, diff).",
    ...(shown.has("MODE") ? ["MODE full or incremental: a round of the live mirror; groups full or groups incremental: of the groups' mirror (export --changes <RUN>)."] : []),
    ...(shown.has("USERS") ? ["USERS: users read (snapshot), written (full round) or changed (incremental)."] : []),
    table.columns.length < NARROW_HEADER.length ? "More columns: a wider terminal, or runs --wide; every field: runs --json." : "Every column: runs --wide; every field: runs --json.",
  ];
  await write(["", ...legend.flatMap((line) => wrapWords(line, width)), ""].join("\n"));
}
