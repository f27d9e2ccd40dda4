import { once } from "node:events";
import { Command, InvalidArgumentError, Option } from "commander";
import ora from "ora";
import { DURATION_SETTINGS, loadStorageSettings } from "../configuration/settings.js";
import { DefaultAzureCredential } from "@azure/identity";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import type { GraphUser } from "../graph/types.js";
import { toGraphObject } from "../mirror/mirrorEntity.js";
import { UserMirrorClient, type MirrorRunRecord } from "../mirror/userMirrorClient.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { formatFailureSummary, formatMirrorSummary, formatSnapshotSummary } from "../sync/runSummary.js";
import { UserSyncService } from "../sync/userSyncService.js";
import { createUserLineWriter, type ExportFormat } from "./exportFormats.js";

/**
 * Exit codes: 0 success, 1 the run or command failed, 2 bad usage or configuration, 3 another run
 * holds the writer lease (nothing was read or written), 4 the run stopped at a checkpoint (maximum
 * run duration, or Ctrl+C): run again to continue it.
 */
export const EXIT_FAILURE = 1;
export const EXIT_CONFIGURATION = 2;
export const EXIT_RUN_IN_PROGRESS = 3;
export const EXIT_PAUSED = 4;

/** Thrown by a command to end with a given exit code after it has printed its message. */
class ExitCode extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

const number = new Intl.NumberFormat("en-US");

const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m) => process.stderr.write(`error: ${m}\n`),
};

async function runCommand(options: { progress: boolean; maxMinutes?: number; full: boolean }): Promise<void> {
  const service = new UserSyncService(process.env);
  const spinner = options.progress ? ora({ stream: process.stderr, text: "Starting user sync…" }).start() : undefined;
  const logger: Logger = spinner
    ? {
        info: (m) => spinner.info(m).start(),
        warn: (m) => spinner.warn(m).start(),
        error: (m) => spinner.fail(m).start(),
      }
    : stderrLogger;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const result = await service.runDue(logger, {
      trigger: "cli",
      full: options.full,
      abortSignal: abort.signal,
      ...(options.maxMinutes !== undefined ? { runControl: { maxRunDurationInMs: options.maxMinutes * 60_000 } } : {}),
      onProgress: (s) => {
        if (spinner) spinner.text = `Snapshot: ${number.format(s.entitiesWritten)} users written (${number.format(s.pages)} pages, ${number.format(s.usersRead)} read)`;
      },
      onMirrorPage: (p) => {
        if (spinner) spinner.text = `Mirror (${p.mode} round): ${number.format(p.itemsRead)} items in ${number.format(p.pages)} pages`;
      },
    });
    const snapshot = result.snapshot;
    if (snapshot) {
      await write(`${formatSnapshotSummary(snapshot, result.snapshotElapsedInMs ?? 0)}\n`);
      const skipped = snapshot.stats.counters.skippedUsers ?? 0;
      if (skipped > 0) process.stderr.write(`warning: ${number.format(skipped)} users could not be stored and were skipped; see: entra-user-sync runs --json\n`);
    }
    if (result.mirror) {
      await write(`${formatMirrorSummary(result.mirror)}\n`);
      const skipped = result.mirror.counters.skippedUsers ?? 0;
      if (skipped > 0) process.stderr.write(`warning: ${number.format(skipped)} users could not be stored in the mirror and were skipped; see: entra-user-sync runs --json\n`);
    }
    if (snapshot?.outcome === "paused" || abort.signal.aborted) {
      spinner?.info("User sync stopped at a checkpoint");
      if (!result.mirror) process.stdout.write("The mirror was not updated this time; run again to continue.\n");
      throw new ExitCode(EXIT_PAUSED);
    }
    spinner?.succeed(snapshot?.resumed ? "User sync complete (resumed)" : "User sync complete");
  } catch (error) {
    if (error instanceof ExitCode) throw error;
    if (abort.signal.aborted && (error as { name?: string } | null)?.name === "AbortError") {
      spinner?.info("User sync stopped");
      process.stdout.write("User sync stopped before the mirror's round completed; its delta link was not moved, so the next run reads those changes again.\n");
      throw new ExitCode(EXIT_PAUSED);
    }
    spinner?.fail(isUserSyncError(error, "run_in_progress") ? "Another sync is running" : "User sync failed");
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function storeFromEnvironment(): SnapshotStoreClient {
  const storage = loadStorageSettings(process.env);
  return new SnapshotStoreClient(storage.kind === "identity" ? { storage, credential: new DefaultAzureCredential() } : { storage });
}

function mirrorFromEnvironment(): UserMirrorClient {
  const storage = loadStorageSettings(process.env);
  return new UserMirrorClient(storage.kind === "identity" ? { storage, credential: new DefaultAzureCredential() } : { storage });
}

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
  const parts = (["added", "updated", "restored", "removed"] as const).filter((k) => c[k] > 0).map((k) => `${number.format(c[k])} ${k}`);
  const skipped = run.counters.skippedUsers ?? 0;
  if (skipped > 0) parts.push(`${number.format(skipped)} skipped`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

const took = (startedAt: Date, endedAt: Date | undefined) => (endedAt ? `${((endedAt.getTime() - startedAt.getTime()) / 1000).toFixed(1)} s` : "");

async function runsCommand(options: { limit: number; json: boolean }): Promise<void> {
  const store = storeFromEnvironment();
  const mirror = mirrorFromEnvironment();
  const rows: string[][] = [];
  let count = 0;
  for await (const listed of listAllRuns(store, mirror)) {
    if (count++ >= options.limit) break;
    if (options.json) {
      await write(`${JSON.stringify({ kind: listed.kind, ...listed.run })}\n`);
      continue;
    }
    if (listed.kind === "snapshot") {
      const run = listed.run;
      rows.push([
        run.runId,
        "snapshot",
        "",
        run.status,
        run.trigger,
        run.startedAt.toISOString(),
        took(run.startedAt, run.endedAt),
        number.format(run.stats.pages),
        number.format(run.stats.usersRead),
        number.format(run.stats.entitiesWritten),
        "",
        run.snapshotId,
        run.error ?? "",
      ]);
    } else {
      const run = listed.run;
      rows.push([
        run.runId,
        run.mode,
        run.reason,
        run.status,
        run.trigger ?? "",
        run.startedAt.toISOString(),
        took(run.startedAt, run.endedAt),
        number.format(run.pages),
        number.format(run.itemsRead),
        number.format(run.mode === "full" ? run.usersWritten : run.changes.added + run.changes.updated + run.changes.restored + run.changes.removed),
        changeCounts(run),
        "",
        run.error ?? "",
      ]);
    }
  }
  if (options.json) return;
  if (rows.length === 0) {
    process.stderr.write("No runs recorded yet. Start one with: entra-user-sync run\n");
    return;
  }
  const header = ["RUN", "MODE", "REASON", "STATUS", "TRIGGER", "STARTED", "TOOK", "PAGES", "USERS", "WRITTEN", "CHANGES", "SNAPSHOT", "ERROR"];
  await write(formatTable([header, ...rows]));
  await write("\nMODE: snapshot = a point-in-time snapshot; full / incremental = a round of the live mirror (export --current, export --changes <run>).\n");
}

interface ExportOptions {
  latest?: boolean;
  snapshot?: string;
  current?: boolean;
  includeDeleted?: boolean;
  changes?: string;
  format: ExportFormat;
}

async function exportCommand(options: ExportOptions): Promise<void> {
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
  // CSV columns: the properties the snapshot's run selected, in USER_SYNC_SELECT order (a missing run is refused below).
  const run = await store.getRun(snapshotId!);
  const writer = createUserLineWriter(options.format, { columns: run?.select ?? ["id"] });
  let count = 0;
  for await (const user of store.listSnapshotUsers(snapshotId!)) {
    await write(writer.linesFor(user));
    count += 1;
  }
  process.stderr.write(`Exported ${number.format(count)} users from snapshot ${snapshotId}.\n`);
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
  // All or nothing: the mirror's version (its partitions' fence rows and delta state) is read before
  // and after; a round that wrote meanwhile makes the output a mix of two states.
  const before = await mirror.getVersion();
  for await (const mirrorUser of mirror.listUsers({ includeRemoved: options.includeDeleted === true })) {
    await write(writer.linesFor(toGraphObject(mirrorUser) as GraphUser));
    counts[mirrorUser.state === "present" ? "present" : "removed"] += 1;
  }
  if ((await mirror.getVersion()) !== before) {
    throw new UserSyncError(
      "read_incomplete",
      "The live mirror changed while it was read (a sync round wrote to it), so what was printed may mix two states: do not use it. Run export --current again (entra-user-sync runs shows when rounds run).",
    );
  }
  const removed = options.includeDeleted ? ` and ${number.format(counts.removed)} removed users` : "";
  process.stderr.write(`Exported ${number.format(counts.present)} current users${removed} from the live mirror (as of ${state.state.savedAt.toISOString()}, run ${state.state.runId}).\n`);
  const skipped = await mirror.skippedSinceFullRound();
  if (skipped.count > 0) {
    process.stderr.write(
      `warning: ${number.format(skipped.count)} users were skipped by the mirror since its last full round: they could not be stored (first: ${skipped.first.map((u) => u.id).join(", ")}); see: entra-user-sync runs --json\n`,
    );
  }
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
  if (run.status !== "succeeded") {
    throw new UserSyncError(
      "read_incomplete",
      `Mirror run ${runId} is ${run.status}: its change set is incomplete (the round did not finish; the next round read its changes again). Export the change set of a succeeded run (see: entra-user-sync runs).`,
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
      .map((k) => `${number.format(counts[k]!)} ${k}`)
      .join(", ") || "no changes";
  process.stderr.write(`Exported the change set of mirror run ${runId} (${run.mode} round, ${run.status}): ${summary}.\n`);
}

async function diffCommand(options: { from?: string; to?: string; format: "table" | "jsonl" }): Promise<void> {
  const store = storeFromEnvironment();
  const { from, to } = await snapshotsToCompare(store, options.from, options.to);
  const counts = { added: 0, removed: 0, changed: 0 };
  const byProperty = new Map<string, number>();
  for await (const change of store.diffSnapshots(from, to)) {
    counts[change.change] += 1;
    if (change.change === "changed") {
      for (const name of Object.keys(change.properties)) byProperty.set(name, (byProperty.get(name) ?? 0) + 1);
    }
    if (options.format === "jsonl") await write(`${JSON.stringify(change)}\n`);
  }
  const summary = `Compared snapshot ${from} with ${to}: ${number.format(counts.added)} added, ${number.format(counts.removed)} removed, ${number.format(counts.changed)} changed.`;
  if (options.format === "jsonl") {
    process.stderr.write(`${summary}\n`);
    return;
  }
  const rows = [
    ["CHANGE", "USERS"],
    ["added", number.format(counts.added)],
    ["removed", number.format(counts.removed)],
    ["changed", number.format(counts.changed)],
  ];
  let text = `${summary}\n\n${formatTable(rows)}`;
  if (byProperty.size > 0) {
    const properties = [...byProperty].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    text += `\n${formatTable([["PROPERTY", "USERS CHANGED"], ...properties.map(([name, n]) => [name, number.format(n)])])}`;
  }
  await write(text);
}

/** Default: the latest snapshot and the complete one before it; `--to` alone compares it with its predecessor. */
async function snapshotsToCompare(store: SnapshotStoreClient, from: string | undefined, to: string | undefined): Promise<{ from: string; to: string }> {
  if (from !== undefined && to !== undefined) return { from, to };
  let target = to;
  if (target === undefined) {
    const latest = await store.getLatestSnapshot();
    if (!latest) throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync twice (entra-user-sync run), then diff.");
    target = latest.snapshotId;
  }
  if (from !== undefined) return { from, to: target };
  for await (const run of store.listRuns()) {
    if (run.status === "succeeded" && !run.snapshotDeletedAt && run.snapshotId < target) return { from: run.snapshotId, to: target };
  }
  throw new UserSyncError("snapshot_not_found", `There is no complete snapshot before ${target} to compare it with. Run another sync, or name both with --from and --to (see: entra-user-sync runs).`);
}

/** Writes to stdout respecting backpressure, so an export of a million users stays in bounded memory. */
async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("expected a positive integer.");
  return parsed;
}

/** --max-minutes: whole minutes within USER_SYNC_MAX_RUN_MINUTES's range (so that no timer overflows), at least 1. */
function maxMinutes(value: string): number {
  const { max } = DURATION_SETTINGS.USER_SYNC_MAX_RUN_MINUTES;
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 1 && parsed <= max)) throw new InvalidArgumentError(`--max-minutes takes a whole number of minutes from 1 to ${max} (7 days), as USER_SYNC_MAX_RUN_MINUTES does.`);
  return parsed;
}

export function buildProgram(): Command {
  const program = new Command()
    .name("entra-user-sync")
    .description("Sync Microsoft Entra ID users into Azure Table Storage snapshots. Settings come from the environment (see README).")
    .showHelpAfterError()
    .exitOverride();
  program
    .command("run")
    .description(
      "Do what is due now: update the live mirror (incremental from its saved delta link, or a full round when due), and write a point-in-time snapshot when USER_SYNC_FULL_SCHEDULE is due (or none exists yet, or a stopped one is to be continued).",
    )
    .option("--full", "a full round now, whatever the schedule: a new snapshot and a full round of the mirror (mark and sweep)", false)
    .option("--no-progress", "do not show progress, even on a terminal")
    .addOption(new Option("--max-minutes <n>", "stop the snapshot at a checkpoint after this many minutes; run again to continue (overrides USER_SYNC_MAX_RUN_MINUTES)").argParser(maxMinutes))
    .action(async (options: { progress: boolean; maxMinutes?: number; full: boolean }) =>
      runCommand({ progress: options.progress && process.stderr.isTTY === true, full: options.full, ...(options.maxMinutes !== undefined ? { maxMinutes: options.maxMinutes } : {}) }),
    );
  program
    .command("runs")
    .description("List recent runs, newest first: snapshot runs and the live mirror's rounds (MODE full or incremental, and why), with their status and counts.")
    .option("--limit <n>", "how many runs", positiveInteger, 20)
    .option("--json", "one JSON object per run", false)
    .action(async (options: { limit: number; json: boolean }) => runsCommand(options));
  program
    .command("export")
    .description("Print users, one per line: of a complete snapshot, of the live mirror (--current), or one mirror run's change set (--changes).")
    .addOption(new Option("--latest", "the latest complete snapshot").conflicts(["snapshot", "current", "changes"]))
    .addOption(new Option("--snapshot <id>", "a snapshot id (see: entra-user-sync runs)").conflicts(["current", "changes"]))
    .addOption(new Option("--current", "the live mirror's current users, as Graph shows them").conflicts("changes"))
    .addOption(new Option("--include-deleted", 'with --current: also soft-deleted, deleted and missing users, marked "@removed": { reason, removedAt }'))
    .addOption(new Option("--changes <runId>", "what one mirror run added, updated, restored and removed (see: entra-user-sync runs)"))
    .addOption(new Option("--format <format>", "output format").choices(["jsonl", "csv"]).default("jsonl"))
    .action(async (options: ExportOptions) => {
      if (!options.latest && !options.snapshot && !options.current && options.changes === undefined) {
        throw new InvalidArgumentError("choose --latest, --snapshot <id>, --current or --changes <runId>.");
      }
      if (options.includeDeleted && !options.current) throw new InvalidArgumentError("--include-deleted goes with --current.");
      await exportCommand(options);
    });
  program
    .command("diff")
    .description("Show what changed between two complete snapshots (default: the latest two): users added, removed, and changed with the properties that changed.")
    .addOption(new Option("--from <id>", "the older snapshot (default: the complete snapshot before --to)"))
    .addOption(new Option("--to <id>", "the newer snapshot (default: the latest)"))
    .addOption(new Option("--format <format>", "a summary table, or one JSON object per change").choices(["table", "jsonl"]).default("table"))
    .action(async (options: { from?: string; to?: string; format: "table" | "jsonl" }) => diffCommand(options));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (error instanceof ExitCode) return error.exitCode;
    if (commanderCode === "commander.helpDisplayed" || commanderCode === "commander.version" || commanderCode === "commander.help") return 0;
    if (error instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_CONFIGURATION;
    }
    if (typeof commanderCode === "string" && commanderCode.startsWith("commander.")) return EXIT_CONFIGURATION;
    if (isUserSyncError(error) && (error.code === "missing_setting" || error.code === "invalid_setting" || error.code === "conflicting_settings")) {
      process.stderr.write(`${redact(error.message)}\n`);
      return EXIT_CONFIGURATION;
    }
    // Another run holds the lease (nothing was done), or took it over (this run wrote nothing more): exit 3.
    if (isUserSyncError(error, "run_in_progress") || isUserSyncError(error, "lease_lost")) {
      process.stderr.write(`${redact(`${error.message} [${error.code}]`)}\n`);
      return EXIT_RUN_IN_PROGRESS;
    }
    process.stderr.write(`${formatFailureSummary(error)}\n`);
    return EXIT_FAILURE;
  }
}
