/**
 * `npm run sandbox`: a playground. Starts the simulated tenant and Azurite (in memory), keeps them
 * running, and writes the settings that point the command line at them to a file to `source`.
 * Commands typed here change the simulated directory (add, update, rename, soft delete, hard delete,
 * restore), so that `run`, `export --changes` and `diff` have something to show. Ctrl+C (or `quit`)
 * stops both; nothing is left running.
 *
 *   npm run sandbox                       # 1,000 simulated users, settings in .sandbox/env.sh
 *   npm run sandbox -- --users 50000 --graph-latency 300 --settings-file /tmp/sandbox.env
 */
import "../src/shared/requireSupportedNode.js";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startAzurite, type AzuriteInstance } from "./azurite.js";
import { CHANGE_KINDS, DirectoryEditor, type ChangeKind } from "./sandboxChanges.js";
import { startSimulatedTenant, type SimulatedTenant } from "./simulated-tenant/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const USAGE = `Usage: npm run sandbox -- [--users <n>] [--graph-latency <ms>] [--settings-file <path>]

Starts the simulated tenant (Entra, Graph, Key Vault, managed identity) and Azurite, keeps them
running, and writes the settings for the command line to a file to source in another terminal.

Options:
  --users <n>             simulated users, 1 to 1,000,000 (default 1,000)
  --graph-latency <ms>    delay added to every Graph page, 0 to 10,000 (default 0): slower runs, to try Ctrl+C
  --settings-file <path>  where to write the settings (default .sandbox/env.sh)
  -h, --help              show this help
`;

function fail(message: string): never {
  process.stderr.write(`sandbox: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function options(): { users: number; latency: number; envFile: string } {
  let values: { users?: string; "graph-latency"?: string; "settings-file"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { users: { type: "string" }, "graph-latency": { type: "string" }, "settings-file": { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const users = values.users === undefined ? 1_000 : Number(values.users);
  if (!/^\d+$/.test(values.users ?? "1000") || !Number.isSafeInteger(users) || users < 1 || users > 1_000_000) fail(`--users must be a whole number from 1 to 1,000,000, not "${values.users}".`);
  const latencyText = values["graph-latency"] ?? "0";
  const latency = Number(latencyText);
  if (!/^\d+$/.test(latencyText) || latency > 10_000) fail(`--graph-latency must be a whole number of milliseconds from 0 to 10,000, not "${latencyText}".`);
  return { users, latency, envFile: resolve(values["settings-file"] ?? join(root, ".sandbox", "env.sh")) };
}

/** Single quotes keep a value literal in sh, bash and zsh. */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The settings as shell lines. */
function shellExports(env: Record<string, string>): string {
  return Object.entries(env).map(([name, value]) => `export ${name}=${shellQuote(value)}`).join("\n");
}

const HELP = `Directory changes (n defaults to 1):
  changes          a mix: 2 added, 2 updated, 1 renamed, 1 soft-deleted, 1 hard-deleted, 1 restored,
                   1 joined a group, 1 left one, 1 new manager
  add [n]          add users                 update [n]       change job title and department
  rename [n]       change the UPN            soft-delete [n]  move to the deleted items (restorable)
  hard-delete [n]  delete permanently        restore [n]      bring soft-deleted users back
  join [n]         add a user to a group     leave [n]        take a user out of a group
  manager [n]      give a user a new manager
  status           users now, and requests served      help   this list      quit   stop (or Ctrl+C)`;

const { users, latency, envFile } = options();
/** Groups of the sandbox's tenant (group 0 holds every user; the others nest, with a cycle). */
const SANDBOX_GROUPS = 16;
const count = (n: number) => n.toLocaleString("en-US");
let azurite: AzuriteInstance | undefined;
let tenant: SimulatedTenant | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (stopping) {
    // A second Ctrl+C while stopping: Azurite is killed by the exit hook of tools/azurite.ts.
    process.exit(code);
  }
  stopping = true;
  process.stdout.write("\nStopping the simulated tenant and Azurite…\n");
  rmSync(envFile, { force: true });
  await Promise.allSettled([tenant?.close(), azurite?.close()]);
  process.stdout.write(`Stopped; ${relative(process.cwd(), envFile) || envFile} was removed.\n`);
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
process.on("SIGHUP", () => void stop(0));

process.stdout.write(`Starting Azurite (in memory) and a simulated tenant of ${count(users)} users…\n`);
try {
  [azurite, tenant] = await Promise.all([startAzurite(), startSimulatedTenant({ userCount: users, graphLatencyInMs: latency, groups: { count: SANDBOX_GROUPS } })]);
} catch (error) {
  process.stderr.write(`sandbox: could not start: ${(error as Error).message}\n`);
  await stop(1);
}
const world = { azurite: azurite!, tenant: tenant! };
const env = {
  ...world.tenant.settingsEnv(),
  SNAPSHOT_STORAGE: world.azurite.connectionString,
  // The command line trusts the simulator's certificate authority (its HTTPS listeners on loopback).
  NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath,
};
mkdirSync(dirname(envFile), { recursive: true });
writeFileSync(
  envFile,
  [
    "# entra-user-sync sandbox settings (valid while npm run sandbox runs; removed when it stops)",
    shellExports(env),
    "# The built command line on the project's Node 22, as `entra-user-sync` (same as `npx entra-user-sync`).",
    `entra-user-sync() { ${shellQuote(process.execPath)} ${shellQuote(join(root, "dist", "src", "cli", "main.js"))} "$@"; }`,
    "",
  ].join("\n"),
  { mode: 0o600 },
);
chmodSync(envFile, 0o600);
const shown = relative(process.cwd(), envFile).startsWith("..") ? envFile : relative(process.cwd(), envFile);

process.stdout.write(
  [
    "",
    `Sandbox running: ${count(users)} users${latency > 0 ? `, ${count(latency)} ms per Graph page` : ""}.`,
    `  Entra token endpoint  ${world.tenant.authorityHost}/${world.tenant.tenantId}`,
    `  Microsoft Graph       ${world.tenant.graphEndpoint}`,
    `  Key Vault             ${world.tenant.keyVaultUrl} (certificate "${world.tenant.certificateName}")`,
    `  Managed identity      ${world.tenant.identityEndpoint}`,
    `  Table Storage         ${world.azurite.tableEndpoint} (Azurite, in memory)`,
    "",
    `Settings: ${shown} (${Object.keys(env).join(", ")}),`,
    "and a shell function entra-user-sync (the built command line). In another terminal:",
    "",
    `  source ${shown}`,
    "  entra-user-sync run                 # first run: a snapshot and the mirror's first round",
    "  entra-user-sync runs",
    "  entra-user-sync export --current | head -3",
    "",
    "Then change the directory here (type changes), and:",
    "",
    "  entra-user-sync run                 # an incremental round: one Graph request",
    "  entra-user-sync export --changes <RUN of the incremental round, from runs>",
    "  entra-user-sync run --full          # a second snapshot",
    "  entra-user-sync diff                # what changed between the two snapshots",
    "  entra-user-sync report --out .sandbox/report.html   # the run history as one HTML page",
    "",
    HELP,
    "",
    "",
  ].join("\n"),
);

const editor = new DirectoryEditor(world.tenant);
const input = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true, prompt: "sandbox> " });
// In a terminal, readline reads Ctrl+C as a key: stop as for SIGINT.
input.on("SIGINT", () => void stop(0));
// Without a terminal (stdin closed or redirected), keep running until a signal.
input.on("close", () => {
  if (!stopping && process.stdin.isTTY === true) void stop(0);
});
input.on("line", (line) => {
  const [word = "", arg] = line.trim().split(/\s+/);
  const n = arg === undefined ? 1 : Number(arg);
  if (word === "") {
    // nothing
  } else if (word === "quit" || word === "exit") {
    void stop(0);
    return;
  } else if (word === "help") {
    process.stdout.write(`${HELP}\n`);
  } else if (word === "status") {
    process.stdout.write(`${count(editor.presentUserCount())} users present; ${count(world.tenant.requests.count("graph"))} Graph requests served so far.\n`);
  } else if (!Number.isInteger(n) || n < 1 || n > 1000) {
    process.stdout.write(`${word}: n must be a whole number from 1 to 1,000.\n`);
  } else if (word === "changes") {
    process.stdout.write(`${editor.applyMix().join("\n")}\n`);
  } else if ((CHANGE_KINDS as readonly string[]).includes(word)) {
    const lines = editor.apply(word as ChangeKind, n);
    process.stdout.write(lines.length > 0 ? `${lines.join("\n")}\n` : `${word}: nothing to do (no ${word === "restore" ? "soft-deleted user" : "user left"}).\n`);
  } else {
    process.stdout.write(`Unknown command "${word}". Type help.\n`);
  }
  input.prompt();
});
input.prompt();
