/**
 * The scheduler against Azurite's tables and queues: one message per idle tenant, none for a tenant
 * queued or running, a stale marker taken for a lost message or a dead worker, two schedulers
 * racing on one registry queueing each tenant once, and passes for one occurrence of the schedule
 * (several workers) queueing each tenant once even when its run ended between them, and a pass
 * over many tenants queueing up to SCHEDULE_CONCURRENCY of them at once.
 */
import { describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { SCHEDULE_CONCURRENCY, scheduleDueTenants, STALE_QUEUED_IN_MS, STALE_RUNNING_IN_MS } from "../../src/fanout/scheduler.js";
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
    const { registry, queue } = await emptyStores("sched1");
    const now = new Date("2026-03-01T12:00:00Z");
    const ago = (ms: number) => new Date(now.getTime() - ms);
    for (let i = 1; i <= 5; i++) await registry.addTenant(id(i));
    await set(registry, id(2), { queuedAt: ago(60_000) });
    await set(registry, id(3), { runningSince: ago(60_000) });
    await set(registry, id(4), { queuedAt: ago(STALE_QUEUED_IN_MS + 1000) });
    await set(registry, id(5), { runningSince: ago(STALE_RUNNING_IN_MS + 1000) });
    const result = await scheduleDueTenants({ registry, queue, logger: capturingLogger().logger, now });
    expect(result.enqueued.sort()).toEqual([id(1), id(4), id(5)]);
    expect(result.skipped.map((s) => s.tenantId).sort()).toEqual([id(2), id(3)]);
    expect(await drain(queue)).toEqual([id(1), id(4), id(5)]);
    expect((await registry.getTenant(id(1)))?.queuedAt?.toISOString()).toBe(now.toISOString());
  });

  it("two schedulers at once queue each tenant once", async () => {
    const { registry, queue } = await emptyStores("sched2");
    for (let i = 10; i < 16; i++) await registry.addTenant(id(i));
    const log = capturingLogger();
    const [a, b] = await Promise.all([scheduleDueTenants({ registry, queue, logger: log.logger }), scheduleDueTenants({ registry, queue, logger: log.logger })]);
    expect([...a.enqueued, ...b.enqueued].sort()).toEqual([10, 11, 12, 13, 14, 15].map(id));
    expect(await drain(queue)).toEqual([10, 11, 12, 13, 14, 15].map(id));
  });

  it("passes for one occurrence of the schedule (several workers) queue each tenant once, even when its run ended in between; the next occurrence queues it again", async () => {
    const { registry, queue } = await emptyStores("sched3");
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
      const lease = { acquiredAt: new Date() };
      expect(await recordTenantRunStarted(registry, tenantId, lease, { consumesQueued: true })).toBe("started");
      await recordTenantRunOutcome(registry, tenantId, { outcome: "succeeded" }, { consumesQueued: true, leaseAcquiredAt: lease.acquiredAt });
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
    const { registry, queue } = await emptyStores("sched4");
    await registry.addTenant(id(30));
    const before = new Date("2026-03-01T12:00:00Z");
    await scheduleDueTenants({ registry, queue, logger: capturingLogger().logger, occurrence: before });
    await drain(queue);
    await recordTenantRunOutcome(registry, id(30), { outcome: "succeeded" }, { consumesQueued: true, leaseAcquiredAt: new Date() });
    const occurrence = new Date("2026-03-01T12:15:00Z");
    const broken = withSend(queue, () => Promise.reject(new Error("queue unavailable")));
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

  it("queues many tenants up to SCHEDULE_CONCURRENCY at once, each once, and reports them in registry order", async () => {
    const { registry, queue } = await emptyStores("sched5");
    const tenants = Array.from({ length: 2 * SCHEDULE_CONCURRENCY + 5 }, (_, i) => id(100 + i));
    for (const tenantId of tenants) await registry.addTenant(tenantId);
    await set(registry, tenants[3]!, { runningSince: new Date() });
    // A queue that is slow to answer (as Azure is, next to Azurite), counting the sends under way.
    let sending = 0;
    let mostAtOnce = 0;
    const slow = withSend(queue, async (send) => {
      sending += 1;
      mostAtOnce = Math.max(mostAtOnce, sending);
      try {
        await sleep(150);
        return await send();
      } finally {
        sending -= 1;
      }
    });
    const result = await scheduleDueTenants({ registry, queue: slow, logger: capturingLogger().logger });
    expect(mostAtOnce).toBe(SCHEDULE_CONCURRENCY);
    const idle = tenants.filter((tenantId) => tenantId !== tenants[3]);
    expect(result.enqueued).toEqual(idle);
    expect(result.skipped.map((s) => s.tenantId)).toEqual([tenants[3]]);
    expect(result.failed).toEqual([]);
    expect(await drain(queue)).toEqual(idle);
    for (const tenantId of idle) expect((await registry.getTenant(tenantId))?.queuedAt).toBeInstanceOf(Date);
  });

  it("stopped mid-pass (Ctrl+C): starts no further tenant, and leaves every tenant it started both marked and queued, none marked without its message", async () => {
    const { registry, queue } = await emptyStores("sched6");
    const tenants = Array.from({ length: 2 * SCHEDULE_CONCURRENCY + 5 }, (_, i) => id(200 + i));
    for (const tenantId of tenants) await registry.addTenant(tenantId);
    const stop = new AbortController();
    // The stop comes as the first message is being sent, while other tenants' markers are being written.
    const stopping = withSend(queue, async (send) => {
      stop.abort();
      await sleep(100);
      return send();
    });
    const log = capturingLogger();
    const result = await scheduleDueTenants({ registry, queue: stopping, logger: log.logger, abortSignal: stop.signal });
    expect(result.failed).toEqual([]);
    expect(result.enqueued.length).toBeGreaterThan(0);
    expect(result.enqueued.length).toBeLessThanOrEqual(SCHEDULE_CONCURRENCY);
    const queued = await drain(queue);
    expect(queued).toEqual(result.enqueued);
    for (const tenantId of tenants) {
      const row = await registry.getTenant(tenantId);
      expect(row?.queuedAt !== undefined, tenantId).toBe(queued.includes(tenantId));
    }
  });
});

/** A registry of its own (by table prefix) and the shared tenant queue, emptied. */
async function emptyStores(tablePrefix: string): Promise<{ registry: TenantRegistryClient; queue: TenantQueueClient }> {
  const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix });
  const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
  await registry.createTableIfNotExists();
  await queue.createQueuesIfNotExist();
  await drain(queue);
  return { registry, queue };
}

/** The same queue, with each message's send going through `around` (which may call the real send). */
function withSend(queue: TenantQueueClient, around: (send: () => Promise<string>) => Promise<string>): TenantQueueClient {
  return Object.assign(Object.create(queue) as TenantQueueClient, {
    sendTenantMessage: (...args: Parameters<TenantQueueClient["sendTenantMessage"]>) => around(() => queue.sendTenantMessage(...args)),
  });
}

/** Changes a tenant's registry row as a worker or an earlier pass would have. */
async function set(registry: TenantRegistryClient, tenantId: string, change: object): Promise<void> {
  const current = (await registry.getTenant(tenantId))!;
  await registry.updateTenant({ ...current, ...change });
}
