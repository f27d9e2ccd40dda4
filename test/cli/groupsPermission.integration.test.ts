/**
 * USER_SYNC_GROUPS=true without GroupMember.Read.All (the simulated tenant grants no groups role,
 * and answers /groups with 403): the compiled CLI's `run` checks the token's roles at the run's
 * start, the users' part still runs and its snapshot is promoted, and the groups part fails with a
 * message naming the permission and the tenant's admin-consent URL, recorded on the run record (a
 * snapshot run) or as a failed run of the groups' mirror (an incremental run). No groups request is
 * sent. Also: USER_SYNC_GROUPS=yes fails at start-up with exit 2, naming the setting, before any request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string> = {}) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_GROUPS: "true", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 120, seed: 31, groups: { count: 6, largeGroupMembers: 40 }, groupRole: false });
});
afterAll(async () => world?.close());

const groupRequests = () => world.tenant.requests.entries().filter((r) => r.path.startsWith("/v1.0/groups")).length;

describe("the groups part without GroupMember.Read.All", () => {
  it("USER_SYNC_GROUPS=yes fails with exit 2 naming the setting, before any request", async () => {
    const before = world.tenant.requests.entries().length;
    const result = await cli(["run"], { USER_SYNC_GROUPS: "yes" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('USER_SYNC_GROUPS must be true');
    expect(result.stderr).toContain('got "yes"');
    expect(world.tenant.requests.entries().length).toBe(before);
  });

  it("a snapshot run promotes the users, records the groups part as failed, and fails naming the permission and the consent URL", async () => {
    const result = await cli(["run"]);
    expect(result.code).toBe(1);
    expectNoSecrets(result.stdout + result.stderr);
    const output = result.stdout + result.stderr;
    expect(output).toContain("GroupMember.Read.All");
    expect(output).toContain("/adminconsent?client_id=");
    expect(output).toContain("graph_permission_missing");
    expect(groupRequests(), "no groups request without the permission").toBe(0);

    const { store } = composeStorage(loadStorageSettings(world.env));
    const latest = await store.getLatestSnapshot();
    expect(latest, "the users' snapshot is promoted").toBeDefined();
    expect(latest!.userCount).toBe(120);
    const run = await store.getRun(latest!.runId);
    expect(run?.status).toBe("succeeded");
    expect(run?.groups).toMatchObject({ status: "failed", errorCode: "graph_permission_missing" });
    expect(run?.groups?.error).toContain("GroupMember.Read.All");
  });

  it("an incremental run syncs the users' mirror and records a failed run of the groups' mirror", async () => {
    world.tenant.changes.changeUser(3, { jobTitle: "Changed while groups cannot be read" });
    const result = await cli(["run"]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain("GroupMember.Read.All");
    expect(groupRequests()).toBe(0);
    const { mirror } = composeStorage(loadStorageSettings(world.env));
    const users = await Array.fromAsync(mirror.listRuns({ maxResults: 1 }));
    expect(users[0]).toMatchObject({ status: "succeeded", mode: "incremental" });
    const groups = await Array.fromAsync(composeGroupStores(loadStorageSettings(world.env)).mirror.listRuns({ maxResults: 1 }));
    expect(groups[0]).toMatchObject({ status: "failed" });
    expect(groups[0]!.error).toContain("graph_permission_missing");
  });
});
