/**
 * `npm run demo`: the product's story on this machine with nothing to configure. It starts Azurite
 * (in memory) and the project's simulated tenant (Entra token endpoint, Graph, Key Vault and a
 * managed identity endpoint over HTTPS on loopback), then runs the real command line against them
 * as a separate process, as an operator would: a first full run, a few directory changes, an
 * incremental run (one Graph request), a second snapshot and the diff between the two, and where
 * the data lives. It checks the snapshot against the simulated directory user by user.
 *
 *   npm run demo                 # 10,000 simulated users
 *   npm run demo -- --users 500  # any size
 *   npm run demo -- --tenants 5  # multi-tenant mode: five tenants synced in parallel by `worker` (tools/demoTenants.ts)
 */
import "../src/shared/requireSupportedNode.js";
import { mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { TableClient, TableServiceClient } from "@azure/data-tables";
import { DEFAULT_SELECT } from "../src/configuration/settings.js";
import { startAzurite } from "./azurite.js";
import { DirectoryEditor } from "./sandboxChanges.js";
import { startSimulatedTenant } from "./simulated-tenant/index.js";
import { cliRun, count, heading, note } from "./demoConsole.js";
import { runTenantsDemo } from "./demoTenants.js";


const USAGE = `Usage: npm run demo -- [--users <n>] [--certificate-format pkcs12|pem] [--show <n>] [--report <file>]
       npm run demo -- --tenants <n> [--users <n>]

Syncs a simulated tenant into an in-memory Azurite with the real command line, and shows a first
full run, directory changes, an incremental run, a diff between two snapshots, and the tables.

Options:
  --users <n>                     simulated users, 1 to 1,000,000 (default 10,000)
  --certificate-format <format>   how Key Vault stores the app's certificate: pkcs12 (default) or pem
  --show <n>                      exported users to print, 0 to 100 (default 3)
  --report <file>                 where to write the run report (default: report.html in a new folder of its own in the temp directory)
  --tenants <n>                   multi-tenant mode instead: n customer tenants (1 to 50) of --users users each
                                  (default 2,000), onboarded and synced in parallel by worker (docs/tenants.md)
  -h, --help                      show this help
`;

function usageError(message: string): never {
  process.stderr.write(`demo: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) usageError(`--${name} must be a whole number from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}, not "${value}".`);
  return n;
}

let values: { users?: string; "certificate-format": string; show: string; report?: string; tenants?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      users: { type: "string" },
      tenants: { type: "string" },
      "certificate-format": { type: "string", default: "pkcs12" },
      show: { type: "string", default: "3" },
      report: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  usageError((error as Error).message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.tenants !== undefined) {
  const tenants = wholeNumber("tenants", values.tenants, 1, 50);
  const usersPerTenant = wholeNumber("users", values.users ?? "2000", 1, 100_000);
  process.exit(await runTenantsDemo({ tenants, usersPerTenant }));
}
const userCount = wholeNumber("users", values.users ?? "10000", 1, 1_000_000);
const show = wholeNumber("show", values.show, 0, 100);
const format = values["certificate-format"];
if (format !== "pkcs12" && format !== "pem") usageError(`--certificate-format must be pkcs12 or pem, not "${format}".`);
/** Where the report goes: --report, or a new folder of this run's own (mode 700), which no other user of the machine can put or replace a file in. */
const newReportFile = () => (values.report !== undefined ? resolve(values.report) : join(mkdtempSync(join(tmpdir(), "entra-user-sync-demo-")), "report.html"));
const contentType = format === "pem" ? "application/x-pem-file" : "application/x-pkcs12";


heading(`Starting Azurite (in memory) and a simulated tenant of ${count(userCount)} users`);
const azurite = await startAzurite();
const tenant = await startSimulatedTenant({ userCount, certificateContentType: contentType });
let exitCode = 0;
// Ctrl+C reaches the running command line too (it pauses at its checkpoint); the demo then stops
// before its next step and closes both services.
let interrupted = false;
process.on("SIGINT", () => {
  interrupted = true;
  exitCode = 130;
});
try {
  console.log(`  token endpoint  ${tenant.authorityHost}/${tenant.tenantId}`);
  console.log(`  Microsoft Graph ${tenant.graphEndpoint}`);
  console.log(`  Key Vault       ${tenant.keyVaultUrl} (certificate "${tenant.certificateName}", ${contentType})`);
  console.log(`  Table Storage   ${azurite.tableEndpoint}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...tenant.settingsEnv(),
    SNAPSHOT_STORAGE: azurite.connectionString,
    // No scheduled full round falls due while the demo runs (29 February at midnight UTC).
    USER_SYNC_FULL_SCHEDULE: "0 0 0 29 2 *",
    // The child trusts the simulator's own certificate authority, and nothing else changes.
    NODE_EXTRA_CA_CERTS: tenant.caCertificatePath,
  };
  const must = async (args: string[], options: { captureStdout?: boolean } = {}) => {
    if (interrupted) throw new Error("stopped by Ctrl+C");
    const result = await cliRun(args, env, options);
    if (interrupted) throw new Error(`stopped by Ctrl+C (entra-user-sync ${args[0]} exited with code ${result.code})`);
    if (result.code !== 0) throw new Error(`entra-user-sync ${args.join(" ")} exited with code ${result.code}`);
    return result;
  };
  const graphRequests = () => tenant.requests.count("graph");

  heading("1. A first full run: entra-user-sync run");
  note("The first run writes a point-in-time snapshot (Graph /users) and seeds the live mirror's full round from the same pages: the directory is read once.");
  await must(["run"]);
  console.log(`  Graph requests: ${count(graphRequests())}`);

  heading("entra-user-sync runs");
  await must(["runs", "--limit", "5"]);

  heading(`entra-user-sync export --latest  (first ${show} of ${count(userCount)} lines)`);
  const exported = await must(["export", "--latest", "--format", "jsonl"], { captureStdout: true });
  const lines = exported.stdout.split("\n").filter((line) => line !== "");
  for (const line of lines.slice(0, show)) console.log(line);

  heading("2. The directory changes");
  const editor = new DirectoryEditor(tenant);
  for (const line of editor.applyMix()) console.log(`  ${line}`);

  heading("3. An incremental run: entra-user-sync run");
  note("Only the mirror's round is due: it asks Graph for what changed since its saved delta link.");
  const before = graphRequests();
  await must(["run"]);
  const incrementalRequests = graphRequests() - before;
  console.log(`  Graph requests: ${count(incrementalRequests)} (the first run needed ${count(before)})`);
  const runs = (await must(["runs", "--json", "--limit", "1"], { captureStdout: true })).stdout;
  const incremental = JSON.parse(runs.split("\n")[0]!) as { runId: string };

  heading(`entra-user-sync export --changes ${incremental.runId}  (one JSON line per change; here in short)`);
  const changeSet = (await must(["export", "--changes", incremental.runId], { captureStdout: true })).stdout;
  for (const line of changeSet.split("\n").filter((l) => l !== "")) {
    const c = JSON.parse(line) as { change: string; reason?: string; id: string; user: { displayName?: string; userPrincipalName?: string } };
    // Graph's reasons: "changed" = soft-deleted (restorable), "deleted" = deleted for good.
    const why = c.reason === "changed" ? " (soft delete)" : c.reason === "deleted" ? " (hard delete)" : "";
    console.log(`  ${`${c.change}${why}`.padEnd(22)} ${c.id}  ${c.user.displayName ?? ""} <${c.user.userPrincipalName ?? ""}>`);
  }

  heading("4. A second snapshot, and what changed: entra-user-sync run --full, then entra-user-sync diff");
  await must(["run", "--full"]);
  await must(["diff"]);

  const reportFile = newReportFile();
  heading(`5. The run history as one HTML page: entra-user-sync report --out ${reportFile}`);
  note("Outcomes, durations, users, joiners/movers/leavers and throttling from the run records (no user data); the same charts as the Application Insights workbook.");
  await must(["report", "--out", reportFile, "--days", "7"]);

  heading("6. Where the data lives");
  const service = TableServiceClient.fromConnectionString(azurite.connectionString, { allowInsecureConnection: true });
  const purposes: Record<string, string> = {
    entraUserSnapshots: "snapshot users: one entity per user per snapshot, spread over partitions",
    entraUserRuns: "snapshot runs, their checkpoints, the latest-snapshot pointer and the writer lease",
    entraUserMirror: "the live mirror: one entity per user, present or removed (export --current)",
    entraUserMirrorChanges: "each mirror run's change set (export --changes)",
  };
  console.log(`  Azure Table Storage (here Azurite at ${azurite.tableEndpoint}), tables:`);
  for await (const table of service.listTables()) {
    const client = TableClient.fromConnectionString(azurite.connectionString, table.name!, { allowInsecureConnection: true });
    let entities = 0;
    let fences = 0;
    for await (const page of client.listEntities({ queryOptions: { select: ["RowKey"] } }).byPage({ maxPageSize: 1000 })) {
      for (const entity of page) {
        if (entity.rowKey === "") fences += 1;
        else entities += 1;
      }
    }
    // Fence rows (RowKey "") guard each partition against a writer that lost its lease (docs/storage.md).
    const fenceNote = fences > 0 ? ` (+${count(fences)} fence rows)` : "";
    console.log(`  ${table.name!.padEnd(24)} ${count(entities).padStart(9)} entities  ${purposes[table.name!] ?? ""}${fenceNote}`);
  }
  note("  The layout and what a reader can rely on: docs/storage.md; the mirror: docs/mirror.md.");

  // The first snapshot must be the simulated directory as it was, user for user.
  heading("Check");
  const expected = new Map<string, string>();
  for (const user of tenant.directory.users(DEFAULT_SELECT)) expected.set(user.id, JSON.stringify(user));
  const mismatched = lines.filter((line) => {
    const user = JSON.parse(line) as { id: string };
    const want = expected.get(user.id);
    expected.delete(user.id);
    return want === undefined || JSON.stringify(JSON.parse(want)) !== JSON.stringify(user);
  });
  if (mismatched.length === 0 && expected.size === 0 && lines.length === userCount) {
    console.log(`  The first snapshot holds all ${count(userCount)} users exactly as Graph returned them.`);
  } else {
    console.log(`  MISMATCH: ${mismatched.length} differing, ${expected.size} missing, ${lines.length} exported.`);
    exitCode = 1;
  }
  if (incrementalRequests !== 1) {
    console.log(`  UNEXPECTED: the incremental run sent ${incrementalRequests} Graph requests, not 1.`);
    exitCode = 1;
  }
  console.log(
    `  Requests in all: ${count(tenant.requests.count("token"))} token, ${count(tenant.requests.count("keyVault"))} Key Vault, ${count(tenant.requests.count("managedIdentity"))} managed identity, ${count(graphRequests())} Graph.`,
  );
  console.log(`  The run report: ${reportFile}`);
  note("\nTo explore on your own: npm run sandbox (see the README's quick tour).");
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  exitCode = exitCode || 1;
} finally {
  await tenant.close();
  await azurite.close();
}
process.exit(exitCode);
