/**
 * `npm run demo`: a whole sync on this machine with nothing to configure. It starts Azurite (in
 * memory) and the project's simulated tenant (Entra token endpoint, Graph, Key Vault and a managed
 * identity endpoint over HTTPS on loopback), then runs the real command line against them as a
 * separate process, exactly as an operator would: `run`, `runs`, and `export --latest`.
 *
 *   npm run demo                 # 10,000 simulated users
 *   npm run demo -- --users 500  # any size
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_SELECT } from "../src/configuration/settings.js";
import { startAzurite } from "./azurite.js";
import { startSimulatedTenant } from "./simulated-tenant/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, "..", "src", "cli", "main.js");

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    "certificate-format": { type: "string", default: "pkcs12" },
    show: { type: "string", default: "3" },
  },
});
const userCount = Number(values.users);
if (!Number.isInteger(userCount) || userCount < 1) {
  console.error("--users must be a positive integer");
  process.exit(2);
}
const contentType = values["certificate-format"] === "pem" ? "application/x-pem-file" : "application/x-pkcs12";

function cliRun(args: string[], env: NodeJS.ProcessEnv, options: { captureStdout?: boolean } = {}): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", options.captureStdout ? "pipe" : "inherit", "inherit"] });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

const heading = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);

heading(`Starting Azurite (in memory) and a simulated tenant of ${userCount.toLocaleString("en-US")} users`);
const azurite = await startAzurite();
const tenant = await startSimulatedTenant({ userCount, certificateContentType: contentType });
let exitCode = 0;
try {
  console.log(`  token endpoint  ${tenant.authorityHost}/${tenant.tenantId}`);
  console.log(`  Microsoft Graph ${tenant.graphEndpoint}`);
  console.log(`  Key Vault       ${tenant.keyVaultUrl} (certificate "${tenant.certificateName}", ${contentType})`);
  console.log(`  Table Storage   ${azurite.tableEndpoint}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...tenant.settingsEnv(),
    SNAPSHOT_STORAGE: azurite.connectionString,
    // The child trusts the simulator's own certificate authority, and nothing else changes.
    NODE_EXTRA_CA_CERTS: tenant.caCertificatePath,
  };

  heading("entra-user-sync run");
  const run = await cliRun(["run"], env);
  if (run.code !== 0) throw new Error(`the sync exited with code ${run.code}`);

  heading("entra-user-sync runs");
  await cliRun(["runs", "--limit", "5"], env);

  const show = Number(values.show);
  heading(`entra-user-sync export --latest --format jsonl  (first ${show} of ${userCount.toLocaleString("en-US")} lines)`);
  const exported = await cliRun(["export", "--latest", "--format", "jsonl"], env, { captureStdout: true });
  const lines = exported.stdout.split("\n").filter((line) => line !== "");
  for (const line of lines.slice(0, show)) console.log(line);

  // The snapshot must be the simulated directory, user for user.
  const expected = new Map<string, string>();
  for (const user of tenant.directory.users(DEFAULT_SELECT)) expected.set(user.id, JSON.stringify(user));
  const mismatched = lines.filter((line) => {
    const user = JSON.parse(line) as { id: string };
    const want = expected.get(user.id);
    expected.delete(user.id);
    return want === undefined || JSON.stringify(JSON.parse(want)) !== JSON.stringify(user);
  });
  heading("Check");
  if (mismatched.length === 0 && expected.size === 0 && lines.length === userCount) {
    console.log(`  The latest snapshot holds all ${userCount.toLocaleString("en-US")} users exactly as Graph returned them.`);
  } else {
    console.log(`  MISMATCH: ${mismatched.length} differing, ${expected.size} missing, ${lines.length} exported.`);
    exitCode = 1;
  }
  console.log(
    `  Requests: ${tenant.requests.count("token")} token, ${tenant.requests.count("keyVault")} Key Vault, ${tenant.requests.count("managedIdentity")} managed identity, ${tenant.requests.count("graph")} Graph.`,
  );
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await tenant.close();
  await azurite.close();
}
process.exit(exitCode);
