/**
 * Deletion is final: `tenants remove --delete-data` that lands while a run of the tenant is starting
 * (its table creation held by a loopback proxy in front of Azurite, as a slow network would hold
 * it) is not undone by that run. Once the run is let go, it takes the lease, finds the tenant gone
 * under it, writes nothing, reads nothing from Graph, removes the run-records table it created for
 * its lease, and says why (tenant_removed). Through the compiled `run --tenant` and `worker`,
 * against Azurite and the simulated cloud.
 */
import { TableServiceClient } from "@azure/data-tables";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { assertCliBuilt, runCli, startCli, type CliResult } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type ProxiedRequest, type TableProxy } from "../support/tableProxy.js";

const BY_CLI = "f1f1f1f1-0000-4000-8000-000000000001";
const BY_WORKER = "f2f2f2f2-0000-4000-8000-000000000002";
const SELECT = "id,displayName,userPrincipalName";

let world: SyncEnvironment;
let proxy: TableProxy;

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment(
    {
      userCount: 3,
      customerTenants: [
        { tenantId: BY_CLI, userCount: 300 },
        { tenantId: BY_WORKER, userCount: 300 },
      ],
    },
    { queue: true },
  );
  proxy = await startTableProxy(world.azurite);
}, 120_000);
afterEach(() => {
  proxy.decide = () => "pass";
});
afterAll(async () => {
  await proxy?.close();
  await world?.close();
});

function settings(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_SELECT: SELECT, ...extra });
}

/** The CLI straight to Azurite (the operator's `tenants remove`). */
function cli(args: string[]): Promise<CliResult> {
  return runCli(args, settings());
}

/** The CLI with its table requests through the proxy (the run whose table creation is held). */
function startThroughProxy(args: string[]) {
  return startCli(args, settings({ SNAPSHOT_STORAGE: proxy.connectionString }));
}

/** Holds every table creation of the tenant until `release`; `reached` settles at the first one. */
function holdTableCreation(tenantId: string) {
  const prefix = tenantTablePrefix(tenantId);
  let reached!: () => void;
  let release!: () => void;
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const held: ProxiedRequest[] = [];
  proxy.decide = (request) => {
    if (request.method === "POST" && /\/Tables(\?|$)/.test(request.path) && request.body.includes(`"${prefix}`)) {
      held.push(request);
      reached();
      return released;
    }
    return "pass";
  };
  return { reached: reachedPromise, release, held };
}

/** The tenant's tables as Azurite has them now. */
async function tablesOf(tenantId: string): Promise<string[]> {
  const prefix = tenantTablePrefix(tenantId);
  const names: string[] = [];
  for await (const table of TableServiceClient.fromConnectionString(world.azurite.connectionString, { allowInsecureConnection: true }).listTables()) {
    if (table.name?.startsWith(prefix)) names.push(table.name);
  }
  return names.sort();
}

async function within<T>(what: string, promise: Promise<T>, timeoutInMs = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutInMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe("tenants remove --delete-data while a run of the tenant is starting", () => {
  it("run --tenant: the deletion holds; the run writes nothing, leaves no table, and says the tenant was removed", async () => {
    expect((await cli(["tenants", "add", BY_CLI])).code).toBe(0);
    // The tenant has data already: its four tables exist.
    const first = await cli(["run", "--tenant", BY_CLI, "--no-progress"]);
    expect(first.code, first.stderr).toBe(0);
    expect(await tablesOf(BY_CLI)).toHaveLength(4);

    const hold = holdTableCreation(BY_CLI);
    const run = startThroughProxy(["run", "--tenant", BY_CLI, "--no-progress"]);
    await within("the run's table creation", hold.reached);
    const removed = await cli(["tenants", "remove", BY_CLI, "--delete-data"]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`Deleted 4 tables of tenant ${BY_CLI}`);
    const graphBefore = world.tenant.customers.get(BY_CLI)!.graphRequestCount();
    hold.release();
    const result = await within("the run to end", run.exited);

    // Only the run-records table (where the lease lives) was created before the lease.
    expect(hold.held.map((r) => JSON.parse(r.body) as { TableName: string }).map((b) => b.TableName)).toEqual([`${tenantTablePrefix(BY_CLI)}Runs`]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`Tenant ${BY_CLI} was removed from the tenant registry (tenants remove) while this run was starting, so the run wrote nothing of it`);
    expect(await tablesOf(BY_CLI)).toEqual([]);
    expect(world.tenant.customers.get(BY_CLI)!.graphRequestCount()).toBe(graphBefore);
    expect((await cli(["tenants", "show", BY_CLI])).code).toBe(2);
  }, 240_000);

  it("worker: the deletion holds; the message is dropped, nothing written, no table left", async () => {
    // Never synced: the run would create all four tables.
    expect((await cli(["tenants", "add", BY_WORKER])).code).toBe(0);
    expect(await tablesOf(BY_WORKER)).toEqual([]);

    const hold = holdTableCreation(BY_WORKER);
    const worker = startThroughProxy(["worker", "--once", "--concurrency", "1"]);
    await within("the run's table creation", hold.reached);
    const removed = await cli(["tenants", "remove", BY_WORKER, "--delete-data"]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`Deleted 0 tables of tenant ${BY_WORKER}`);
    hold.release();
    const result = await within("the worker to end", worker.exited);

    expect(result.stdout).toContain("Worker handled 1 message: 1 dropped.");
    expect(result.stderr).toContain(`Tenant ${BY_WORKER} was removed from the tenant registry (tenants remove) while this run was starting`);
    expect(result.code, result.stderr).toBe(0);
    expect(await tablesOf(BY_WORKER)).toEqual([]);
    expect(world.tenant.customers.get(BY_WORKER)!.graphRequestCount()).toBe(0);
  }, 240_000);
});
