/**
 * A tenant message that meets a writer lease held by a run that never marked the tenant's row (a
 * `run --tenant`, or a run that died right after taking the lease) is not completed as skipped: it
 * is deferred to the lease's expiry, then its run takes the lease over and syncs the tenant. A
 * fresh duplicate of a message whose run holds the lease and marked the row is skipped, and
 * consumes only its own queued marker. In-process worker, Azurite's tables and queues, simulated cloud.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { answerHeldLease } from "../../src/fanout/heldLease.js";
import { runWorker } from "../../src/fanout/worker.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { registerTenants, useMultiTenantInProcess } from "../support/multiTenantEnvironment.js";

const UNMARKED = "b1b1b1b1-0000-4000-8000-000000000001";
const MARKED = "b2b2b2b2-0000-4000-8000-000000000002";

let world: SyncEnvironment;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: 3, customerTenants: [{ tenantId: UNMARKED, userCount: 40 }, { tenantId: MARKED, userCount: 40 }] }, { queue: true });
  env = useMultiTenantInProcess(world);
}, 120_000);
afterAll(async () => world?.close());

function storeOf(tenantId: string): SnapshotStoreClient {
  return new SnapshotStoreClient({ storage: loadStorageSettings(env), tablePrefix: tenantTablePrefix(tenantId) });
}

describe("a message meeting a held writer lease", () => {
  it("is deferred to the lease's expiry when the holder never marked the row, then syncs the tenant", async () => {
    const services = new TenantServices(env);
    await registerTenants(services, [UNMARKED]);
    // A holder that took the lease and died before marking the row: nobody renews it.
    const store = storeOf(UNMARKED);
    await store.createTablesIfNotExist();
    const dead = await store.acquireLease({ trigger: "cli", leaseDurationInMs: 4000 });
    await services.queue.sendTenantMessage({ tenantId: UNMARKED, kind: "due", enqueuedAt: new Date().toISOString() });
    const log = capturingLogger();
    const summary = await runWorker({ services, logger: log.logger, concurrency: 1, once: true, schedule: false });
    expect(summary.outcomes.map((o) => o.outcome)).toEqual(["deferred", "succeeded"]);
    expect(log.lines.join("\n")).toContain("holds its writer lease, and this message may be the tenant's only one: it comes back in");
    const [run] = await Array.fromAsync(store.listRuns({ maxResults: 1 }));
    expect(run).toMatchObject({ status: "succeeded", trigger: "queue" });
    const row = await services.registry.getTenant(UNMARKED);
    expect(row).toMatchObject({ lastOutcome: "succeeded" });
    expect(row?.runningSince).toBeUndefined();
    expect(row?.leaseAcquiredAt!.getTime()).toBeGreaterThan(dead.acquiredAt.getTime());
    expect(await services.queue.approximateMessageCount()).toBe(0);
  }, 120_000);

  it("a fresh duplicate is skipped when the holder is a message's run that marked the row, consuming only its own queued marker", async () => {
    const services = new TenantServices(env);
    await registerTenants(services, [MARKED]);
    const store = storeOf(MARKED);
    await store.createTablesIfNotExist();
    const holder = await store.acquireLease({ trigger: "queue", leaseDurationInMs: 60_000 });
    const enqueuedAt = new Date();
    const current = (await services.registry.getTenant(MARKED))!;
    await services.registry.updateTenant({ ...current, runningSince: new Date(), leaseAcquiredAt: holder.acquiredAt, queuedAt: enqueuedAt });
    const held = await store.getLease();
    const log = capturingLogger();
    const context = { registry: services.registry, queue: services.queue, logger: log.logger };
    const message = { tenantId: MARKED, kind: "due" as const, enqueuedAt: enqueuedAt.toISOString() };

    expect(await answerHeldLease(message, held, { ...context, dequeueCount: 1 })).toBe("skipped");
    const row = await services.registry.getTenant(MARKED);
    expect(row?.queuedAt).toBeUndefined();
    expect(row?.runningSince).toBeInstanceOf(Date);
    expect(await services.queue.approximateMessageCount()).toBe(0);

    // The same message delivered again (its worker died), or one that already waited: deferred, never skipped.
    expect(await answerHeldLease(message, held, { ...context, dequeueCount: 2 })).toBe("deferred");
    expect(await answerHeldLease({ ...message, waitsForLeaseUntil: held!.expiresAt.toISOString() }, held, { ...context, dequeueCount: 1 })).toBe("deferred");
    const [copy] = await services.queue.queue.peekMessages().then((r) => r.peekedMessageItems).catch(() => []);
    expect(copy).toBeUndefined(); // invisible until the lease can expire
    expect(await services.queue.approximateMessageCount()).toBe(2);
    await store.releaseLease(holder);
    await services.queue.queue.clearMessages();
  }, 60_000);
});
