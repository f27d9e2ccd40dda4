/**
 * `entra-user-sync runs`: snapshot runs and the live mirror's rounds, newest first. The default
 * table fits 100 columns; `--wide` shows every column, `--json` every field.
 */
import type { MirrorRunRecord, UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { SnapshotStoreClient, SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { formatNumber } from "../shared/counts.js";
import { describeMirrorReason } from "../sync/runSummary.js";
import { mirrorFromEnvironment, storeFromEnvironment } from "./clients.js";
import { formatTable, truncate, write } from "./output.js";
import { snapshotOnlyProperties } from "../configuration/userProperties.js";

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
}

/** The default table's width: it fits a 100-column terminal. */
export const RUNS_TABLE_WIDTH = 100;

type ListedRun = { kind: "snapshot"; run: SyncRunRecord } | { kind: "mirror"; run: MirrorRunRecord };

/** Snapshot runs and mirror runs, newest first (both lists are newest first: a merge). */
async function* listAllRuns(store: SnapshotStoreClient, mirror: UserMirrorClient): AsyncIterableIterator<ListedRun> {
  const snapshots = store.listRuns();
  const mirrors = mirror.listRuns();
  let s = await snapshots.next();
  let m = await mirrors.next();
  while (!s.done || !m.done) {
    if (!s.done && (m.done || s.value.startedAt.getTime() >= m.value.startedAt.getTime())) {
      yield { kind: "snapshot", run: s.value };
      s = await snapshots.next();
    } else if (!m.done) {
      yield { kind: "mirror", run: m.value };
      m = await mirrors.next();
    }
  }
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
    const note = run.error ?? (run.snapshotDeletedAt ? "users deleted by retention" : run.status === "paused" ? "stopped at a checkpoint; run continues it" : snapshotOnlyNote(run.select));
    return [run.runId, "snapshot", run.status, took(run.startedAt, run.endedAt), formatNumber(run.stats.usersRead), note];
  }
  const run = listed.run;
  const users = run.mode === "full" ? run.usersWritten : changeTotal(run);
  const note = run.error ?? (run.mode === "full" ? describeReason(run.reason) : changeCounts(run));
  return [run.runId, run.mode, run.status, took(run.startedAt, run.endedAt), formatNumber(users), note];
}

/** One row of the --wide table: every column. */
function wideRow(listed: ListedRun): string[] {
  if (listed.kind === "snapshot") {
    const run = listed.run;
    const s = run.stats;
    return [run.runId, "snapshot", "", run.status, run.trigger, run.startedAt.toISOString(), took(run.startedAt, run.endedAt), formatNumber(s.pages), formatNumber(s.usersRead), formatNumber(s.entitiesWritten), "", run.error ?? ""];
  }
  const run = listed.run;
  const written = run.mode === "full" ? run.usersWritten : changeTotal(run);
  return [run.runId, run.mode, run.reason, run.status, run.trigger ?? "", run.startedAt.toISOString(), took(run.startedAt, run.endedAt), formatNumber(run.pages), formatNumber(run.itemsRead), formatNumber(written), changeCounts(run), run.error ?? ""];
}

const NARROW_HEADER = ["RUN", "MODE", "STATUS", "TOOK", "USERS", "NOTE"];
const WIDE_HEADER = ["RUN", "MODE", "REASON", "STATUS", "TRIGGER", "STARTED", "TOOK", "PAGES", "USERS", "WRITTEN", "CHANGES", "ERROR"];

/** Cuts the last column (NOTE) so that every line fits `width`. */
function fitLastColumn(rows: string[][], width: number): string[][] {
  const last = rows[0]!.length - 1;
  const before = rows[0]!.slice(0, last).map((_, column) => Math.max(...rows.map((row) => row[column]!.length)) + 2).reduce((a, b) => a + b, 0);
  const room = Math.max(8, width - before);
  return rows.map((row) => [...row.slice(0, last), truncate(row[last]!, room)]);
}

export async function runsCommand(options: RunsCommandOptions): Promise<void> {
  const store = storeFromEnvironment();
  const mirror = mirrorFromEnvironment();
  const rows: string[][] = [];
  let count = 0;
  for await (const listed of listAllRuns(store, mirror)) {
    if (count++ >= options.limit) break;
    if (options.json) await write(`${JSON.stringify({ kind: listed.kind, ...listed.run })}\n`);
    else rows.push(options.wide ? wideRow(listed) : narrowRow(listed));
  }
  if (options.json) return;
  if (rows.length === 0) {
    process.stderr.write("No runs recorded yet. Start one with: entra-user-sync run\n");
    return;
  }
  if (options.wide) {
    await write(formatTable([WIDE_HEADER, ...rows]));
    await write("\nMODE: snapshot = a point-in-time snapshot; full / incremental = a round of the live mirror (export --current, export --changes <run>).\n");
    return;
  }
  await write(formatTable(fitLastColumn([NARROW_HEADER, ...rows], RUNS_TABLE_WIDTH)));
  await write(
    [
      "",
      "RUN: the run's start (UTC) and, for MODE snapshot, the snapshot id (export --snapshot, diff).",
      "MODE full or incremental: a round of the live mirror (export --changes <RUN>).",
      "USERS: users read (snapshot), written (full round) or changed (incremental).",
      "Every column: runs --wide; every field: runs --json.",
      "",
    ].join("\n"),
  );
}
