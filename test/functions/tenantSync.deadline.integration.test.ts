/**
 * A queue-started run's deadline counts from the invocation, as the host's functionTimeout does: the
 * registered `tenantSync` handler (captured through the stand-in for `@azure/functions-core`), with
 * USER_SYNC_MAX_RUN_MINUTES=1, storage that answers nothing for the invocation's first 25 seconds
 * (the registry's bookkeeping, the tenant's tables, its lease and what is due all wait) and a
 * customer tenant whose Graph is too slow for the snapshot to finish in the minute. The snapshot
 * pauses at its checkpoint one minute after the handler was called, and its continuation is queued.
 */
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadQueueSettings } from "../../src/configuration/queueSettings.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { SnapshotStoreClient, type SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { installFunctionsHostStandIn, type CapturedRegistration } from "../support/functionsHost.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type TableProxy } from "../support/tableProxy.js";

const TENANT = "c1c1c1c1-0000-4000-8000-000000000001";
/** USER_SYNC_MAX_RUN_MINUTES=1, the shortest the setting allows. */
const LIMIT_IN_MS = 60_000;
/** How long storage keeps every request of the invocation waiting (under STORAGE_REQUEST_TIMEOUT_SECONDS' 30 s). */
const SLOW_START_IN_MS = 25_000;
/** What may follow the deadline: the page being written is finished and checkpointed (a read in flight is dropped). */
const AFTER_DEADLINE_IN_MS = 10_000;

let world: SyncEnvironment;
let proxy: TableProxy;
let registration: CapturedRegistration;
let slowUntil = 0;

beforeAll(async () => {
  // 9 pages of /users at 5 s each: more than the 35 s left after the slow start, less than a minute.
  world = await startSyncEnvironment({ userCount: 3, customerTenants: [{ tenantId: TENANT, userCount: 8_000, graphLatencyInMs: 5_000 }] }, { queue: true });
  proxy = await startTableProxy(world.azurite);
  proxy.decide = () => (Date.now() < slowUntil ? new Promise((resolve) => setTimeout(resolve, slowUntil - Date.now())) : "pass");
  world.useInProcess();
  delete process.env.GRAPH_TENANT_ID;
  Object.assign(process.env, {
    USER_SYNC_TENANT_MODE: "multi",
    // The tables (registry included) through the slow proxy; the queue straight to Azurite.
    SNAPSHOT_STORAGE: proxy.connectionString,
    USER_SYNC_QUEUE: world.azurite.connectionString,
    USER_SYNC_SCHEDULE: "0 */15 * * * *",
    USER_SYNC_MAX_RUN_MINUTES: "1",
  });
  const host = installFunctionsHostStandIn();
  await import("../../src/functions/tenantSync.js");
  registration = host.registrations.find((r) => r.metadata.name === "tenantSync")!;
  const registry = new TenantRegistryClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }) });
  await registry.createTableIfNotExists();
  await registry.addTenant(TENANT);
  await new TenantQueueClient({ queue: loadQueueSettings(process.env) }).createQueuesIfNotExist();
});
afterAll(async () => Promise.all([proxy?.close(), world?.close()]));

describe("USER_SYNC_MAX_RUN_MINUTES under the queue trigger", () => {
  it("counts from the invocation's start: the registry, tables and lease before the snapshot are inside the limit", async () => {
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "tenantSync",
      triggerMetadata: { dequeueCount: 1 },
      logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(" ")}`),
    });
    const invokedAt = Date.now();
    slowUntil = invokedAt + SLOW_START_IN_MS;
    await registration.callback({ tenantId: TENANT, kind: "due", enqueuedAt: new Date(invokedAt).toISOString() }, context);
    const returnedAt = Date.now();

    const store = new SnapshotStoreClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }), tablePrefix: tenantTablePrefix(TENANT) });
    const runs: SyncRunRecord[] = [];
    for await (const run of store.listRuns()) runs.push(run);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.trigger).toBe("queue");
    expect(run.startedAt.getTime() - invokedAt).toBeGreaterThanOrEqual(SLOW_START_IN_MS - 1_000);
    expect(run.status, lines.join("\n")).toBe("paused");
    expect(run.stats.pages).toBeGreaterThan(0);
    const pausedAt = (run.endedAt ?? run.checkpoint!.at).getTime();
    expect(pausedAt - invokedAt).toBeGreaterThanOrEqual(LIMIT_IN_MS - 1_000);
    expect(pausedAt - invokedAt).toBeLessThan(LIMIT_IN_MS + AFTER_DEADLINE_IN_MS);
    expect(returnedAt - invokedAt).toBeLessThan(LIMIT_IN_MS + AFTER_DEADLINE_IN_MS + 5_000);
    // The continuation is queued for the next invocation.
    expect(lines.some((l) => l.includes("its continuation is queued"))).toBe(true);
  }, 150_000);
});
