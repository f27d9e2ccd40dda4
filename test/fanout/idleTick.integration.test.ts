/**
 * An idle tick's saved requests, each with its guarantee kept, against Azurite and the simulated
 * cloud:
 * - the scheduler's message carries the tenant's row as its marker wrote it (with the ETag): the
 *   run starts without reading the row, its start written with that ETag;
 * - a row changed after the message was queued refuses that write: the run reads the row, and what
 *   changed is kept (not overwritten by the carried copy);
 * - a tenant removed after its message was queued is still dropped, having read nothing from Graph
 *   and left no table;
 * - the worker receives messages for several free slots at once, not one per run that ends.
 */
import { TableServiceClient } from "@azure/data-tables";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { changeTenantRecord } from "../../src/fanout/tenantRecords.js";
import { scheduleDueTenants } from "../../src/fanout/scheduler.js";
import { runWorker } from "../../src/fanout/worker.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { registerTenants, useMultiTenantInProcess } from "../support/multiTenantEnvironment.js";

const CARRIED = "e1e1e1e1-0000-4000-8000-000000000001";
const CHANGED = "e2e2e2e2-0000-4000-8000-000000000002";
const REMOVED = "e3e3e3e3-0000-4000-8000-000000000003";
const BATCH = Array.from({ length: 8 }, (_, i) => `e4e4e4e4-0000-4000-8000-00000000001${i}`);

let world: SyncEnvironment;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment(
    {
      userCount: 3,
      customerTenants: [CARRIED, CHANGED, REMOVED, ...BATCH].map((tenantId) => ({ tenantId, userCount: 20, graphLatencyInMs: 200 })),
    },
    { queue: true },
  );
  env = useMultiTenantInProcess(world, { GRAPH_MAX_RETRIES: "0" });
}, 120_000);
afterAll(async () => world?.close());
// Each test's pass queues only its own tenants.
afterEach(async () => {
  const made = new TenantServices(env);
  for await (const tenant of made.registry.listTenants()) await made.registry.deleteTenant(tenant.tenantId);
});

async function services(...tenantIds: string[]): Promise<TenantServices> {
  const made = new TenantServices(env);
  await registerTenants(made, tenantIds);
  return made;
}

async function tablesOf(tenantId: string): Promise<string[]> {
  const prefix = tenantTablePrefix(tenantId);
  const names: string[] = [];
  for await (const table of TableServiceClient.fromConnectionString(world.azurite.connectionString, { allowInsecureConnection: true }).listTables()) {
    if (table.name?.startsWith(prefix)) names.push(table.name);
  }
  return names;
}

/** The scheduler's pass (the tenant's message, carrying its row), then a worker that handles it. */
async function tick(made: TenantServices, before?: () => Promise<void>) {
  const log = capturingLogger();
  await scheduleDueTenants({ registry: made.registry, queue: made.queue, logger: log.logger });
  await before?.();
  const reads = vi.spyOn(made.registry, "getTenant");
  const summary = await runWorker({ services: made, logger: log.logger, concurrency: 4, once: true, schedule: false });
  const readCount = reads.mock.calls.length;
  reads.mockRestore();
  return { summary, readCount, log };
}

describe("an idle tick", () => {
  it("starts the run from the row its message carries: no read of the row, the start fenced by the marker's ETag", async () => {
    const made = await services(CARRIED);
    const first = await tick(made);
    expect(first.summary.outcomes).toEqual([{ tenantId: CARRIED, outcome: "succeeded" }]);
    expect(first.readCount).toBe(0);
    // The next tick (idle) too; the row says how it ended.
    const second = await tick(made);
    expect(second.summary.outcomes).toEqual([{ tenantId: CARRIED, outcome: "succeeded" }]);
    expect(second.readCount).toBe(0);
    const row = await made.registry.getTenant(CARRIED);
    expect(row).toMatchObject({ lastOutcome: "succeeded", userCount: 20 });
    expect(row?.queuedAt).toBeUndefined();
    expect(row?.runningSince).toBeUndefined();
  });

  it("reads the row when it changed after the message was queued, and keeps the change", async () => {
    const made = await services(CHANGED);
    const { summary, readCount } = await tick(made, async () => {
      await changeTenantRecord(made.registry, CHANGED, (current) => ({ ...current, name: "renamed while queued" }));
    });
    expect(summary.outcomes).toEqual([{ tenantId: CHANGED, outcome: "succeeded" }]);
    // The start's write met a changed row (412): read once, then written with the fresh ETag.
    expect(readCount).toBe(1);
    expect(await made.registry.getTenant(CHANGED)).toMatchObject({ name: "renamed while queued", lastOutcome: "succeeded" });
  });

  it("drops the message of a tenant removed after it was queued: nothing read from Graph, no table left", async () => {
    const made = await services(REMOVED);
    const { summary, log } = await tick(made, async () => {
      expect(await made.registry.deleteTenant(REMOVED)).toBe(true);
    });
    expect(summary.outcomes).toEqual([{ tenantId: REMOVED, outcome: "dropped" }]);
    expect(log.lines.join("\n")).toContain("was removed from the tenant registry");
    expect(world.tenant.customers.get(REMOVED)!.graphRequestCount()).toBe(0);
    expect(await tablesOf(REMOVED)).toEqual([]);
    expect(await made.queue.approximateMessageCount()).toBe(0);
  });

  it("receives for several free slots at once, not one message per run that ends", async () => {
    const made = await services(...BATCH);
    await scheduleDueTenants({ registry: made.registry, queue: made.queue, logger: capturingLogger().logger });
    const receives = vi.spyOn(made.queue, "receiveTenantMessages");
    // A batch wait longer than the test: only half the slots free (or none busy) lets the worker receive.
    const summary = await runWorker({ services: made, logger: capturingLogger().logger, concurrency: 4, once: true, schedule: false, receiveBatchWaitInMs: 600_000 });
    const asked = receives.mock.calls.map(([count]) => count);
    receives.mockRestore();
    expect(summary.outcomes.map((o) => o.outcome)).toEqual(BATCH.map(() => "succeeded"));
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.filter((count) => count < 2)).toEqual([]);
  });
});
