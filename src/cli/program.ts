import { once } from "node:events";
import { Command, InvalidArgumentError, Option } from "commander";
import ora from "ora";
import { loadStorageSettings } from "../configuration/settings.js";
import { DefaultAzureCredential } from "@azure/identity";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import { formatFailureSummary, formatSuccessSummary } from "../sync/runSummary.js";
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

async function runCommand(options: { progress: boolean; maxMinutes?: number }): Promise<void> {
  const service = new UserSyncService(process.env);
  const startedAt = Date.now();
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
    const { run, stats, outcome, resumed } = await service.runSync(logger, {
      trigger: "cli",
      abortSignal: abort.signal,
      ...(options.maxMinutes !== undefined ? { runControl: { maxRunDurationInMs: options.maxMinutes * 60_000 } } : {}),
      onProgress: (s) => {
        if (spinner) spinner.text = `Synced ${number.format(s.entitiesWritten)} users (${number.format(s.pages)} pages, ${number.format(s.usersRead)} read)`;
      },
    });
    if (outcome === "paused") {
      spinner?.info("User sync stopped at a checkpoint");
      process.stdout.write(
        `User sync stopped at a checkpoint after ${number.format(stats.pages)} pages (${number.format(stats.entitiesWritten)} users written); run again to continue snapshot ${run.snapshotId} (run ${run.runId}).\n`,
      );
      throw new ExitCode(EXIT_PAUSED);
    }
    spinner?.succeed(resumed ? "User sync complete (resumed)" : "User sync complete");
    process.stdout.write(`${formatSuccessSummary(run, stats, Date.now() - startedAt)}\n`);
    const skipped = stats.counters.skippedUsers ?? 0;
    if (skipped > 0) process.stderr.write(`warning: ${number.format(skipped)} users could not be stored and were skipped; see: entra-user-sync runs --json\n`);
  } catch (error) {
    if (error instanceof ExitCode) throw error;
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

async function runsCommand(options: { limit: number; json: boolean }): Promise<void> {
  const store = storeFromEnvironment();
  const rows: string[][] = [];
  for await (const run of store.listRuns({ maxResults: options.limit })) {
    if (options.json) {
      await write(`${JSON.stringify(run)}\n`);
      continue;
    }
    rows.push([
      run.runId,
      run.status,
      run.trigger,
      run.startedAt.toISOString(),
      run.endedAt ? `${((run.endedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)} s` : "",
      number.format(run.stats.pages),
      number.format(run.stats.usersRead),
      number.format(run.stats.entitiesWritten),
      run.snapshotId,
      run.error ?? "",
    ]);
  }
  if (options.json) return;
  if (rows.length === 0) {
    process.stderr.write("No runs recorded yet. Start one with: entra-user-sync run\n");
    return;
  }
  const header = ["RUN", "STATUS", "TRIGGER", "STARTED", "TOOK", "PAGES", "USERS", "WRITTEN", "SNAPSHOT", "ERROR"];
  await write(formatTable([header, ...rows]));
}

async function exportCommand(options: { latest?: boolean; snapshot?: string; format: ExportFormat }): Promise<void> {
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
  process.stderr.write(`Exported ${number.format(count)} users from snapshot ${snapshotId}.\n`);
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

export function buildProgram(): Command {
  const program = new Command()
    .name("entra-user-sync")
    .description("Sync Microsoft Entra ID users into Azure Table Storage snapshots. Settings come from the environment (see README).")
    .showHelpAfterError()
    .exitOverride();
  program
    .command("run")
    .description("Run one sync now: read every user from Microsoft Graph and write a new snapshot.")
    .option("--no-progress", "do not show progress, even on a terminal")
    .addOption(new Option("--max-minutes <n>", "stop at a checkpoint after this many minutes; run again to continue (overrides USER_SYNC_MAX_RUN_MINUTES)").argParser(positiveInteger))
    .action(async (options: { progress: boolean; maxMinutes?: number }) =>
      runCommand({ progress: options.progress && process.stderr.isTTY === true, ...(options.maxMinutes !== undefined ? { maxMinutes: options.maxMinutes } : {}) }),
    );
  program
    .command("runs")
    .description("List recent runs, newest first, with their status and counts.")
    .option("--limit <n>", "how many runs", positiveInteger, 20)
    .option("--json", "one JSON object per run", false)
    .action(async (options: { limit: number; json: boolean }) => runsCommand(options));
  program
    .command("export")
    .description("Print the users of a complete snapshot, one per line.")
    .addOption(new Option("--latest", "the latest complete snapshot").conflicts("snapshot"))
    .addOption(new Option("--snapshot <id>", "a snapshot id (see: entra-user-sync runs)"))
    .addOption(new Option("--format <format>", "output format").choices(["jsonl", "csv"]).default("jsonl"))
    .action(async (options: { latest?: boolean; snapshot?: string; format: ExportFormat }) => {
      if (!options.latest && !options.snapshot) throw new InvalidArgumentError("choose --latest or --snapshot <id>.");
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
    if (isUserSyncError(error, "run_in_progress")) {
      process.stderr.write(`${redact(`${error.message} [run_in_progress]`)}\n`);
      return EXIT_RUN_IN_PROGRESS;
    }
    process.stderr.write(`${formatFailureSummary(error)}\n`);
    return EXIT_FAILURE;
  }
}
