/**
 * A Graph token that stops working mid-run, end to end: Graph's 401 makes the reader ask MSAL for a
 * new token with its cache bypassed — a real request to the simulated token endpoint — and retry
 * once; a second 401 fails the run, and the previous snapshot stays the latest.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { expectLatestSnapshot, failingRun, lastRun } from "../support/graphFaultRuns.js";

const USERS = 2_100; // three pages of 999, 999 and 102
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();
let latestSnapshotId: string;
/** SHA-256 of the bearer token on each Graph request (the tokens themselves are never kept). */
const tokenHashes: string[] = [];

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS });
  world.useInProcess();
  world.tenant.intercept("graph", (request) => {
    const authorization = String(request.headers.authorization ?? "");
    tokenHashes.push(createHash("sha256").update(authorization).digest("hex"));
    return undefined;
  });
  ({ service, clients } = composeUserSync(world.env));
  const { run } = await service.runSync(log.logger, { trigger: "cli" });
  latestSnapshotId = run.snapshotId;
});
afterAll(async () => world?.close());

describe("an expired Graph token mid-run", () => {
  it("reuses MSAL's cached token while Graph accepts it", async () => {
    const tokenRequests = world.tenant.requests.count("token");
    tokenHashes.length = 0;
    const { run } = await service.runSync(log.logger, { trigger: "cli" });
    expect(world.tenant.requests.count("token")).toBe(tokenRequests);
    expect(new Set(tokenHashes).size).toBe(1);
    latestSnapshotId = run.snapshotId;
  });

  it("gets one new token from the token endpoint, bypassing MSAL's cache, and retries the page", async () => {
    const tokenRequests = world.tenant.requests.count("token");
    tokenHashes.length = 0;
    world.tenant.faults.graph.script([{}, { status: 401 }]);
    const { run } = await service.runSync(log.logger, { trigger: "cli" });
    expect(world.tenant.requests.count("token")).toBe(tokenRequests + 1);
    // Page 1 and the rejected page 2 carried the old token; the retry of page 2 and page 3 carry the new one.
    expect(tokenHashes).toHaveLength(4);
    expect(tokenHashes[1]).toBe(tokenHashes[0]);
    expect(tokenHashes[2]).not.toBe(tokenHashes[1]);
    expect(tokenHashes[3]).toBe(tokenHashes[2]);
    const recorded = await lastRun(clients);
    expect(recorded.status).toBe("succeeded");
    expect(recorded.stats.counters).toMatchObject({ graphTokenRefreshes: 1, graphRequests: 4 });
    await expectLatestSnapshot(clients, run.snapshotId, USERS);
    latestSnapshotId = run.snapshotId;
  });

  it("fails the run on a second 401 after the refresh, and keeps the previous snapshot", async () => {
    const tokenRequests = world.tenant.requests.count("token");
    world.tenant.faults.graph.script([{}, { status: 401 }, { status: 401 }]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_unauthorized");
    expect(error.message).toContain("InvalidAuthenticationToken");
    expect(world.tenant.requests.count("token")).toBe(tokenRequests + 1);
    const recorded = await lastRun(clients);
    expect(recorded.status).toBe("failed");
    expect(recorded.error).toContain("rejected the access token");
    expect(recorded.stats.counters).toMatchObject({ graphTokenRefreshes: 1 });
    await expectLatestSnapshot(clients, latestSnapshotId, USERS);
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 20 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
