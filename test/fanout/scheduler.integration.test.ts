/**
 * The scheduler against Azurite's tables and queues: one message per idle tenant, none for a tenant
 * queued or running, a stale marker taken for a lost message or a dead worker, two schedulers
 * racing on one registry queueing each tenant once, and passes for one occurrence of the schedule
 * (several workers) queueing each tenant once even when its run ended between them.
 */
import { describe, expect, it } from "vitest";
import { scheduleDueTenants, STALE_QUEUED_IN_MS, STALE_RUNNING_IN_MS } from "../../src/fanout/scheduler.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { recordTenantRunOutcome, recordTenantRunStarted } from "../../src/fanout/tenantRecords.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { capturingLogger } from "../support/syncEnvironment.js";
import { azuriteForTestFile, azuriteQueueStorage } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile({ queue: true });

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
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "sched1" });
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
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
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "sched2" });
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    await drain(queue);
    for (let i = 10; i < 16; i++) await registry.addTenant(id(i));
    const log = capturingLogger();
    const [a, b] = await Promise.all([scheduleDueTenants({ registry, queue, logger: log.logger }), scheduleDueTenants({ registry, queue, logger: log.logger })]);
    expect([...a.enqueued, ...b.enqueued].sort()).toEqual([10, 11, 12, 13, 14, 15].map(id));
    expect(await drain(queue)).toEqual([10, 11, 12, 13, 14, 15].map(id));
  });

  it("passes for one occurrence of the schedule (several workers) queue each tenant once, even when its run ended in between; the next occurrence queues it again", async () => {
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "sched3" });
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    await drain(queue);
    const tenants = [20, 21, 22, 23, 24].map(id);
    for (const tenantId of tenants) await registry.addTenant(tenantId);
    const log = capturingLogger();
    const occurrence = new Date("2026-03-01T12:15:00Z");
    // Two workers wake at the same occurrence.
    const [a, b] = await Promise.all([
      scheduleDueTenants({ registry, queue, logger: log.logger, occurrence }),
      scheduleDueTenants({ registry, queue, logger: log.logger, occurrence }),
    ]);
    expect([...a.enqueued, ...b.enqueued].sort()).toEqual(tenants);
    expect(await drain(queue)).toEqual(tenants);
    expect((await registry.getTenant(tenants[0]!))?.scheduledFor?.toISOString()).toBe(occurrence.toISOString());
    // Every run ends (its markers cleared) before a third, slower worker's pass for the same occurrence.
    for (const tenantId of tenants) {
      await recordTenantRunStarted(registry, tenantId, { consumesQueued: true });
      await recordTenantRunOutcome(registry, tenantId, { outcome: "succeeded" }, { consumesQueued: true });
      expect((await registry.getTenant(tenantId))?.queuedAt).toBeUndefined();
    }
    const late = await scheduleDueTenants({ registry, queue, logger: log.logger, occurrence });
    expect(late.enqueued).toEqual([]);
    expect(late.skipped.map((s) => s.reason)).toEqual(tenants.map(() => `queued for the occurrence at ${occurrence.toISOString()}`));
    expect(await drain(queue)).toEqual([]);
    expect(log.lines).toContain(`info Queued 0 tenants for the schedule's occurrence at ${occurrence.toISOString()}; 5 already queued or running.`);
    // The next occurrence: each tenant once again, however many workers.
    const next = new Date("2026-03-01T12:30:00Z");
    const [c, d, e] = await Promise.all([1, 2, 3].map(() => scheduleDueTenants({ registry, queue, logger: log.logger, occurrence: next })));
    expect([...c!.enqueued, ...d!.enqueued, ...e!.enqueued].sort()).toEqual(tenants);
    expect(await drain(queue)).toEqual(tenants);
  });

  it("a message that cannot be sent leaves the tenant to the occurrence's other passes and the next one", async () => {
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "sched4" });
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    await drain(queue);
    await registry.addTenant(id(30));
    const before = new Date("2026-03-01T12:00:00Z");
    await scheduleDueTenants({ registry, queue, logger: capturingLogger().logger, occurrence: before });
    await drain(queue);
    await recordTenantRunOutcome(registry, id(30), { outcome: "succeeded" }, { consumesQueued: true });
    const occurrence = new Date("2026-03-01T12:15:00Z");
    const broken = Object.assign(Object.create(queue) as TenantQueueClient, {
      sendTenantMessage: () => Promise.reject(new Error("queue unavailable")),
    });
    const failed = await scheduleDueTenants({ registry, queue: broken, logger: capturingLogger().logger, occurrence });
    expect(failed.failed.map((f) => f.tenantId)).toEqual([id(30)]);
    // Neither marker is left behind: the occurrence's marker is back to the previous one.
    const row = await registry.getTenant(id(30));
    expect(row?.queuedAt).toBeUndefined();
    expect(row?.scheduledFor?.toISOString()).toBe(before.toISOString());
    const retried = await scheduleDueTenants({ registry, queue, logger: capturingLogger().logger, occurrence });
    expect(retried.enqueued).toEqual([id(30)]);
    expect(await drain(queue)).toEqual([id(30)]);
  });
});
