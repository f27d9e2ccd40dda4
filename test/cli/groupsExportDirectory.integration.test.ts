/**
 * export --groups / --memberships [--transitive] and diff --groups over the stored groups, through
 * the compiled CLI against Azurite and the simulated tenant: every export equals the simulated
 * directory, edge for edge (the nested closure is computed here, independently, from the simulated
 * tenant's group model), in the order the ports promise; diff --groups after membership changes
 * reports exactly who joined and who left; export --changes of the groups' mirror run (found with
 * runs --json, kind "groups") lists the membership changes; runs shows the counts per kind; and
 * --tenant reads the named tenant's tables in multi-tenant mode.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { joinOneLeaveOne } from "../support/groupMembershipChanges.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 300;
const GROUP_COUNT = 12;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_GROUPS: "true", ...extra }));
}

async function lines(args: string[], extra: Record<string, string | undefined> = {}): Promise<Array<Record<string, unknown>>> {
  const result = await cli(args, extra);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 31, groups: { count: GROUP_COUNT, largeGroupMembers: 150 } });
}, 120_000);
afterAll(async () => world?.close());

/** The simulated directory now: groups by id, and each group's direct members. */
function directory(): { groups: Map<string, Record<string, unknown>>; members: Map<string, Array<{ id: string; type: string }>> } {
  const groups = new Map<string, Record<string, unknown>>();
  const members = new Map<string, Array<{ id: string; type: string }>>();
  const g = world.tenant.groups;
  for (let slot = 0; slot < g.slotCount; slot++) {
    const group = g.groupInSlot(slot);
    if (group === undefined) continue;
    const id = String(group.id);
    groups.set(id, group);
    members.set(id, [...g.currentMembers(id)].map((m) => ({ id: m.id, type: m.type })));
  }
  return { groups, members };
}

const edgeKey = (e: Record<string, unknown>) => `${String(e.groupId)}>${String(e.memberId)}:${String(e.memberType)}`;

function directEdges(): string[] {
  const edges: string[] = [];
  for (const [groupId, members] of directory().members) for (const m of members) edges.push(edgeKey({ groupId, memberId: m.id, memberType: m.type }));
  return edges.sort();
}

/** Nested membership by breadth-first search over the simulated groups: shortest depth, the group itself never its own member. */
function nestedEdges(): string[] {
  const { members } = directory();
  const out: string[] = [];
  for (const [groupId, direct] of members) {
    const depth = new Map<string, { type: string; depth: number }>();
    let frontier = direct.map((m) => ({ ...m, depth: 1 }));
    while (frontier.length > 0) {
      const next: typeof frontier = [];
      for (const m of frontier) {
        if (m.id === groupId || depth.has(m.id)) continue;
        depth.set(m.id, { type: m.type, depth: m.depth });
        if (m.type === "group") for (const inner of members.get(m.id) ?? []) next.push({ ...inner, depth: m.depth + 1 });
      }
      frontier = next;
    }
    for (const [memberId, m] of depth) out.push(`${edgeKey({ groupId, memberId, memberType: m.type })}@${m.depth}`);
  }
  return out.sort();
}

function expectAscending(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) expect(keys[i - 1]! < keys[i]!, `${keys[i - 1]} before ${keys[i]}`).toBe(true);
}

describe("exports of the stored groups equal the simulated directory", () => {
  let firstSnapshot: string;

  it("export --latest --groups, --memberships and --memberships --transitive after run --full", async () => {
    const run = await cli(["run", "--full"]);
    expect(run.code, run.stderr).toBe(0);
    const expected = directory();

    const groups = await lines(["export", "--latest", "--groups"]);
    expect(groups.map((g) => g.id).sort()).toEqual([...expected.groups.keys()].sort());
    expectAscending(groups.map((g) => String(g.id)));
    for (const group of groups) expect(group, String(group.id)).toEqual(expected.groups.get(String(group.id)));

    const direct = await lines(["export", "--latest", "--memberships"]);
    expect(direct.map(edgeKey).sort()).toEqual(directEdges());
    expectAscending(direct.map((e) => `${String(e.groupId)}\u0000${String(e.memberId)}`));
    // Mixed member kinds without Graph's "#microsoft.graph." prefix, and nesting.
    const types = new Set(direct.map((e) => e.memberType));
    expect(types).toContain("group");
    expect(types).toContain("user");
    expect([...types].every((t) => !String(t).includes("#"))).toBe(true);

    const nested = await lines(["export", "--latest", "--memberships", "--transitive"]);
    const want = nestedEdges();
    expect(want.length).toBeGreaterThan(direct.length);
    expect(nested.map((e) => `${edgeKey(e)}@${String(e.depth)}`).sort()).toEqual(want);

    const runs = await lines(["runs", "--json"]);
    const snapshotRun = runs.find((r) => r.kind === "snapshot")!;
    firstSnapshot = String(snapshotRun.snapshotId);
    expect(snapshotRun.groups).toMatchObject({ status: "succeeded", groups: expected.groups.size, edges: direct.length });
    const table = await cli(["runs", "--wide"]);
    expect(table.stdout).toMatch(new RegExp(`groups ${expected.groups.size}, memberships ${direct.length.toLocaleString("en-US")}`));
  });

  it("export --current --groups and --memberships equal the directory (the groups' mirror)", async () => {
    const groups = await lines(["export", "--current", "--groups"]);
    expect(groups.map((g) => g.id)).toEqual([...directory().groups.keys()].sort());
    const direct = await lines(["export", "--current", "--memberships"]);
    expect(direct.map(edgeKey).sort()).toEqual(directEdges());
    const csv = await cli(["export", "--current", "--memberships", "--format", "csv"]);
    expect(csv.stdout.split("\n")[0]).toBe("groupId,memberId,memberType");
  });

  it("after membership changes: export --changes of the groups' mirror run, then diff --groups between two snapshots", async () => {
    const user = (i: number) => world.tenant.changes.userIdAt(i);
    const { groupId: group3, joiner, leaving } = joinOneLeaveOne(world.tenant, 3, USERS);

    const incremental = await cli(["run"]);
    expect(incremental.code, incremental.stderr).toBe(0);
    const groupsRun = (await lines(["runs", "--json"])).find((r) => r.kind === "groups")!;
    expect(groupsRun).toMatchObject({ mode: "incremental", status: "succeeded" });
    const table = await cli(["runs"]);
    expect(table.stdout).toMatch(new RegExp(`${String(groupsRun.runId)}\\s+groups incremental\\s+succeeded`));
    const changes = await lines(["export", "--changes", String(groupsRun.runId)]);
    const memberships = changes.filter((c) => c.membership !== undefined).map((c) => ({ change: c.change, reason: c.reason, ...(c.membership as object) }));
    expect(memberships.sort((a, b) => String(a.change).localeCompare(String(b.change)))).toEqual([
      { change: "joined", reason: undefined, groupId: group3, memberId: user(joiner), memberType: "user" },
      { change: "left", reason: "removed", groupId: group3, memberId: leaving.id, memberType: "user" },
    ]);
    expect((await lines(["export", "--current", "--memberships"])).map(edgeKey).sort()).toEqual(directEdges());

    const full = await cli(["run", "--full"]);
    expect(full.code, full.stderr).toBe(0);
    const diff = await lines(["diff", "--groups", "--format", "jsonl"]);
    expect(diff.filter((d) => d.kind === "membership").sort((a, b) => String(a.change).localeCompare(String(b.change)))).toEqual([
      { kind: "membership", change: "joined", groupId: group3, memberId: user(joiner), memberType: "user" },
      { kind: "membership", change: "left", groupId: group3, memberId: leaving.id, memberType: "user" },
    ]);
    // The first snapshot still exports the directory as it was: the left member is in it, the joiner is not.
    const before = (await lines(["export", "--snapshot", firstSnapshot, "--memberships"])).map(edgeKey);
    expect(before).toContain(edgeKey({ groupId: group3, memberId: leaving.id, memberType: "user" }));
    expect(before).not.toContain(edgeKey({ groupId: group3, memberId: user(joiner), memberType: "user" }));
  });

  it("a snapshot taken with USER_SYNC_GROUPS=false has no group data: exit 2 naming the snapshot", async () => {
    const run = await cli(["run", "--full"], { USER_SYNC_GROUPS: "false" });
    expect(run.code, run.stderr).toBe(0);
    const result = await cli(["export", "--latest", "--memberships"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/No groups or memberships are stored in snapshot \d{8}T\d{9}Z-[0-9a-f]{6}/);
    expect(result.stdout).toBe("");
  });
});
