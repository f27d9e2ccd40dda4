/**
 * The scheduler against Azurite's tables and queues: one message per idle tenant, none for a tenant
 * queued or running, a stale marker taken for a lost message or a dead worker, and two schedulers
 * racing on one registry queueing each tenant once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotStorageSettings } from "../../src/configuration/settings.js";
import { scheduleDueTenants, STALE_QUEUED_IN_MS, STALE_RUNNING_IN_MS } from "../../src/fanout/scheduler.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import { capturingLogger } from "../support/syncEnvironment.js";

let azurite: AzuriteInstance;
let storage: SnapshotStorageSettings;

beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
  storage = { kind: "connectionString", connectionString: azurite.connectionString, tableEndpoint: azurite.tableEndpoint, allowInsecureConnection: true };
});
afterAll(async () => azurite?.close());

const id = (i: number) => `${String(i).padStart(8, "0")}-0000-4000-8000-000000000000`;

async function drain(queue: TenantQueueClient): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const messages = await queue.receiveTenantMessages(32, 30);
    if (messages.length === 0) return ids.sort();
    for (const m of messages) {
      ids.push(m.message!.tenantId);
      await queue.deleteTenantMessage(m);
    }
  }
}

describe("scheduleDueTenants", () => {
  it("queues idle tenants, skips queued and running ones, and takes stale markers for lost messages or dead workers", async () => {
    const registry = new TenantRegistryClient({ storage, tablePrefix: "sched1" });
    const queue = new TenantQueueClient({ queue: { kind: "connectionString", connectionString: azurite.connectionString } });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    const now = new Date("2026-03-01T12:00:00Z");
    const ago = (ms: number) => new Date(now.getTime() - ms);
    for (let i = 1; i <= 5; i++) await registry.addTenant(id(i));
    const set = async (i: number, change: object) => {
      const current = (await registry.getTenant(id(i)))!;
      await registry.updateTenant({ ...current, ...change });
    };
    await set(2, { queuedAt: ago(60_000) });
    await set(3, { runningSince: ago(60_000) });
    await set(4, { queuedAt: ago(STALE_QUEUED_IN_MS + 1000) });
    await set(5, { runningSince: ago(STALE_RUNNING_IN_MS + 1000) });
    const result = await scheduleDueTenants({ registry, queue, logger: capturingLogger().logger, now });
    expect(result.enqueued.sort()).toEqual([id(1), id(4), id(5)]);
    expect(result.skipped.map((s) => s.tenantId).sort()).toEqual([id(2), id(3)]);
    expect(await drain(queue)).toEqual([id(1), id(4), id(5)]);
    expect((await registry.getTenant(id(1)))?.queuedAt?.toISOString()).toBe(now.toISOString());
  });

  it("two schedulers at once queue each tenant once", async () => {
    const registry = new TenantRegistryClient({ storage, tablePrefix: "sched2" });
    const queue = new TenantQueueClient({ queue: { kind: "connectionString", connectionString: azurite.connectionString } });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    await drain(queue);
    for (let i = 10; i < 16; i++) await registry.addTenant(id(i));
    const log = capturingLogger();
    const [a, b] = await Promise.all([scheduleDueTenants({ registry, queue, logger: log.logger }), scheduleDueTenants({ registry, queue, logger: log.logger })]);
    expect([...a.enqueued, ...b.enqueued].sort()).toEqual([10, 11, 12, 13, 14, 15].map(id));
    expect(await drain(queue)).toEqual([10, 11, 12, 13, 14, 15].map(id));
  });
});
