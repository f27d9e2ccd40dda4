/**
 * export --groups / --memberships with --tenant in multi-tenant mode, through the compiled CLI: the
 * home tenant (registered like any other; it has groups and grants GroupMember.Read.All) exports its
 * own directory edge for edge from its own tables; a customer tenant whose groups part failed (no
 * permission) has no group data in its snapshot; without --tenant the command is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "a1a1a1a1-0000-4000-8000-000000000001";
let world: SyncEnvironment;
let home: string;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_GROUPS: "true", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 60, seed: 7, groups: { count: 6 }, customerTenants: [{ tenantId: T1, userCount: 20 }] });
  home = world.env.GRAPH_TENANT_ID!;
}, 120_000);
afterAll(async () => world?.close());

describe("group exports with --tenant (USER_SYNC_TENANT_MODE=multi)", () => {
  it("each tenant's export reads its own tables", async () => {
    for (const tenant of [home, T1]) {
      const added = await cli(["tenants", "add", tenant]);
      expect(added.code, added.stderr).toBe(0);
    }
    const run = await cli(["run", "--tenant", home]);
    expect(run.code, run.stderr).toBe(0);
    const customer = await cli(["run", "--tenant", T1]);
    expect(customer.code, "its groups part fails: no GroupMember.Read.All").toBe(1);

    const result = await cli(["export", "--tenant", home, "--latest", "--memberships"]);
    expect(result.code, result.stderr).toBe(0);
    const exported = result.stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { groupId: string; memberId: string; memberType: string })
      .map((e) => `${e.groupId}>${e.memberId}:${e.memberType}`)
      .sort();
    const expected: string[] = [];
    const g = world.tenant.groups;
    for (let slot = 0; slot < g.slotCount; slot++) {
      const group = g.groupInSlot(slot);
      if (group === undefined) continue;
      for (const m of g.currentMembers(String(group.id))) expected.push(`${String(group.id)}>${m.id}:${m.type}`);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(exported).toEqual(expected.sort());

    const other = await cli(["export", "--tenant", T1, "--latest", "--memberships"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/No groups or memberships are stored in snapshot .*its groups part failed/);
    expect(other.stdout).toBe("");
    const runs = await cli(["runs", "--tenant", T1, "--wide"]);
    expect(runs.stdout).toContain("groups failed: graph_permission_missing");

    const none = await cli(["export", "--latest", "--groups"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--tenant");
  });

  it("export --with-manager-chain --tenant reads that tenant's manager edges: each chain equals the directory's", async () => {
    const changes = world.tenant.changes;
    const indexOf = new Map<string, number>();
    for (let i = 0; i < 60; i++) indexOf.set(changes.userIdAt(i), i);
    const expected = new Map<string, string[]>();
    for (let i = 0; i < 60; i++) {
      const chain: string[] = [];
      for (let m = changes.managerOf(i); m !== undefined; m = changes.managerOf(indexOf.get(m)!)) chain.push(m);
      expected.set(changes.userIdAt(i), chain);
    }
    expect(expected.get(changes.userIdAt(17))).toEqual([changes.userIdAt(2), changes.userIdAt(0)]);
    for (const where of [["--latest"], ["--current"]]) {
      const result = await cli(["export", "--tenant", home, ...where, "--with-manager-chain"]);
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { id: string; managerChain: string[] });
      expect(new Map(lines.map((u) => [u.id, u.managerChain]))).toEqual(expected);
    }
    const none = await cli(["export", "--latest", "--with-manager-chain"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--tenant");
  });
});
