/**
 * Telemetry never stops the sync. With an invalid APPLICATIONINSIGHTS_CONNECTION_STRING or
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING, the function (its entry points loaded through
 * `@azure/functions` and the `@azure/functions-core` stand-in, in a process of their own) and the
 * compiled command line (`run`, `worker --once`) log one warning naming the setting, never its value,
 * send nothing, and sync as usual, in single- and multi-tenant mode.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/configuration/settings.js";
import { loadStorageSettings } from "../../src/configuration/storageSettings.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import type { ForeignHost } from "../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { runFunctionsHost } from "../support/functionsHostRunner.js";
import { ROOT } from "../support/scriptStubs.js";
import { expectNoSecrets, expectSnapshotEqualsDirectory, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "d1d1d1d1-0000-4000-8000-000000000001";
const T2 = "d2d2d2d2-0000-4000-8000-000000000002";
const HOME_USERS = 180;
const CUSTOMERS = [{ tenantId: T1, userCount: 90 }, { tenantId: T2, userCount: 15 }];
/** A value no output may show: the instrumentation key and the client id below carry it. */
const MARKER = "5ec2e75e";

let world: SyncEnvironment;
let ingestion: ForeignHost;

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: HOME_USERS, seed: 11, customerTenants: CUSTOMERS }, { queue: true });
  ingestion = await world.tenant.faults.startForeignHost();
  const registry = new TenantRegistryClient({ storage: loadStorageSettings(world.env) });
  await registry.createTableIfNotExists();
  for (const { tenantId } of CUSTOMERS) await registry.addTenant(tenantId);
}, 120_000);
afterAll(async () => world?.close());

/** The two invalid settings, each with a value that would otherwise send to the loopback ingestion endpoint. */
const INVALID: Array<{ setting: string; env: () => Record<string, string> }> = [
  {
    setting: "APPLICATIONINSIGHTS_CONNECTION_STRING",
    // The instrumentation key is not a GUID (a character short).
    env: () => ({ APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${MARKER}-0000-0000-0000-00000000001;IngestionEndpoint=${ingestion.origin}/` }),
  },
  {
    setting: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    env: () => ({
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000011;IngestionEndpoint=${ingestion.origin}/`,
      // A key instead of Entra: refused (the Application Insights resource takes Entra tokens only).
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=Key;ClientId=${MARKER}-aaaa-bbbb-cccc-000000000000`,
    }),
  },
];

function mode(tenantMode: "single" | "multi", telemetry: Record<string, string>): NodeJS.ProcessEnv {
  return world.cliEnv({ USER_SYNC_TENANT_MODE: tenantMode, USER_SYNC_SCHEDULE: "0 */15 * * * *", APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true", ...telemetry });
}

/** Exactly one line of output names the setting, says telemetry is off and the sync goes on; no value shows; nothing was sent. */
function expectOneWarning(output: string, setting: string, sentBefore: number): void {
  const lines = output.split("\n").filter((line) => line.includes("APPLICATIONINSIGHTS_"));
  expect(lines, output).toHaveLength(1);
  expect(lines[0]!.startsWith(`${setting} `), lines[0]).toBe(true);
  expect(lines[0]).toContain("Telemetry is off until it is fixed; the sync runs as usual.");
  expect(output).not.toContain(MARKER);
  expectNoSecrets(output, [world.azurite.connectionString]);
  expect(ingestion.requests.slice(sentBefore), "nothing reaches the ingestion endpoint").toEqual([]);
}

async function expectTablesHoldTheDirectories(): Promise<void> {
  const settings = loadSettings({ ...world.env, USER_SYNC_TENANT_MODE: "single" });
  const home = new SnapshotStoreClient({ storage: loadStorageSettings(world.env) });
  await expectSnapshotEqualsDirectory(world.tenant, { settings, store: home }, (await home.getLatestSnapshot())!.snapshotId, HOME_USERS);
  for (const { tenantId, userCount } of CUSTOMERS) {
    const store = new SnapshotStoreClient({ storage: loadStorageSettings(world.env), tablePrefix: tenantTablePrefix(tenantId) });
    await expectSnapshotEqualsDirectory(world.tenant.customers.get(tenantId)!, { settings, store }, (await store.getLatestSnapshot())!.snapshotId, userCount);
  }
}

describe.each(INVALID)("with an invalid $setting", ({ setting, env }) => {
  it("the function, single-tenant mode: the timer syncs", async () => {
    const sent = ingestion.requests.length;
    const { code, output, result } = await runFunctionsHost({ folder: ROOT, env: mode("single", env()), steps: ["timer"] });
    expect(code, output).toBe(0);
    expect(result!.registrations.map((r) => r.name)).toEqual(["userSync"]);
    expect(result!.invocations.map((i) => [i.functionName, i.outcome, i.error])).toEqual([["userSync", "succeeded", undefined]]);
    expectOneWarning(output, setting, sent);
  });

  it("the function, multi-tenant mode: the timer queues the tenants and the queue trigger syncs them", async () => {
    const sent = ingestion.requests.length;
    const { code, output, result } = await runFunctionsHost({ folder: ROOT, env: mode("multi", env()), steps: ["timer", "queue"] });
    expect(code, output).toBe(0);
    expect(result!.registrations.map((r) => r.name)).toEqual(["tenantSync", "userSync"]);
    expect(result!.invocations.map((i) => [i.functionName, i.outcome, i.error])).toEqual([
      ["userSync", "succeeded", undefined],
      ["tenantSync", "succeeded", undefined],
      ["tenantSync", "succeeded", undefined],
    ]);
    expectOneWarning(output, setting, sent);
  });

  it("the command line, single-tenant mode: run", async () => {
    const sent = ingestion.requests.length;
    const result = await runCli(["run"], mode("single", env()));
    expect(result.code, result.stderr).toBe(0);
    expectOneWarning(result.stdout + result.stderr, setting, sent);
  });

  it("the command line, multi-tenant mode: run --tenant and worker --once", async () => {
    const sent = ingestion.requests.length;
    const run = await runCli(["run", "--tenant", T1], mode("multi", env()));
    expect(run.code, run.stderr).toBe(0);
    expectOneWarning(run.stdout + run.stderr, setting, sent);
    const worker = await runCli(["worker", "--once"], mode("multi", env()));
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout).toMatch(/Worker handled 2 messages: 2 succeeded/);
    expectOneWarning(worker.stdout + worker.stderr, setting, sent);
    await expectTablesHoldTheDirectories();
  });
});
