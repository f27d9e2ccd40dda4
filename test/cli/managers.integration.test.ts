/**
 * Users' managers (USER_SYNC_GROUPS=true), as an operator runs them: the compiled CLI in its own
 * process against Azurite and the simulated tenant; the stores are read back in this process.
 * With the groups off, nothing asks Graph for a manager. On, a snapshot run's `/users` pages carry
 * `$expand=manager($select=id)` and the managers become edges (never a user property) in the
 * snapshot and the mirror; an incremental round's `manager@delta` changes the mirror's edges and
 * the change log says set, cleared or changed.
 */
import { TableServiceClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import type { GroupStores } from "../../src/sync/groupsRound.js";
import { MIRROR_EDGE_SCOPE } from "../../src/tables/edgeTables.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 120;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;
let stores: GroupStores;

function cli(args: string[], groups: boolean) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_GROUPS: String(groups) }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 31, groups: { count: 4, largeGroupMembers: 20 } });
  stores = composeGroupStores(loadStorageSettings(world.env));
});
afterAll(async () => world?.close());

/** Every user's manager in the simulated directory now, as `user>manager`, ascending by user id. */
function directoryManagers(): string[] {
  const links: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const manager = world.tenant.changes.managerOf(i);
    if (manager !== undefined) links.push(`${world.tenant.changes.userIdAt(i)}>${manager}`);
  }
  return links.sort();
}

async function storedManagers(scope: string): Promise<string[]> {
  const links: string[] = [];
  for await (const link of stores.managers.listManagers(scope)) links.push(`${link.userId}>${link.managerId}`);
  return links;
}

/** The Graph requests since the last reset, as URLs (their query decoded). */
function graphRequests(path: string): URL[] {
  return world.tenant.requests
    .entries()
    .map((entry) => new URL(entry.path, "https://graph.invalid"))
    .filter((url) => url.pathname === path);
}

async function latestRun() {
  const { store } = composeStorage(loadStorageSettings(world.env));
  const latest = await store.getLatestSnapshot();
  return latest ? store.getRun(latest.runId) : undefined;
}

describe("users' managers on the command line", () => {
  let snapshotId: string;

  it("with USER_SYNC_GROUPS=false, no request asks for a manager and no manager table exists", async () => {
    world.tenant.requests.reset();
    const result = await cli(["run", "--full"], false);
    expect(result.code, result.stderr).toBe(0);
    const users = graphRequests("/v1.0/users");
    const delta = graphRequests("/v1.0/users/delta");
    expect(users.length).toBeGreaterThan(0);
    expect(delta.length).toBeGreaterThan(0);
    expect(users.filter((url) => url.searchParams.has("$expand"))).toEqual([]);
    expect(delta.filter((url) => (url.searchParams.get("$select") ?? "").toLowerCase().split(",").includes("manager"))).toEqual([]);
    const tables: string[] = [];
    for await (const table of TableServiceClient.fromConnectionString(world.azurite.connectionString, { allowInsecureConnection: true }).listTables()) tables.push(table.name!);
    expect(tables.filter((name) => /Managers|DirectReports/.test(name))).toEqual([]);
  });

  it("on, a snapshot run reads /users with $expand=manager($select=id) and /users/delta with manager, and keeps every manager as an edge of the snapshot and of the mirror", async () => {
    world.tenant.requests.reset();
    const result = await cli(["run", "--full"], true);
    expect(result.code, result.stderr).toBe(0);
    const users = graphRequests("/v1.0/users");
    expect(users.length).toBeGreaterThan(0);
    expect(users.every((url) => url.searchParams.get("$expand") === "manager($select=id)"), users.map(String).join("\n")).toBe(true);
    // Graph hands out at most 100 objects a page with $expand on directory objects: the reader asks for no more.
    expect(users[0]!.searchParams.get("$top")).toBe("100");
    const firstDelta = graphRequests("/v1.0/users/delta").filter((url) => url.searchParams.has("$select"));
    expect(firstDelta.length).toBeGreaterThan(0);
    expect(firstDelta.every((url) => url.searchParams.get("$select")!.split(",").includes("manager"))).toBe(true);

    const run = await latestRun();
    expect(run?.status).toBe("succeeded");
    snapshotId = run!.snapshotId;
    const expected = directoryManagers();
    expect(expected.length).toBe(USERS - 1);
    expect(await storedManagers(snapshotId)).toEqual(expected);
    expect(await storedManagers(MIRROR_EDGE_SCOPE)).toEqual(expected);
    // Both directions are one partition read: user 1's manager is user 0, whose direct reports are users 1–8.
    const id = (i: number) => world.tenant.changes.userIdAt(i);
    expect((await Array.fromAsync(stores.managers.edges.listTargets(snapshotId, id(1)))).map((e) => e.targetId)).toEqual([id(0)]);
    expect((await Array.fromAsync(stores.managers.edges.listSources(snapshotId, id(0)))).map((e) => e.sourceId).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map(id).sort());

    // The manager is not a property of the stored user, in the snapshot or the mirror.
    const { store, mirror } = composeStorage(loadStorageSettings(world.env));
    for await (const user of store.listSnapshotUsers(snapshotId)) expect(Object.keys(user)).not.toContain("manager");
    for await (const entry of mirror.listUsers()) expect(Object.keys(entry.user)).not.toContain("manager");
  });

  it("an incremental round follows a changed, a set and a cleared manager, and logs each", async () => {
    const id = (i: number) => world.tenant.changes.userIdAt(i);
    const changes = world.tenant.changes;
    changes.setManager(20, 5); // changed: was user 2
    changes.setManager(30, null); // cleared: was user 3
    changes.setManager(0, 7); // set: user 0 had none
    const before = (await latestRun())!.runId;
    world.tenant.requests.reset();

    const result = await cli(["run"], true);
    expect(result.code, result.stderr).toBe(0);
    expect((await latestRun())!.runId, "no new snapshot: an incremental round").toBe(before);
    expect(graphRequests("/v1.0/users"), "an incremental round reads no /users page").toEqual([]);

    expect(await storedManagers(MIRROR_EDGE_SCOPE)).toEqual(directoryManagers());
    expect(await storedManagers(snapshotId), "the snapshot stays as it was").toContain(`${id(20)}>${id(2)}`);
    const { mirror } = composeStorage(loadStorageSettings(world.env));
    const round = (await Array.fromAsync(mirror.listRuns({ maxResults: 1 })))[0]!;
    expect(round).toMatchObject({ status: "succeeded", mode: "incremental" });
    const logged = await Array.fromAsync(stores.memberships.listManagerChanges(round.runId));
    expect(logged.map(({ userId, from, to, change }) => ({ userId, from, to, change })).sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(
      [
        { userId: id(20), from: id(2), to: id(5), change: "changed" },
        { userId: id(30), from: id(3), to: undefined, change: "cleared" },
        { userId: id(0), from: undefined, to: id(7), change: "set" },
      ].sort((a, b) => a.userId.localeCompare(b.userId)),
    );
    for await (const entry of mirror.listUsers()) expect(Object.keys(entry.user)).not.toContain("manager");
    // The mirror's $select now ends with manager; its CSV export has no such column.
    const csv = await cli(["export", "--current", "--format", "csv"], true);
    expect(csv.code, csv.stderr).toBe(0);
    const header = csv.stdout.split(/\r?\n/)[0]!.split(",");
    expect(header[0]).toBe("id");
    expect(header).not.toContain("manager");
  });

  it("a later snapshot run holds the managers as they are now; the mirror's full round sweeps the edges it no longer saw", async () => {
    world.tenant.changes.setManager(40, null);
    const result = await cli(["run", "--full"], true);
    expect(result.code, result.stderr).toBe(0);
    const run = await latestRun();
    expect(run!.snapshotId).not.toBe(snapshotId);
    expect(await storedManagers(run!.snapshotId)).toEqual(directoryManagers());
    expect(await storedManagers(MIRROR_EDGE_SCOPE)).toEqual(directoryManagers());
  });
});
