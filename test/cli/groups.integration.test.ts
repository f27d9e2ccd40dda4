/**
 * Groups and their memberships (USER_SYNC_GROUPS=true), as an operator runs them: the compiled CLI
 * in its own process against Azurite and the simulated tenant. The stores are read back in this
 * process (the export of groups is the command line's side). A first `run` writes the groups and
 * their edges into the users' snapshot (one point in time) and the groups' mirror from one
 * `/groups/delta` pass; a later `run` is an incremental round whose change log says who joined and
 * who left.
 */
import { TableServiceClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { MIRROR_EDGE_SCOPE, type StoredEdge } from "../../src/tables/edgeTables.js";
import type { MembershipChangeRecord } from "../../src/mirror/membershipChangeLog.js";
import type { GroupStores } from "../../src/sync/groupsRound.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { joinOneLeaveOne } from "../support/groupMembershipChanges.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 300;
const GROUP_COUNT = 12;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;
let stores: GroupStores;

function cli(args: string[], extra: Record<string, string> = {}) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_GROUPS: "true", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  // 150 members in group 0 and about 500 member links a page: the large group spans pages.
  world = await startSyncEnvironment({ userCount: USERS, seed: 29, groups: { count: GROUP_COUNT, largeGroupMembers: 150 } });
  stores = composeGroupStores(loadStorageSettings(world.env));
});
afterAll(async () => world?.close());

const key = (e: { sourceId: string; targetId: string; targetType: string }) => `${e.sourceId}>${e.targetId}:${e.targetType}`;

/** The directory's groups (as Graph lists them) and direct memberships, now. */
function directory(): { groups: Map<string, Record<string, unknown>>; edges: Set<string> } {
  const groups = new Map<string, Record<string, unknown>>();
  const edges = new Set<string>();
  const g = world.tenant.groups;
  for (let slot = 0; slot < g.slotCount; slot++) {
    const group = g.groupInSlot(slot);
    if (group === undefined) continue;
    groups.set(String(group.id), group);
    for (const member of g.currentMembers(String(group.id))) edges.add(key({ sourceId: String(group.id), targetId: member.id, targetType: member.type }));
  }
  return { groups, edges };
}

async function edgesOf(scope: string): Promise<Set<string>> {
  const edges = new Set<string>();
  for await (const edge of stores.edges.listEdges(scope)) edges.add(key(edge));
  return edges;
}

async function latestRun() {
  const { store } = composeStorage(loadStorageSettings(world.env));
  const latest = await store.getLatestSnapshot();
  return latest ? store.getRun(latest.runId) : undefined;
}

async function tableNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const table of TableServiceClient.fromConnectionString(world.azurite.connectionString, { allowInsecureConnection: true }).listTables()) names.push(table.name!);
  return names.sort();
}

describe("groups and memberships on the command line (USER_SYNC_GROUPS=true)", () => {
  let snapshotId: string;

  it("with USER_SYNC_GROUPS=false, a run reads no group and creates no groups table", async () => {
    const result = await cli(["run"], { USER_SYNC_GROUPS: "false" });
    expect(result.code, result.stderr).toBe(0);
    expect(world.tenant.requests.entries().filter((r) => r.path.startsWith("/v1.0/groups"))).toEqual([]);
    expect(await tableNames()).toEqual(["entraUserMirror", "entraUserMirrorChanges", "entraUserRuns", "entraUserSnapshots"]);
    expect((await latestRun())?.groups).toBeUndefined();
  });

  it("turned on, the next run gives the groups' mirror its first, full round (with a snapshot: the users' delta now selects manager)", async () => {
    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    // The users' mirror's $select gains `manager` (docs/groups.md, "Managers"): its full round rides on a snapshot, which carries the groups.
    expect((await latestRun())?.groups, "the users' full round came with a snapshot").toMatchObject({ status: "succeeded" });
    const round = (await Array.fromAsync(stores.mirror.listRuns({ maxResults: 1 })))[0]!;
    expect(round).toMatchObject({ status: "succeeded", mode: "full" });
    expect([...(await edgesOf(MIRROR_EDGE_SCOPE))].sort()).toEqual([...directory().edges].sort());
    expect(await tableNames()).toEqual(
      ["DirectReports", "GroupMemberOf", "GroupMembers", "GroupMirror", "GroupMirrorChanges", "GroupSnapshots", "Managers", "Mirror", "MirrorChanges", "Runs", "Snapshots"].map((t) => `entraUser${t}`).sort(),
    );
  });

  it("run --full writes the groups and their edges into the users' snapshot and the mirror, from one /groups/delta pass", async () => {
    const result = await cli(["run", "--full"]);
    expect(result.code, result.stderr).toBe(0);
    expectNoSecrets(result.stdout + result.stderr);
    const run = await latestRun();
    expect(run?.status).toBe("succeeded");
    snapshotId = run!.snapshotId;
    const expected = directory();
    expect(run!.groups).toMatchObject({ status: "succeeded", groups: expected.groups.size, edges: expected.edges.size });

    const groups = new Map<string, Record<string, unknown>>();
    for await (const group of stores.snapshots.listSnapshotObjects(snapshotId)) groups.set(group.id, group);
    expect([...groups.keys()].sort()).toEqual([...expected.groups.keys()].sort());
    for (const [id, group] of expected.groups) expect(groups.get(id), id).toEqual(group);
    expect([...(await edgesOf(snapshotId))].sort()).toEqual([...expected.edges].sort());
    // Mixed member kinds, nesting, and a large group whose members spanned pages.
    const types = new Set([...expected.edges].map((e) => e.split(":")[1]));
    expect(types).toContain("group");
    expect(types).toContain("user");
    expect(types.size).toBeGreaterThan(2);

    // The mirror holds the same, and both directions are one partition read.
    expect([...(await edgesOf(MIRROR_EDGE_SCOPE))].sort()).toEqual([...expected.edges].sort());
    const group0 = world.tenant.groups.groupIdAt(0);
    const members: StoredEdge[] = await Array.fromAsync(stores.edges.listTargets(snapshotId, group0));
    expect(members.length).toBe([...world.tenant.groups.currentMembers(0)].length);
    const user0 = world.tenant.changes.userIdAt(0);
    const ofUser = await Array.fromAsync(stores.edges.listSources(snapshotId, user0));
    expect(ofUser.map((e) => e.sourceId)).toContain(group0);
    expect(ofUser.every((e) => e.targetId === user0 && e.targetType === "user")).toBe(true);
  });

  it("a later run is an incremental round of the groups: joined and left in the change log, left saying whether the member was taken out or deleted", async () => {
    const user = (i: number) => world.tenant.changes.userIdAt(i);
    const { groupId: group3, joiner, leaving } = joinOneLeaveOne(world.tenant, 3, USERS);
    world.tenant.groups.changeGroup(5, { displayName: "Renamed group five" });
    // A user member deleted from the directory leaves every group it was in: Graph says `deleted` as for `leaving`.
    const deleted = [...world.tenant.groups.currentMembers(3)].find((m) => m.type === "user" && m.id !== user(joiner) && m.id !== leaving.id)!;
    const groupsOfDeleted = [...directory().edges].filter((e) => e.endsWith(`>${deleted.id}:user`)).map((e) => e.split(">")[0]!);
    expect(groupsOfDeleted).toContain(group3);
    world.tenant.changes.softDeleteUser([...Array(USERS).keys()].find((i) => user(i) === deleted.id)!);
    const before = (await latestRun())!.runId;

    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    expect((await latestRun())!.runId, "no new snapshot: an incremental round").toBe(before);

    const runs = await Array.fromAsync(stores.mirror.listRuns({ maxResults: 5 }));
    const round = runs[0]!;
    expect(round).toMatchObject({ status: "succeeded", mode: "incremental" });
    const changes: MembershipChangeRecord[] = await Array.fromAsync(stores.memberships.listChanges(round.runId));
    const order = (a: { groupId: string; memberId: string }, b: { groupId: string; memberId: string }) => a.memberId.localeCompare(b.memberId) || a.groupId.localeCompare(b.groupId);
    expect(
      changes.map(({ groupId, memberId, memberType, change, reason, graphReason }) => ({ groupId, memberId, memberType, change, ...(reason ? { reason } : {}), ...(graphReason ? { graphReason } : {}) })).sort(order),
    ).toEqual(
      [
        { groupId: group3, memberId: user(joiner), memberType: "user", change: "joined" },
        { groupId: group3, memberId: leaving.id, memberType: "user", change: "left", reason: "removed", graphReason: "deleted" },
        ...groupsOfDeleted.map((groupId) => ({ groupId, memberId: deleted.id, memberType: "user", change: "left", reason: "memberDeleted", graphReason: "deleted" })),
      ].sort(order),
    );
    const groupChanges = await Array.fromAsync(stores.mirror.listChanges(round.runId));
    expect(groupChanges.map((c) => [c.id, c.change])).toContainEqual([world.tenant.groups.groupIdAt(5), "updated"]);
    // The mirror follows the directory; the snapshot stays as it was.
    expect([...(await edgesOf(MIRROR_EDGE_SCOPE))].sort()).toEqual([...directory().edges].sort());
    expect(await edgesOf(snapshotId)).toContain(key({ sourceId: group3, targetId: leaving.id, targetType: "user" }));
  });

  it("run --full writes a new snapshot with the groups as they are now, and retention deletes the old snapshot's groups and edges with its users", async () => {
    const result = await cli(["run", "--full"], { SNAPSHOT_RETENTION_COUNT: "1", SNAPSHOT_RETENTION_GRACE_MINUTES: "0" });
    expect(result.code, result.stderr).toBe(0);
    const run = await latestRun();
    expect(run!.snapshotId).not.toBe(snapshotId);
    expect([...(await edgesOf(run!.snapshotId))].sort()).toEqual([...directory().edges].sort());
    expect(await Array.fromAsync(stores.snapshots.listSnapshotObjects(run!.snapshotId))).toHaveLength(directory().groups.size);
    // The old snapshot: no group, no edge row left in either direction.
    const { store } = composeStorage(loadStorageSettings(world.env));
    expect((await store.getRun(snapshotId))?.snapshotPurgedAt).toBeDefined();
    expect(await edgesOf(snapshotId)).toEqual(new Set());
    expect(await Array.fromAsync(stores.snapshots.listSnapshotObjects(snapshotId, { includeIncomplete: true }))).toEqual([]);
    expect(await stores.edges.deleteScope(snapshotId)).toBe(0);
  });

  it("after Graph refuses the delta tokens (410), the next run reads groups in full with a new snapshot; the sweep logs a membership it no longer saw as left", async () => {
    const group7 = world.tenant.groups.groupIdAt(7);
    const leaving = [...world.tenant.groups.currentMembers(7)][0]!;
    world.tenant.groups.removeMember(7, leaving);
    world.tenant.changes.invalidateDeltaTokens();
    const before = (await latestRun())!.snapshotId;

    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    const run = await latestRun();
    expect(run!.snapshotId, "the users' full round came with a snapshot, and the groups with it").not.toBe(before);
    expect([...(await edgesOf(run!.snapshotId))].sort()).toEqual([...directory().edges].sort());
    const round = (await Array.fromAsync(stores.mirror.listRuns({ maxResults: 1 })))[0]!;
    expect(round).toMatchObject({ status: "succeeded", mode: "full" });
    expect(run!.groups?.mirrorRunId).toBe(round.runId);
    expect([...(await edgesOf(MIRROR_EDGE_SCOPE))].sort()).toEqual([...directory().edges].sort());
    const changes = await Array.fromAsync(stores.memberships.listChanges(round.runId));
    expect(changes.map(({ groupId, memberId, change, reason }) => ({ groupId, memberId, change, reason }))).toEqual([{ groupId: group7, memberId: leaving.id, change: "left", reason: "notSeen" }]);
  });
});
