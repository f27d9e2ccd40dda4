/**
 * The command line: commands, their flags (every value validated before anything runs), exit
 * codes and error messages that name the command that failed.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { describeError, isUserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { DURATION_SETTINGS } from "../configuration/settings.js";
import { isRunId } from "../tables/keys.js";
import { formatFailureSummary } from "../sync/runSummary.js";
import { diffCommand, type DiffOptions } from "./diffCommand.js";
import { EXIT_CONFIGURATION, EXIT_SUCCESS, ExitCode } from "../shared/exitCodes.js";
import { errorOutcome } from "../shared/errorOutcomes.js";
import { exportCommand, type ExportOptions } from "./exportCommand.js";
import { reportCommand, type ReportOptions } from "./reportCommand.js";
import { DEFAULT_REPORT_FILE } from "../configuration/defaults.js";
import { groupDiffCommand } from "./groupDiffCommand.js";
import { groupExportCommand } from "./groupExportCommand.js";
import { GROUPS } from "../kinds/groups.js";
import { assertGroupsKept } from "./groupSources.js";
import { fleetReportCommand } from "./fleetReportCommand.js";
import { loadTenantMode } from "../configuration/tenantModeSetting.js";
import { endQuietlyOnClosedPipe, writeError } from "./output.js";
import { outputFileArgument } from "./outputFile.js";
import { runCommand } from "./runCommand.js";
import { runsCommand, type RunsCommandOptions } from "./runsCommand.js";
import { selectTenant } from "./clients.js";
import { tenantsAddCommand } from "./tenantsAddCommand.js";
import { tenantsConsentUrlCommand } from "./tenantsConsentUrlCommand.js";
import { tenantsListCommand } from "./tenantsListCommand.js";
import { tenantsRemoveCommand } from "./tenantsRemoveCommand.js";
import { tenantsShowCommand } from "./tenantsShowCommand.js";
import { parseTenantId } from "../tenants/tenantId.js";
import { workerCommand, type WorkerCommandOptions } from "./workerCommand.js";

export { EXIT_CONFIGURATION, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_PAUSED, EXIT_RUN_IN_PROGRESS } from "../shared/exitCodes.js";

/** The package's version (dist/src/cli → the package root). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { name?: string; version?: string };
    if (pkg.name === "entra-user-sync" && typeof pkg.version === "string") return pkg.version;
  } catch {
    // fall through
  }
  return "unknown";
}

/** --max-minutes: whole minutes within USER_SYNC_MAX_RUN_MINUTES's range (so that no timer overflows), at least 1. */
function maxMinutes(value: string): number {
  const { max } = DURATION_SETTINGS.USER_SYNC_MAX_RUN_MINUTES;
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 1 && parsed <= max)) throw new InvalidArgumentError(`--max-minutes takes a whole number of minutes from 1 to ${max} (7 days), as USER_SYNC_MAX_RUN_MINUTES does.`);
  return parsed;
}

function positiveInteger(max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1 || parsed > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max.toLocaleString("en-US")}.`);
    }
    return parsed;
  };
}

/** Snapshot and run ids look like 20250310T020000000Z-abcdef (see: entra-user-sync runs). */
function runId(value: string): string {
  if (!isRunId(value)) throw new InvalidArgumentError("expected a run or snapshot id such as 20250310T020000000Z-abcdef (see: entra-user-sync runs).");
  return value;
}

/** A tenant id as given (GUID or domain): checked before anything runs. */
function tenantArgument(value: string): string {
  try {
    parseTenantId(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
  return value;
}

const TENANT_HELP = "the registered tenant (GUID) to work on; required when USER_SYNC_TENANT_MODE=multi, refused otherwise";

/** `run`: what is due now, with its progress display. */
function addRunCommand(program: Command): void {
  program
    .command("run")
    .description(
      "Do what is due now: update the live mirror (incremental from its saved delta link, or a full round when due), and write a point-in-time snapshot when USER_SYNC_FULL_SCHEDULE is due (or none exists yet, or a stopped one is to be continued). Ctrl+C stops at the next checkpoint (exit 4); a second Ctrl+C stops at once (exit 130).",
    )
    .option("--full", "a full round now, whatever the schedule: a new snapshot and a full round of the mirror (mark and sweep)", false)
    .option("--no-progress", "do not show progress, even on a terminal")
    .addOption(
      new Option("--max-minutes <n>", "stop the snapshot at a checkpoint after this many minutes; run again to continue (overrides USER_SYNC_MAX_RUN_MINUTES)").argParser(
        maxMinutes,
      ),
    )
    .addOption(new Option("--tenant <tenantId>", TENANT_HELP).argParser(tenantArgument))
    .action(async (options: { progress: boolean; maxMinutes?: number; full: boolean; tenant?: string }) => {
      const tenant = await selectTenant(options.tenant);
      await runCommand({ progress: options.progress, full: options.full, ...(options.maxMinutes !== undefined ? { maxMinutes: options.maxMinutes } : {}), ...(tenant ? { tenant } : {}) });
    });
}

/** `runs`: the recent runs, newest first. */
function addRunsCommand(program: Command): void {
  program
    .command("runs")
    .description("List recent runs, newest first: snapshot runs and the live mirror's rounds (MODE full or incremental), with their status and counts.")
    .option("--limit <n>", "how many runs", positiveInteger(10_000), 20)
    .addOption(new Option("--json", "one JSON object per run, every field").default(false).conflicts("wide"))
    .option("--wide", "every column (reason, trigger, start time, pages, errors in full)", false)
    .addOption(new Option("--tenant <tenantId>", TENANT_HELP).argParser(tenantArgument))
    .action(async (options: RunsCommandOptions & { tenant?: string }) => {
      await runsCommand({ ...options, tenant: await selectTenant(options.tenant) });
    });
}

/** `export`: users of a snapshot, of the live mirror, or of one mirror run's change set. */
function addExportCommand(program: Command): void {
  program
    .command("export")
    .description("Print users, one per line: of a complete snapshot, of the live mirror (--current), or one mirror run's change set (--changes). With --groups or --memberships [--transitive]: the groups, or their memberships, of a snapshot or the live mirror.")
    .addOption(new Option("--latest", "the latest complete snapshot").conflicts(["snapshot", "current", "changes"]))
    .addOption(new Option("--snapshot <id>", "a snapshot id (see: entra-user-sync runs)").argParser(runId).conflicts(["current", "changes"]))
    .addOption(new Option("--current", "the live mirror's current users, as Graph shows them").conflicts("changes"))
    .addOption(new Option("--include-deleted", 'with --current: also soft-deleted, deleted and missing users, marked "@removed": { reason, removedAt }'))
    .addOption(new Option("--changes <runId>", "what one mirror run added, updated, restored and removed (see: entra-user-sync runs)").argParser(runId))
    .addOption(new Option("--format <format>", "output format: JSON Lines, CSV, or Parquet (the analytics lane's file shape, docs/analytics.md; needs --out)").choices(["jsonl", "csv", "parquet"]).default("jsonl"))
    .addOption(new Option("--out <file>", "with --format parquet: the file to write (a binary format is never written to the terminal)"))
    .addOption(
      new Option(
        "--raw",
        "with --format csv: write every cell exactly as stored. By default a cell starting with = + - @ (or a tab or carriage return) gets a leading ' so that a spreadsheet shows it rather than running it as a formula (directory values come from the directory's administrators), and control and bidi characters are written as visible \\uXXXX escapes so that neither a spreadsheet nor a terminal acts on them. JSON Lines is always exact.",
      ),
    )
    .addOption(new Option("--groups", "the groups (USER_SYNC_GROUPS=true) instead of the users; with --changes <groups' mirror run> --format parquet: its group changes").conflicts(["includeDeleted", "memberships"]))
    .addOption(
      new Option("--memberships", 'the groups\' direct memberships, one {"groupId","memberId","memberType"} per line (USER_SYNC_GROUPS=true); with --changes <groups\' mirror run> --format parquet: its membership changes').conflicts(["includeDeleted"]),
    )
    .addOption(new Option("--transitive", 'with --memberships: also nested ones, with their shortest "depth" (1: direct)'))
    .addOption(
      new Option(
        "--with-manager-chain",
        'each user with its chain of managers, nearest first: "managerChain": [ids] (CSV: a JSON array), and "managerChainCycle": true when the chain came back to a manager already in it (USER_SYNC_GROUPS=true)',
      ).conflicts(["changes", "groups", "memberships"]),
    )
    .addOption(new Option("--tenant <tenantId>", TENANT_HELP).argParser(tenantArgument))
    .action(async (options: ExportOptions & { tenant?: string; groups?: boolean; memberships?: boolean; transitive?: boolean }) => {
      if (!options.latest && !options.snapshot && !options.current && options.changes === undefined) {
        throw new InvalidArgumentError("export: choose --latest, --snapshot <id>, --current or --changes <runId>.");
      }
      if (options.includeDeleted && !options.current) throw new InvalidArgumentError("export: --include-deleted goes with --current.");
      if (options.raw && options.format !== "csv") throw new InvalidArgumentError("export: --raw goes with --format csv (JSON Lines is always exact).");
      if (options.transitive && !options.memberships) throw new InvalidArgumentError("export: --transitive goes with --memberships.");
      if ((options.format === "parquet") !== (options.out !== undefined)) throw new InvalidArgumentError("export: --format parquet needs --out <file>, and --out goes with --format parquet.");
      if (options.groups || options.memberships) {
        const what = options.groups ? "groups" : "memberships";
        if (options.changes !== undefined) assertGroupChangesExport(options);
        assertGroupsKept(process.env); // before --tenant reads the registry
        const tenant = await selectTenant(options.tenant);
        if (options.changes !== undefined) return exportCommand({ ...options, tenant, kind: GROUPS, groupChanges: what });
        const { latest, snapshot, current, format, raw, transitive, out } = options;
        await groupExportCommand({ latest, snapshot, current, format, out, raw, transitive, what, tenant });
        return;
      }
      if (options.withManagerChain) {
        if (options.format === "parquet") throw new InvalidArgumentError("export: --with-manager-chain is written as jsonl or csv; --format parquet has the users' columns only (docs/analytics.md).");
        assertGroupsKept(process.env); // before --tenant reads the registry
      }
      await exportCommand({ ...options, tenant: await selectTenant(options.tenant) });
    });
}

/** `--changes <run> --groups|--memberships`: one of a groups' mirror run's two change sets, a Parquet file each (JSON Lines and CSV write both sets together). */
function assertGroupChangesExport(options: ExportOptions & { transitive?: boolean }): void {
  if (options.format !== "parquet") {
    throw new InvalidArgumentError(
      "export: --changes <runId> of a groups' mirror run writes its group and membership changes together in jsonl or csv: drop --groups/--memberships, or add --format parquet --out <file> for one of its two change sets.",
    );
  }
  if (options.transitive) throw new InvalidArgumentError("export: --transitive goes with a snapshot or --current; a change set holds direct memberships (drop --transitive).");
}

/** `diff`: what changed between two complete snapshots. */
function addDiffCommand(program: Command): void {
  program
    .command("diff")
    .description("Show what changed between two complete snapshots (default: the latest two): users added, removed, and changed with the properties that changed.")
    .addOption(new Option("--from <id>", "the older snapshot (default: the complete snapshot before --to)").argParser(runId))
    .addOption(new Option("--to <id>", "the newer snapshot (default: the latest)").argParser(runId))
    .addOption(new Option("--format <format>", "a summary table, or one JSON object per change").choices(["table", "jsonl"]).default("table"))
    .addOption(new Option("--groups", "the groups (added, removed, changed), memberships (joined, left) and managers (set, cleared, changed) instead of the users (USER_SYNC_GROUPS=true)"))
    .addOption(new Option("--tenant <tenantId>", TENANT_HELP).argParser(tenantArgument))
    .action(async (options: DiffOptions & { tenant?: string; groups?: boolean }) => {
      if (options.groups) {
        assertGroupsKept(process.env); // before --tenant reads the registry
        const { from, to, format } = options;
        await groupDiffCommand({ from, to, format, tenant: await selectTenant(options.tenant) });
        return;
      }
      await diffCommand({ ...options, tenant: await selectTenant(options.tenant) });
    });
}

/** `report`: the HTML page of the run history (the fleet page in multi-tenant mode without --tenant). */
function addReportCommand(program: Command): void {
  program
    .command("report")
    .description("Write one self-contained HTML page of the run history in storage: outcomes, durations, users, joiners/movers/leavers, throttling (the charts of the Application Insights workbook). In multi-tenant mode without --tenant: the fleet page, every tenant's health worst first, with each tenant's page next to it. No user data.")
    .option("--out <file>", 'the HTML file to write, in a directory that exists ("-": standard output)', outputFileArgument, DEFAULT_REPORT_FILE)
    .option("--days <n>", "how many days back, up to today", positiveInteger(366), 14)
    .addOption(new Option("--tenant <tenantId>", TENANT_HELP).argParser(tenantArgument))
    .action(async (options: ReportOptions & { tenant?: string }) => {
      // Multi-tenant mode without --tenant: the fleet page, every tenant's health worst first.
      if (options.tenant === undefined && loadTenantMode(process.env) === "multi") return fleetReportCommand(options);
      await reportCommand({ ...options, tenant: await selectTenant(options.tenant) });
    });
}

/** `worker`: multi-tenant mode's scheduler and queue worker without the Functions host. */
function addWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description(
      "Multi-tenant mode: queue every registered tenant (unless already queued or running), then process the tenant queue with the queue-triggered function's handler, several tenants at once; without --once, queue them again at every occurrence of USER_SYNC_SCHEDULE, as the timer does, until Ctrl+C. The way to fan out without the Functions host (locally, on a VM). Ctrl+C stops the schedule and pauses the runs under way at their checkpoints, leaving their messages for the next worker. Exit 1 when a tenant failed; 4 when Ctrl+C stopped --once before the queue was drained.",
    )
    .option("--concurrency <n>", "tenants synced at once", positiveInteger(64), 4)
    .option("--once", "drain the queue (continuations of paused runs included) and exit", false)
    .option("--no-schedule", "do not queue the registered tenants (neither first nor on USER_SYNC_SCHEDULE); only process what is queued")
    .addOption(new Option("--continuation-delay <seconds>", "how long the continuation of a paused run waits in the queue").argParser(positiveInteger(3600)))
    .addOption(
      new Option("--message-visibility <seconds>", "how long a taken message stays hidden from other workers before this worker extends it (and before another worker sees the message of a worker that died)").argParser(
        positiveInteger(3600),
      ),
    )
    .addOption(new Option("--retry-delay <seconds>", "how long a failed message waits before its next attempt (host.json visibilityTimeout)").argParser(positiveInteger(3600)))
    .addOption(new Option("--max-minutes <n>", "each run stops at a checkpoint after this many minutes and is continued through the queue (overrides USER_SYNC_MAX_RUN_MINUTES)").argParser(maxMinutes))
    .action(async (options: WorkerCommandOptions) => workerCommand(options));
}

/** `tenants add|list|show|remove|consent-url`: the tenant registry. */
function addTenantsCommands(program: Command): void {
  const tenants = program
    .command("tenants")
    .description("The tenant registry of multi-tenant mode (USER_SYNC_TENANT_MODE=multi): onboarding and offboarding customer tenants (docs/tenants.md).");
  tenants
    .command("add")
    .description("Register a customer tenant (after its administrator consented: see tenants consent-url). A domain is resolved to the tenant's GUID.")
    .argument("<tenantId>", "the tenant's GUID or one of its verified domains", tenantArgument)
    .option("--name <text>", "a label for the tenant (e.g. the customer's name)")
    .action(async (tenant: string, options: { name?: string }) => tenantsAddCommand(tenant, options));
  tenants
    .command("list")
    .description("List the registered tenants: name, whether queued or running, health (last success, users, mirror age, consent) and the latest outcome.")
    .option("--json", "one JSON object per tenant, every field", false)
    .option("--worst-first", "sorted by health, worst first (poisoned, failing, stale, pending, healthy), instead of by tenant id", false)
    .action(async (options: { json: boolean; worstFirst: boolean }) => tenantsListCommand(options));
  tenants
    .command("show")
    .description("Show one registered tenant: its tables, state, latest outcome and error.")
    .argument("<tenantId>", "the tenant's GUID", tenantArgument)
    .action(async (tenant: string) => tenantsShowCommand(tenant));
  tenants
    .command("remove")
    .description("Remove a tenant from the registry (no more runs for it). --delete-data also deletes its tables, and says which.")
    .argument("<tenantId>", "the tenant's GUID", tenantArgument)
    .option("--delete-data", "also delete the tenant's snapshots, run records, mirror and change log", false)
    .action(async (tenant: string, options: { deleteData: boolean }) => tenantsRemoveCommand(tenant, options));
  tenants
    .command("consent-url")
    .description("Print the URL where the tenant's administrator grants the app its permissions (admin consent), in the configured cloud, with the redirect URI the app registers (docs/tenants.md). Reads only GRAPH_CLIENT_ID, GRAPH_CLOUD and GRAPH_AUTHORITY_HOST.")
    .argument("<tenantId>", "the tenant's GUID or one of its verified domains", tenantArgument)
    .action(async (tenant: string) => tenantsConsentUrlCommand(tenant));
}

export function buildProgram(): Command {
  const program = new Command()
    .name("entra-user-sync")
    .description("Sync Microsoft Entra ID users into Azure Table Storage snapshots and a live mirror. Settings come from the environment (see README).")
    .version(`${packageVersion()} (Node.js ${process.versions.node})`, "-V, --version", "print the version")
    .showHelpAfterError()
    .exitOverride()
    // Commander's own messages quote what was typed: shown like every other message.
    .configureOutput({ writeErr: (text) => writeError(text) });
  addRunCommand(program);
  addRunsCommand(program);
  addExportCommand(program);
  addDiffCommand(program);
  addReportCommand(program);
  addWorkerCommand(program);
  addTenantsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const program = buildProgram();
  let command = "entra-user-sync";
  program.hook("preAction", (_program, action) => {
    const parent = action.parent;
    command = parent && parent !== program ? `${parent.name()} ${action.name()}` : action.name();
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_SUCCESS;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (error instanceof ExitCode) return error.exitCode;
    if (commanderCode === "commander.helpDisplayed" || commanderCode === "commander.version" || commanderCode === "commander.help") return EXIT_SUCCESS;
    if (error instanceof InvalidArgumentError) {
      writeError(`error: ${error.message}\n`);
      return EXIT_CONFIGURATION;
    }
    if (typeof commanderCode === "string" && commanderCode.startsWith("commander.")) return EXIT_CONFIGURATION;
    // Bad settings (exit 2), another run holding the lease or taking it over (exit 3): the message says it all.
    const outcome = errorOutcome(error);
    if (outcome.bare && isUserSyncError(error)) {
      const isSetting = outcome.exitCode === EXIT_CONFIGURATION;
      writeError(`${redact(isSetting ? error.message : `${error.message} [${error.code}]`)}\n`);
      return outcome.exitCode;
    }
    // `run` is the user sync; the other commands say which one failed.
    writeError(`${command === "run" ? formatFailureSummary(error) : redact(`entra-user-sync ${command} failed: ${describeError(error)}`)}\n`);
    return outcome.exitCode;
  }
}
