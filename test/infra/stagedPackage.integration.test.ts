/**
 * The shipped package is the tested package. The package is staged as azd and the pipeline stage it
 * (infra/scripts/stage-app.mjs: the compiled app and production dependencies only), then run in a
 * process of its own on the project's Node 22 whose module resolution is the staged folder
 * (test/support/functionsHostProcess.ts), with the app settings infra/modules/function-app.bicep sets
 * (evaluated from the template for the deployment's defaults), telemetry on (to a loopback ingestion
 * endpoint, with the managed identity's token), in single- and multi-tenant mode:
 *  - every entry point of package.json `main` loads through `@azure/functions` and registers;
 *  - the timer's and the queue trigger's registered callbacks run against Azurite and the simulated
 *    tenant, and the tables hold the simulated directories.
 * A module the app imports but the package does not ship (an undeclared dependency) fails the load.
 *
 * Two things differ from Azure, and only these: Azurite takes no Entra tokens, so the identity-based
 * storage connections become their connection-string form (forAzurite); and the Graph, Entra and
 * managed-identity endpoints are the simulated tenant's (its platform settings, as every test).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, parse as parsePath } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/configuration/settings.js";
import { loadStorageSettings } from "../../src/configuration/storageSettings.js";
import { TENANT_QUEUE_NAME } from "../../src/fanout/tenantQueue.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import type { ForeignHost } from "../../tools/simulated-tenant/index.js";
import { functionAppSettings, type BicepValue } from "../support/bicepAppSettings.js";
import { literal, modules, objectEntries, parameters, parseBicepFile, property } from "../support/bicepSyntax.js";
import { ROOT, run } from "../support/scriptStubs.js";
import type { HostProcessPlan, HostProcessResult } from "../support/functionsHostProcess.js";
import { runFunctionsHost } from "../support/functionsHostRunner.js";
import { expectNoSecrets, expectSnapshotEqualsDirectory, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "c1c1c1c1-0000-4000-8000-000000000001";
const T2 = "c2c2c2c2-0000-4000-8000-000000000002";
const HOME_USERS = 240;
const CUSTOMERS = [{ tenantId: T1, userCount: 130 }, { tenantId: T2, userCount: 25 }];
/** Dev dependencies the app must not reach from the package (azurite pulled the undeclared import in locally). */
const DEV_ONLY = ["azurite", "vitest", "typescript"];

let folder: string;
let world: SyncEnvironment;
let ingestion: ForeignHost;
/** The parameters main.bicep gives the function-app module by default (its own parameters' defaults, passed through). */
let deploymentDefaults: Record<string, BicepValue>;

beforeAll(async () => {
  expect(existsSync(join(ROOT, "dist", "src", "functions")), "dist/ is missing: run `npm run build` (npm test does it first)").toBe(true);
  folder = join(mkdtempSync(join(tmpdir(), "staged-package-")), "app");
  const staging = run(process.execPath, [join(ROOT, "infra", "scripts", "stage-app.mjs"), "--no-build", folder], { env: process.env, timeoutInMs: 300_000 });
  expect(staging.code, staging.stderr).toBe(0);
  // Nothing above the staged folder may lend it modules (as in Azure, where the package is all there is).
  for (let dir = dirname(folder); dir !== parsePath(dir).root; dir = dirname(dir)) expect(existsSync(join(dir, "node_modules")), dir).toBe(false);

  const main = await parseBicepFile(join(ROOT, "infra", "main.bicep"));
  const mainDefaults = new Map(parameters(main).map((p) => [p.name, literal(p.defaultValue)] as const));
  const functionApp = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
  deploymentDefaults = {};
  for (const { key, value } of objectEntries(property(functionApp.body, "params"))) {
    const passed = value.type === "identifier" ? mainDefaults.get(value.text) : undefined;
    if (passed !== undefined && passed !== null) deploymentDefaults[key] = passed;
  }

  world = await startSyncEnvironment({ userCount: HOME_USERS, seed: 24, customerTenants: CUSTOMERS, certificateName: String(deploymentDefaults.keyVaultCertificateName) }, { queue: true, blob: true });
  ingestion = await world.tenant.faults.startForeignHost();
  const registry = new TenantRegistryClient({ storage: loadStorageSettings(world.env) });
  await registry.createTableIfNotExists();
  for (const { tenantId } of CUSTOMERS) await registry.addTenant(tenantId);
}, 600_000);
afterAll(async () => {
  await world?.close();
  // The staged folder is a few hundred megabytes.
  if (folder) rmSync(dirname(folder), { recursive: true, force: true });
});

/** Azurite takes no Entra token: an identity-based connection (`<name>__tableServiceUri`, `__queueServiceUri`, `__blobServiceUri`, `__credential`, `__clientId`) becomes the connection string `<name>`. */
function forAzurite(settings: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings)) {
    const identityBased = /^(SNAPSHOT_STORAGE|USER_SYNC_QUEUE|USER_SYNC_EXPORT_STORAGE)__(tableServiceUri|queueServiceUri|blobServiceUri|credential|clientId)$/.exec(name);
    if (identityBased) out[identityBased[1]!] = world.azurite.connectionString;
    else out[name] = value;
  }
  return out;
}

/** The function app's settings as the Bicep sets them for a deployment with the defaults, in this world. */
async function deployedSettings(multiTenant: boolean, analyticsContainerName = ""): Promise<Record<string, string>> {
  const tenant = world.tenant.settingsEnv();
  const settings = await functionAppSettings({
    // What the deployment computes (resource outputs) is this world's; the rest is main.bicep's defaults.
    parameters: {
      ...deploymentDefaults,
      graphTenantId: world.tenant.tenantId,
      graphClientId: world.tenant.clientId,
      identityClientId: world.tenant.managedIdentityClientId,
      keyVaultUri: tenant.KEY_VAULT_URL!,
      snapshotTableServiceUri: world.azurite.tableEndpoint,
      multiTenant,
      tenantQueueServiceUri: multiTenant ? world.azurite.queueEndpoint! : "",
      analyticsBlobServiceUri: analyticsContainerName ? world.azurite.blobEndpoint! : "",
      analyticsContainerName,
    },
    references: {
      "hostStorage.name": "devstoreaccount1",
      "appInsights.properties.ConnectionString": `InstrumentationKey=00000000-0000-0000-0000-000000000024;IngestionEndpoint=${ingestion.origin}/;LiveEndpoint=${ingestion.origin}/`,
    },
  });
  return forAzurite(settings);
}

/** The host's process: the settings, and the simulated tenant's endpoints and CA in place of the platform's. */
function hostEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const tenant = world.tenant.settingsEnv();
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...settings,
    GRAPH_AUTHORITY_HOST: tenant.GRAPH_AUTHORITY_HOST,
    GRAPH_ENDPOINT: tenant.GRAPH_ENDPOINT,
    IDENTITY_ENDPOINT: tenant.IDENTITY_ENDPOINT,
    IDENTITY_HEADER: tenant.IDENTITY_HEADER,
    NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath,
    // Statsbeat would report to Microsoft's own endpoint, not the one of the connection string.
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
  };
}

/** Runs the staged package in its own process, cwd the staged folder; bounded. */
async function runStaged(settings: Record<string, string>, steps: HostProcessPlan["steps"]): Promise<{ result: HostProcessResult; output: string }> {
  const { code, output, result } = await runFunctionsHost({ folder, env: hostEnv(settings), steps, mustNotResolve: DEV_ONLY });
  expect(code, output).toBe(0);
  // Telemetry on: it started (a package that failed to load it would say so here, and send nothing).
  expect(output).not.toMatch(/Telemetry (is off|did not start)/);
  expectNoSecrets(output, [world.azurite.connectionString]);
  return { result: result!, output };
}

function expectLoadedAsTheHostDoes(result: HostProcessResult): void {
  expect(result.nodeVersion).toMatch(/^v22\./);
  expect(result.entryPoints).toEqual(["dist/src/functions/tenantSync.js", "dist/src/functions/userSync.js", "dist/src/telemetry/bootstrap.js"]);
  expect(result.resolved, "dev dependencies reachable from the staged package").toEqual({});
}

const TIMER_BINDING = { type: "timerTrigger", direction: "in", schedule: "%USER_SYNC_SCHEDULE%", runOnStartup: false, useMonitor: true };

async function expectTelemetrySent(before: number): Promise<void> {
  const tracks = ingestion.requests.slice(before).filter((r) => r.method === "POST" && /\/track$/.test(r.path));
  expect(tracks.length, "telemetry reached the ingestion endpoint of APPLICATIONINSIGHTS_CONNECTION_STRING").toBeGreaterThan(0);
  expect(tracks.every((r) => r.authorization), "with the managed identity's token").toBe(true);
}

describe("the staged package, as Azure runs it", () => {
  it("single-tenant mode: registers the timer, and its tick syncs the tenant's users into the tables", async () => {
    const settings = await deployedSettings(false);
    expect(settings.USER_SYNC_TENANT_MODE).toBeUndefined();
    expect(settings.APPLICATIONINSIGHTS_CONNECTION_STRING).toContain(ingestion.origin);
    const sent = ingestion.requests.length;
    const { result } = await runStaged(settings, ["timer"]);

    expectLoadedAsTheHostDoes(result);
    expect(result.registrations).toEqual([{ name: "userSync", bindings: [expect.objectContaining(TIMER_BINDING)] }]);
    expect(result.invocations.map((i) => [i.functionName, i.outcome, i.error])).toEqual([["userSync", "succeeded", undefined]]);
    expect(result.invocations[0]!.lines.some((l) => l.text.startsWith("User sync succeeded"))).toBe(true);

    const env = { ...settings, ...world.tenant.settingsEnv() };
    const store = new SnapshotStoreClient({ storage: loadStorageSettings(env) });
    const latest = await store.getLatestSnapshot();
    expect(latest).toBeDefined();
    await expectSnapshotEqualsDirectory(world.tenant, { settings: loadSettings(env), store }, latest!.snapshotId, HOME_USERS);
    expect((await Array.fromAsync(store.listRuns())).map((r) => r.trigger)).toEqual(["timer"]);
    await expectTelemetrySent(sent);
  });

  it("with the analytics lane (ANALYTICS_LANE=true): the timer's tick writes the promoted snapshot as Parquet with the package's own writer", async () => {
    const container = String(parameters(await parseBicepFile(join(ROOT, "infra", "main.bicep"))).find((p) => p.name === "analyticsContainerName")?.defaultValue?.text).replace(/'/g, "");
    const settings = await deployedSettings(false, container);
    expect(settings.USER_SYNC_EXPORT_CONTAINER).toBe(container);
    expect(settings.USER_SYNC_EXPORT_STORAGE).toBe(world.azurite.connectionString);
    const blobs = BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(container);
    await blobs.createIfNotExists();
    const { result, output } = await runStaged(settings, ["timer"]);
    expectLoadedAsTheHostDoes(result);
    expect(result.invocations.map((i) => [i.functionName, i.outcome, i.error])).toEqual([["userSync", "succeeded", undefined]]);
    expect(output).not.toContain("was not written");
    const names: string[] = [];
    for await (const blob of blobs.listBlobsFlat()) names.push(blob.name);
    const success = names.filter((name) => name.endsWith("/_SUCCESS") && name.startsWith("tenant="));
    expect(success.length, names.join(", ")).toBeGreaterThan(0);
    const manifest = JSON.parse((await blobs.getBlockBlobClient(success.at(-1)!.replace(/_SUCCESS$/, "_manifest.json")).downloadToBuffer()).toString("utf8")) as { rows: number };
    expect(manifest.rows).toBe(HOME_USERS);
  });

  it("multi-tenant mode: registers the timer and the queue trigger; the timer queues each tenant, the queue trigger syncs it", async () => {
    const settings = await deployedSettings(true);
    expect(settings.USER_SYNC_TENANT_MODE).toBe("multi");
    const sent = ingestion.requests.length;
    const { result } = await runStaged(settings, ["timer", "queue"]);

    expectLoadedAsTheHostDoes(result);
    expect(result.registrations).toEqual([
      { name: "tenantSync", bindings: [expect.objectContaining({ type: "queueTrigger", direction: "in", queueName: TENANT_QUEUE_NAME, connection: "USER_SYNC_QUEUE" })] },
      { name: "userSync", bindings: [expect.objectContaining(TIMER_BINDING)] },
    ]);
    expect(result.invocations.map((i) => [i.functionName, i.trigger, i.outcome, i.error])).toEqual([
      ["userSync", "timer", "succeeded", undefined],
      ["tenantSync", "queue", "succeeded", undefined],
      ["tenantSync", "queue", "succeeded", undefined],
    ]);

    const registry = new TenantRegistryClient({ storage: loadStorageSettings(world.env) });
    for (const { tenantId, userCount } of CUSTOMERS) {
      const env = { ...settings, ...world.tenant.settingsEnv() };
      const store = new SnapshotStoreClient({ storage: loadStorageSettings(env), tablePrefix: tenantTablePrefix(tenantId) });
      const latest = await store.getLatestSnapshot();
      expect(latest, tenantId).toBeDefined();
      await expectSnapshotEqualsDirectory(world.tenant.customers.get(tenantId)!, { settings: loadSettings(env), store }, latest!.snapshotId, userCount);
      expect((await Array.fromAsync(store.listRuns())).map((r) => r.trigger)).toEqual(["queue"]);
      expect(await registry.getTenant(tenantId)).toMatchObject({ lastOutcome: "succeeded" });
    }
    await expectTelemetrySent(sent);
  });
});
