/**
 * Throttling, transient failures, connection resets, timeouts and pacing, end to end: UserSyncService
 * (Key Vault, MSAL, Azure Core's pipeline to Graph, Tables on Azurite) against the simulated tenant
 * with per-request fault scripts. Each test checks the outcome, the waits recorded in the run's
 * counters, and the latest snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, type SyncEnvironment } from "../support/syncEnvironment.js";
import { expectLatestSnapshot, failingRun, lastRun, startWithFirstSnapshot } from "../support/graphFaultRuns.js";

const USERS = 2_100; // three pages of 999, 999 and 102
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();
let latestSnapshotId: string;

beforeAll(async () => {
  ({ world, service, clients, snapshotId: latestSnapshotId } = await startWithFirstSnapshot(USERS, log.logger, {
    GRAPH_MAX_RETRIES: "3",
    GRAPH_MAX_RETRY_WAIT_SECONDS: "10",
    GRAPH_REQUEST_TIMEOUT_SECONDS: "3",
  }));
});
afterAll(async () => world?.close());

/** A run that must succeed: it becomes the latest snapshot, complete. Returns its recorded counters. */
async function succeedingRun(): Promise<Record<string, number>> {
  const { run, stats } = await service.runSync(log.logger, { trigger: "cli" });
  expect(world.tenant.faults.graph.pending).toBe(0);
  expect(stats.entitiesWritten).toBe(USERS);
  await expectLatestSnapshot(clients, run.snapshotId, USERS);
  latestSnapshotId = run.snapshotId;
  const recorded = await lastRun(clients);
  expect(recorded).toMatchObject({ runId: run.runId, status: "succeeded" });
  return recorded.stats.counters;
}

describe("Graph throttling and transient failures", () => {
  it("waits out a 429's Retry-After in seconds and carries on", async () => {
    world.tenant.faults.graph.script([{}, { status: 429, retryAfterSeconds: 1 }]);
    const counters = await succeedingRun();
    expect(counters).toMatchObject({ graphThrottled: 1, graphRetries: 1, graphWaitedInMs: 1_000, graphRequests: 4 });
  });

  it("waits out a Retry-After given as an HTTP date", async () => {
    // HTTP dates have whole seconds: 2 s from now is between 1 and 2 s away when Graph answers.
    world.tenant.faults.graph.script([{ status: 429, retryAfterDate: new Date(Date.now() + 2_000) }]);
    const counters = await succeedingRun();
    expect(counters.graphThrottled).toBe(1);
    expect(counters.graphRetries).toBe(1);
    expect(counters.graphWaitedInMs).toBeGreaterThan(500);
    expect(counters.graphWaitedInMs).toBeLessThanOrEqual(2_000);
  });

  it("honours Retry-After on 503 and 504 as well", async () => {
    world.tenant.faults.graph.script([{ status: 503, retryAfterSeconds: 1 }, { status: 504, retryAfterSeconds: 1 }]);
    const counters = await succeedingRun();
    expect(counters).toMatchObject({ graphRetries: 2, graphWaitedInMs: 2_000 });
    expect(counters.graphThrottled).toBeUndefined();
  });

  it("backs off exponentially with jitter when a 429, 503 or 504 has no Retry-After", async () => {
    world.tenant.faults.graph.script([{ status: 429 }, { status: 503 }, {}, { status: 504 }]);
    const counters = await succeedingRun();
    expect(counters.graphRetries).toBe(3);
    // First request: 1 s × 2^0 and 1 s × 2^1, each between half and all of it; second request: 1 s × 2^0.
    expect(counters.graphWaitedInMs).toBeGreaterThanOrEqual(500 + 1_000 + 500);
    expect(counters.graphWaitedInMs).toBeLessThanOrEqual(1_000 + 2_000 + 1_000);
  });

  it("retries a connection reset", async () => {
    world.tenant.faults.graph.script([{}, {}, { reset: true }]);
    const counters = await succeedingRun();
    expect(counters).toMatchObject({ graphConnectionErrors: 1, graphRetries: 1 });
    expect(counters.graphWaitedInMs).toBeGreaterThanOrEqual(500);
  });

  it("abandons an attempt after GRAPH_REQUEST_TIMEOUT_SECONDS and retries it", async () => {
    world.tenant.faults.graph.script([{ delayInMs: 6_000 }]);
    const counters = await succeedingRun();
    expect(counters).toMatchObject({ graphTimeouts: 1, graphRetries: 1 });
  });

  it("slows down when Graph reports 80 % of a throttling limit used", async () => {
    world.tenant.faults.graph.script([{ throttleLimitPercentage: 0.8 }]);
    const counters = await succeedingRun();
    expect(counters.graphThrottleWarnings).toBe(1);
    expect(counters.graphPaced).toBe(1);
    // The pause at 0.8 is 1 s from the response; the next request starts at most that much later.
    expect(counters.graphPacedInMs).toBeGreaterThan(0);
    expect(counters.graphPacedInMs).toBeLessThanOrEqual(1_000);
    expect(counters.graphRetries).toBeUndefined();
  });

  it("fails after GRAPH_MAX_RETRIES retries and keeps the previous snapshot", async () => {
    const before = latestSnapshotId;
    world.tenant.faults.graph.script([{}, ...Array.from({ length: 4 }, () => ({ status: 503 as const, retryAfterSeconds: 0 }))]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_request_failed");
    expect(error.message).toContain("503");
    expect(error.message).toContain("after 3 retries (GRAPH_MAX_RETRIES=3)");
    const recorded = await lastRun(clients);
    expect(recorded.status).toBe("failed");
    expect(recorded.error).toContain("after 3 retries");
    expect(recorded.stats.counters).toMatchObject({ graphRetries: 3, graphWaitedInMs: 0, graphRequests: 5 });
    await expectLatestSnapshot(clients, before, USERS);
  });

  it("gives up at once when Retry-After exceeds GRAPH_MAX_RETRY_WAIT_SECONDS, and keeps the previous snapshot", async () => {
    const before = latestSnapshotId;
    world.tenant.faults.graph.script([{ status: 429, retryAfterSeconds: 3_600 }]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_throttled");
    expect(error.message).toContain("Graph asked to wait 3600 s before retrying");
    expect(error.message).toContain("GRAPH_MAX_RETRY_WAIT_SECONDS");
    const recorded = await lastRun(clients);
    expect(recorded.status).toBe("failed");
    expect(recorded.stats.counters).toMatchObject({ graphThrottled: 1, graphRequests: 1 });
    expect(recorded.stats.counters.graphRetries).toBeUndefined();
    await expectLatestSnapshot(clients, before, USERS);
  });

  it("stops when one request's retry waits would exceed GRAPH_MAX_RETRY_WAIT_SECONDS", async () => {
    const before = latestSnapshotId;
    // A 2 s budget: two waits of 1 s spend it, so the third Retry-After (1 s) is not waited.
    const { service: tight, clients: tightClients } = composeUserSync({ ...world.env, GRAPH_MAX_RETRIES: "10", GRAPH_MAX_RETRY_WAIT_SECONDS: "2" });
    world.tenant.faults.graph.script([
      { status: 429, retryAfterSeconds: 1 },
      { status: 429, retryAfterSeconds: 1 },
      { status: 429, retryAfterSeconds: 1 },
    ]);
    const error = await failingRun(tight, log.logger);
    expect(error.code).toBe("graph_throttled");
    expect(error.message).toContain("gave up after 2 retries: Graph asked to wait 1 s before retrying, more than the 0 s left");
    expect((await lastRun(tightClients)).stats.counters).toMatchObject({ graphThrottled: 3, graphRetries: 2, graphWaitedInMs: 2_000 });
    await expectLatestSnapshot(clients, before, USERS);
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 20 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
