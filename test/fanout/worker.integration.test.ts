/**
 * The worker in-process against Azurite's queues and tables and the simulated cloud: a paused
 * tenant continued through its continuation message, two workers never running one tenant at once,
 * a tenant removed while queued, a message that keeps failing going to the poison queue with
 * its tenant's row saying why, while the other tenants succeed, and workers that keep running
 * queueing every tenant at each occurrence of the schedule, once however many workers there are.
 * Runs started by a message record the trigger `queue`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { runWorker } from "../../src/fanout/worker.js";
import { MAX_DEQUEUE_COUNT } from "../../src/fanout/tenantQueue.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { registerTenants, useMultiTenantInProcess } from "../support/multiTenantEnvironment.js";

const PAUSING = "c1c1c1c1-0000-4000-8000-000000000001";
const SHARED = "c2c2c2c2-0000-4000-8000-000000000002";
const REMOVED = "c3c3c3c3-0000-4000-8000-000000000003";
const BROKEN = "c4c4c4c4-0000-4000-8000-000000000004";
const HEALTHY = "c5c5c5c5-0000-4000-8000-000000000005";
const THROTTLED = "c6c6c6c6-0000-4000-8000-000000000006";
const QUIET = "c7c7c7c7-0000-4000-8000-000000000007";
const STOPPED = "c8c8c8c8-0000-4000-8000-000000000008";
const SCHEDULED_A = "c9c9c9c9-0000-4000-8000-000000000009";
const SCHEDULED_B = "cacacaca-0000-4000-8000-00000000000a";
const STOPPED_IN_MIRROR = "cbcbcbcb-0000-4000-8000-00000000000b";

let world: SyncEnvironment;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment(
    {
      userCount: 3,
      customerTenants: [
        { tenantId: PAUSING, userCount: 6000, graphLatencyInMs: 700 },
        { tenantId: SHARED, userCount: 1500, graphLatencyInMs: 300 },
        { tenantId: REMOVED, userCount: 10 },
        { tenantId: BROKEN, userCount: 10 },
        { tenantId: HEALTHY, userCount: 40 },
        { tenantId: THROTTLED, userCount: 50 },
        { tenantId: QUIET, userCount: 50 },
        { tenantId: STOPPED, userCount: 6000, graphLatencyInMs: 700 },
        { tenantId: SCHEDULED_A, userCount: 30 },
        { tenantId: SCHEDULED_B, userCount: 20 },
        { tenantId: STOPPED_IN_MIRROR, userCount: 40 },
      ],
    },
    { queue: true },
  );
  env = useMultiTenantInProcess(world, { GRAPH_MAX_RETRIES: "0" });
}, 120_000);
afterAll(async () => world?.close());

function storeOf(tenantId: string): SnapshotStoreClient {
  return new SnapshotStoreClient({ storage: loadStorageSettings(env), tablePrefix: tenantTablePrefix(tenantId) });
}

const register = (services: TenantServices, ...tenantIds: string[]) => registerTenants(services, tenantIds);

async function countUsers(store: SnapshotStoreClient): Promise<number> {
  const latest = await store.getLatestSnapshot();
  if (!latest) return 0;
  let count = 0;
  for await (const _user of store.listSnapshotUsers(latest.snapshotId)) count += 1;
  return count;
}

describe("worker", () => {
  it("continues a paused tenant through its continuation message until its snapshot completes", async () => {
    const services = new TenantServices(env);
    await register(services, PAUSING);
    const log = capturingLogger();
    const summary = await runWorker({ services, logger: log.logger, concurrency: 2, once: true, continuationDelayInSeconds: 1, runControl: { maxRunDurationInMs: 3000 } });
    const outcomes = summary.outcomes.filter((o) => o.tenantId === PAUSING).map((o) => o.outcome);
    expect(outcomes.length).toBeGreaterThanOrEqual(2);
    expect(outcomes.slice(0, -1).every((o) => o === "paused")).toBe(true);
    expect(outcomes.at(-1)).toBe("succeeded");
    expect(log.lines.join("\n")).toContain("its continuation is queued (in 1 s)");
    const store = storeOf(PAUSING);
    expect(await countUsers(store)).toBe(6000);
    // One snapshot run, continued: not one per invocation.
    const runs = await Array.fromAsync(store.listRuns());
    // One snapshot run, continued by the continuations (a run stopped before its first page, on a
    // slow machine, is abandoned by design: docs/storage.md).
    const succeeded = runs.filter((r) => r.status === "succeeded");
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]!.stats.counters.resumes ?? 0).toBeGreaterThanOrEqual(1);
    expect(runs.filter((r) => r.status !== "succeeded" && !/before committing its first page/.test(r.error ?? ""))).toEqual([]);
    // Started by a tenant message: trigger `queue` (not `timer` or `cli`).
    expect(runs.map((r) => r.trigger)).toEqual(runs.map(() => "queue"));
    expect(await services.registry.getTenant(PAUSING)).toMatchObject({ lastOutcome: "succeeded" });
    expect(await services.queue.approximateMessageCount()).toBe(0);
    expectNoSecrets(log.lines.join("\n"));
  }, 240_000);

  it("never runs one tenant in two workers at once: the second finds the lease held and skips (or, when it looked before the first marked the row, waits for the lease and runs after)", async () => {
    const a = new TenantServices(env);
    const b = new TenantServices(env);
    await register(a, SHARED);
    // Two messages for one tenant (a continuation racing a tick), taken by two workers at once.
    for (let i = 0; i < 2; i++) await a.queue.sendTenantMessage({ tenantId: SHARED, kind: "due", enqueuedAt: new Date().toISOString() });
    const log = capturingLogger();
    // A short lease: a message deferred to its expiry comes back within the test.
    const runControl = { leaseDurationInMs: 10_000 };
    const [first, second] = await Promise.all([
      runWorker({ services: a, logger: log.logger, concurrency: 1, once: true, schedule: false, runControl }),
      runWorker({ services: b, logger: log.logger, concurrency: 1, once: true, schedule: false, runControl }),
    ]);
    const outcomes = [...first.outcomes, ...second.outcomes].filter((o) => o.tenantId === SHARED).map((o) => o.outcome).sort();
    // The second message met the first's lease: skipped when the first run had marked the row,
    // deferred (and run once the first had ended) when it looked in between taking the lease and marking.
    expect([["skipped", "succeeded"], ["deferred", "succeeded", "succeeded"]]).toContainEqual(outcomes);
    expect(await Array.fromAsync(storeOf(SHARED).listRuns())).toHaveLength(1);
    expect(await countUsers(storeOf(SHARED))).toBe(1500);
  });

  it("drops the message of a tenant removed while it was queued, touching nothing of it", async () => {
    const services = new TenantServices(env);
    await register(services, REMOVED);
    await services.queue.sendTenantMessage({ tenantId: REMOVED, kind: "due", enqueuedAt: new Date().toISOString() });
    await services.registry.deleteTenant(REMOVED);
    const requestsBefore = world.tenant.customers.get(REMOVED)!.graphRequestCount();
    const log = capturingLogger();
    const summary = await runWorker({ services, logger: log.logger, concurrency: 1, once: true, schedule: false });
    expect(summary.outcomes).toEqual([{ tenantId: REMOVED, outcome: "dropped" }]);
    expect(log.lines.join("\n")).toContain("no longer registered");
    expect(world.tenant.customers.get(REMOVED)!.graphRequestCount()).toBe(requestsBefore);
    expect(await storeOf(REMOVED).getLatestSnapshot()).toBeUndefined();
    expect(await services.queue.approximateMessageCount()).toBe(0);
  });

  it("moves a message that keeps failing to the poison queue after maxDequeueCount attempts; its row says why; others succeed", async () => {
    const services = new TenantServices(env);
    await register(services, BROKEN, HEALTHY);
    await services.registry.deleteTenant(PAUSING);
    await services.registry.deleteTenant(SHARED);
    const remove = world.tenant.customers.get(BROKEN)!.interceptGraph((request) => ({
      status: 500,
      headers: {},
      body: { error: { code: "InternalServerError", message: "simulated outage", innerError: { "request-id": request.requestId } } },
    }));
    try {
      const log = capturingLogger();
      const summary = await runWorker({ services, logger: log.logger, concurrency: 2, once: true, retryDelayInSeconds: 1 });
      const broken = summary.outcomes.filter((o) => o.tenantId === BROKEN).map((o) => o.outcome);
      expect(broken).toEqual([...Array<string>(MAX_DEQUEUE_COUNT - 1).fill("retry"), "poisoned"]);
      expect(summary.outcomes.filter((o) => o.tenantId === HEALTHY).map((o) => o.outcome)).toEqual(["succeeded"]);
      const poisoned = await services.queue.poison.receiveMessages({ numberOfMessages: 32 });
      expect(poisoned.receivedMessageItems).toHaveLength(1);
      expect(Buffer.from(poisoned.receivedMessageItems[0]!.messageText, "base64").toString("utf8")).toContain(BROKEN);
      const row = await services.registry.getTenant(BROKEN);
      expect(row?.lastOutcome).toBe("poisoned");
      expect(row?.lastError).toContain(`Moved to the poison queue after ${MAX_DEQUEUE_COUNT} attempts`);
      expect(row?.lastError).toMatch(/500|InternalServerError|outage/);
      expect(row?.runningSince).toBeUndefined();
      // Every line about the broken tenant, the worker's poison-queue line included, starts with its name.
      const aboutBroken = log.lines.filter((line) => line.includes(BROKEN));
      expect(aboutBroken.some((line) => line.includes("moved to the poison queue"))).toBe(true);
      for (const line of aboutBroken) expect(line).toMatch(new RegExp(`^(info|warn|error) \\[tenant ${BROKEN}\\] `));
      expect(await countUsers(storeOf(HEALTHY))).toBe(40);
    } finally {
      remove();
    }
  });

  it("a throttled tenant waits alone: another tenant's run is not held up by it", async () => {
    // Retries on: the throttled tenant honours Retry-After and finishes.
    const services = new TenantServices({ ...env, GRAPH_MAX_RETRIES: "3" });
    for (const other of [BROKEN, HEALTHY]) await services.registry.deleteTenant(other);
    await register(services, THROTTLED, QUIET);
    let throttled = 0;
    const remove = world.tenant.customers.get(THROTTLED)!.interceptGraph(() =>
      throttled++ < 3 ? { status: 429, headers: { "retry-after": "2" }, body: { error: { code: "TooManyRequests", message: "Too many requests" } } } : undefined,
    );
    try {
      const order: string[] = [];
      const summary = await runWorker({ services, logger: capturingLogger().logger, concurrency: 2, once: true, onOutcome: (tenantId) => order.push(tenantId) });
      expect(summary.outcomes.map((o) => o.outcome)).toEqual(["succeeded", "succeeded"]);
      // The quiet tenant finished first, although both started together.
      expect(order).toEqual([QUIET, THROTTLED]);
      expect(throttled).toBeGreaterThanOrEqual(3);
      expect(await countUsers(storeOf(THROTTLED))).toBe(50);
      expect(await countUsers(storeOf(QUIET))).toBe(50);
    } finally {
      remove();
    }
  });

  it("stopping the worker (Ctrl+C) pauses the run at its checkpoint, records it and queues its continuation", async () => {
    const services = new TenantServices(env);
    for (const other of [THROTTLED, QUIET]) await services.registry.deleteTenant(other);
    await register(services, STOPPED);
    const stop = new AbortController();
    const log = capturingLogger();
    const worker = runWorker({ services, logger: log.logger, concurrency: 1, once: true, continuationDelayInSeconds: 60, abortSignal: stop.signal });
    // Stop once the first page is committed.
    const store = storeOf(STOPPED);
    for (let i = 0; i < 600; i++) {
      const [run] = await Array.fromAsync(store.listRuns({ maxResults: 1 })).catch(() => []);
      if ((run?.stats.pages ?? 0) >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    stop.abort();
    const summary = await worker;
    expect(summary.outcomes).toEqual([{ tenantId: STOPPED, outcome: "paused" }]);
    expect(await services.registry.getTenant(STOPPED)).toMatchObject({ lastOutcome: "paused" });
    expect((await services.registry.getTenant(STOPPED))?.queuedAt).toBeInstanceOf(Date);
    // The continuation waits in the queue (invisible for 60 s).
    expect(await services.queue.approximateMessageCount()).toBe(1);
    expect((await Array.fromAsync(store.listRuns()))[0]?.status).toBe("paused");
  }, 120_000);

  it("without --once, queues every tenant again at each occurrence of the schedule; two workers queue a tenant once per occurrence; stopping ends the schedule", async () => {
    const a = new TenantServices(env);
    const b = new TenantServices(env);
    await a.registry.deleteTenant(STOPPED);
    await register(a, SCHEDULED_A, SCHEDULED_B);
    const stop = new AbortController();
    const passes: Array<{ worker: string; occurrence: string; enqueued: string[] }> = [];
    const succeeded = new Map<string, number>();
    const outcomes: string[] = [];
    const logs = capturingLogger();
    const start = (services: TenantServices, worker: string) =>
      runWorker({
        services,
        logger: logs.logger,
        concurrency: 2,
        once: false,
        // Every 3 seconds, so that a test sees several occurrences.
        scheduleExpression: "*/3 * * * * *",
        maxPollingIntervalInMs: 300,
        abortSignal: stop.signal,
        onScheduled: (occurrence, result) => passes.push({ worker, occurrence: occurrence.toISOString(), enqueued: result.enqueued }),
        onOutcome: (tenantId, outcome) => {
          if (tenantId !== SCHEDULED_A && tenantId !== SCHEDULED_B) return;
          outcomes.push(outcome);
          if (outcome === "succeeded") succeeded.set(tenantId, (succeeded.get(tenantId) ?? 0) + 1);
        },
      });
    const workers = Promise.all([start(a, "a"), start(b, "b")]);
    const bothPassed = () => new Set(passes.map((p) => p.occurrence).filter((o) => passes.some((p) => p.occurrence === o && p.worker === "a") && passes.some((p) => p.occurrence === o && p.worker === "b"))).size;
    for (let i = 0; i < 900 && (bothPassed() < 3 || Math.min(succeeded.get(SCHEDULED_A) ?? 0, succeeded.get(SCHEDULED_B) ?? 0) < 3); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    stop.abort();
    const [first, second] = await workers;
    // Synced again and again on the schedule, not only at start.
    expect(succeeded.get(SCHEDULED_A)).toBeGreaterThanOrEqual(3);
    expect(succeeded.get(SCHEDULED_B)).toBeGreaterThanOrEqual(3);
    expect(bothPassed()).toBeGreaterThanOrEqual(3);
    // Both workers passed at the same occurrences, and no occurrence queued a tenant twice.
    for (const occurrence of new Set(passes.map((p) => p.occurrence))) {
      const queued = passes.filter((p) => p.occurrence === occurrence).flatMap((p) => p.enqueued);
      expect(queued.length, `occurrence ${occurrence}: ${queued.join(", ")}`).toBe(new Set(queued).size);
    }
    // No second message ever met a run of its tenant under way (skipped), nothing failed; a run under way at the stop is stopped.
    expect(outcomes.filter((o) => o !== "succeeded" && o !== "stopped"), logs.lines.filter((l) => !l.startsWith("info")).join("\n")).toEqual([]);
    expect(first.scheduledOccurrences.length + second.scheduledOccurrences.length).toBe(passes.length);
    // Stopped: no pass after the stop, however long one waits.
    const seen = passes.length;
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(passes.length).toBe(seen);
    const runs = await Array.fromAsync(storeOf(SCHEDULED_A).listRuns());
    expect(runs.map((r) => r.trigger)).toEqual(runs.map(() => "queue"));
    expect(await countUsers(storeOf(SCHEDULED_A))).toBe(30);
  }, 180_000);

  it("stopping the worker during a run's mirror round (before any checkpoint) leaves its message for the next worker at once, not counted as a failure", async () => {
    const services = new TenantServices(env);
    for (const other of [SCHEDULED_A, SCHEDULED_B]) await services.registry.deleteTenant(other);
    await register(services, STOPPED_IN_MIRROR);
    // A first run: the snapshot and the mirror's first round; the next run is the mirror's incremental round only.
    const first = await runWorker({ services, logger: capturingLogger().logger, concurrency: 1, once: true });
    expect(first.outcomes.filter((o) => o.tenantId === STOPPED_IN_MIRROR).map((o) => o.outcome)).toEqual(["succeeded"]);
    let deltaStarted!: () => void;
    const inDelta = new Promise<void>((resolve) => (deltaStarted = resolve));
    const remove = world.tenant.customers.get(STOPPED_IN_MIRROR)!.interceptGraph(async (request) => {
      if (!request.url.pathname.includes("delta")) return undefined;
      deltaStarted();
      await new Promise((resolve) => setTimeout(resolve, 5000));
      return undefined;
    });
    const poisonedBefore = (await services.queue.poison.getProperties()).approximateMessagesCount ?? 0;
    try {
      const stop = new AbortController();
      const log = capturingLogger();
      const worker = runWorker({ services, logger: log.logger, concurrency: 1, once: true, abortSignal: stop.signal });
      await inDelta;
      stop.abort();
      const summary = await worker;
      expect(summary.outcomes.filter((o) => o.tenantId === STOPPED_IN_MIRROR)).toEqual([{ tenantId: STOPPED_IN_MIRROR, outcome: "stopped" }]);
      expect(log.lines.join("\n")).toContain("its message is left in the queue for the next worker");
      const row = await services.registry.getTenant(STOPPED_IN_MIRROR);
      expect(row).toMatchObject({ lastOutcome: "stopped" });
      expect(row?.lastError).toBeUndefined();
      expect(row?.queuedAt).toBeInstanceOf(Date);
      expect(row?.runningSince).toBeUndefined();
      // Visible again at once (not after the retry delay), and not poisoned.
      const [again] = await services.queue.receiveTenantMessages(32, 60);
      expect(again?.message?.tenantId).toBe(STOPPED_IN_MIRROR);
      expect(again?.dequeueCount).toBe(2);
      await services.queue.extendVisibility(again!, 0);
      expect((await services.queue.poison.getProperties()).approximateMessagesCount ?? 0).toBe(poisonedBefore);
    } finally {
      remove();
    }
    // The next worker does the round.
    const next = await runWorker({ services, logger: capturingLogger().logger, concurrency: 1, once: true, schedule: false });
    expect(next.outcomes.filter((o) => o.tenantId === STOPPED_IN_MIRROR)).toEqual([{ tenantId: STOPPED_IN_MIRROR, outcome: "succeeded" }]);
    expect(await services.registry.getTenant(STOPPED_IN_MIRROR)).toMatchObject({ lastOutcome: "succeeded" });
  }, 180_000);
});
