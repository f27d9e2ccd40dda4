/**
 * Hostile and malformed Graph responses, end to end through UserSyncService against the simulated
 * tenant: a run fails with a clear reason and never becomes the latest snapshot; a foreign nextLink
 * receives nothing; users repeated across pages are written once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { capturingLogger, expectNoSecrets, type SyncEnvironment } from "../support/syncEnvironment.js";
import { expectLatestSnapshot, failingRun, lastRun, startWithFirstSnapshot } from "../support/graphFaultRuns.js";

const USERS = 2_100; // three pages of 999, 999 and 102
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();
let latestSnapshotId: string;

beforeAll(async () => {
  ({ world, service, clients, snapshotId: latestSnapshotId } = await startWithFirstSnapshot(USERS, log.logger));
});
afterAll(async () => world?.close());

/** The run failed as recorded, with `reason`, and the previous snapshot is still the latest, intact. */
async function expectFailedRunKeptLatest(reason: string): Promise<void> {
  const recorded = await lastRun(clients);
  expect(recorded.status).toBe("failed");
  expect(recorded.error).toContain(reason);
  expect(recorded.snapshotId).not.toBe(latestSnapshotId);
  await expectLatestSnapshot(clients, latestSnapshotId, USERS);
}

describe("hostile and malformed Graph responses", () => {
  it.each([
    ["a page that is not JSON", { notJson: true }, "Graph page 2 is not JSON"],
    ["a page without a value array", { withoutValue: true }, 'Graph page 2 has no "value" array'],
    ["a user without an id", { userWithoutId: true }, "Graph page 2 holds a user without an id (item 0)"],
  ])("fails the run on %s, with the reason in the run record", async (_label, step, reason) => {
    world.tenant.faults.graph.script([{}, step]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_bad_response");
    expect(error.message).toContain(reason);
    expect(error.message).toContain("no snapshot from it will be promoted");
    await expectFailedRunKeptLatest(reason);
  });

  it("stops at a nextLink to another host before sending it anything", async () => {
    const foreign = await world.tenant.faults.startForeignHost();
    const graphRequests = world.tenant.requests.count("graph");
    world.tenant.faults.graph.script([{ nextLink: `${foreign.origin}/v1.0/users?$skiptoken=stolen` }]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_untrusted_next_link");
    expect(error.message).toContain(new URL(foreign.origin).host);
    expect(error.message).toContain("sending anything there");
    expect(foreign.requests).toEqual([]);
    expect(world.tenant.requests.count("graph")).toBe(graphRequests + 1);
    await expectFailedRunKeptLatest("not the configured Graph endpoint");
    await foreign.close();
  });

  it("stops at a plain-http nextLink on the Graph host", async () => {
    const graph = new URL(world.tenant.graphEndpoint);
    world.tenant.faults.graph.script([{ nextLink: `http://${graph.host}/v1.0/users?$skiptoken=downgraded` }]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_untrusted_next_link");
    expect(error.message).toContain("http://");
    await expectFailedRunKeptLatest("not the configured Graph endpoint");
  });

  it("writes a user repeated across pages once", async () => {
    world.tenant.faults.graph.script([{}, { repeatUsers: 5 }, { repeatUsers: 3 }]);
    const { run, stats } = await service.runSync(log.logger, { trigger: "cli" });
    expect(stats.usersRead).toBe(USERS);
    expect(stats.entitiesWritten).toBe(USERS);
    expect((await lastRun(clients)).stats.counters.graphDuplicateUsers).toBe(8);
    await expectLatestSnapshot(clients, run.snapshotId, USERS);
    // And the snapshot holds each user as the directory has it.
    const expected = new Map<string, GraphUser>();
    for (const user of world.tenant.directory.users(clients.settings.select)) expected.set(user.id, user);
    for await (const user of clients.store.listSnapshotUsers(run.snapshotId)) expect(user).toEqual(expected.get(user.id));
    latestSnapshotId = run.snapshotId;
  });

  it("explains a 403 with the admin-consent URL of the configured authority, tenant and client", async () => {
    world.tenant.faults.graph.script([{ status: 403 }]);
    const error = await failingRun(service, log.logger);
    expect(error.code).toBe("graph_forbidden");
    expect(error.message).toContain("User.Read.All");
    const consent = `${world.tenant.authorityHost}/${world.tenant.tenantId}/adminconsent?client_id=${world.tenant.clientId}`;
    expect(error.message).toContain(consent);
    await expectFailedRunKeptLatest(consent);
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 20 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
