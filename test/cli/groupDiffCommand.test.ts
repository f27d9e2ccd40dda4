/**
 * diff --groups (src/cli/groupDiffCommand.ts) over injected group ports: the groups, memberships
 * and managers that changed between two snapshots, as JSON Lines under their kind or as a table of
 * counts; a snapshot without group data is group_data_not_found (exit 2) naming it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { groupDiffCommand } from "../../src/cli/groupDiffCommand.js";
import type { GroupDataSource, GroupDataSources, ManagerLink, MembershipEdge } from "../../src/kinds/membershipPorts.js";
import type { GraphObject } from "../../src/kinds/objectKind.js";
import { errorOutcome } from "../../src/shared/errorOutcomes.js";

const OLD = "20250310T020000000Z-aaaaaa";
const NEW = "20250311T020000000Z-bbbbbb";

function snapshot(groups: GraphObject[], edges: MembershipEdge[], managers: ManagerLink[]): GroupDataSource {
  return {
    label: "test",
    select: ["id", "displayName"],
    async *listGroups() {
      yield* groups;
    },
    async *listMemberships() {
      yield* edges;
    },
    async *listManagers() {
      yield* managers;
    },
    assertWhole: async () => undefined,
  };
}

const older = snapshot([{ id: "g1", displayName: "One" }, { id: "g2", displayName: "Two" }], [{ groupId: "g1", memberId: "u1", memberType: "user" }], [{ userId: "u1", managerId: "m1" }]);
const newer = snapshot([{ id: "g1", displayName: "One!" }], [{ groupId: "g1", memberId: "u2", memberType: "user" }], [{ userId: "u1", managerId: "m2" }]);

function sources(bySnapshot: Record<string, GroupDataSource>): GroupDataSources {
  return { snapshot: async (id) => bySnapshot[id], current: async () => undefined };
}

const pick = async () => ({ from: OLD, to: NEW });

function capture() {
  const out = { stdout: "", stderr: "" };
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out.stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((out.stderr += String(chunk)), true));
  return out;
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("diff --groups over the group ports", () => {
  it("writes each change under its kind in JSON Lines, and the counts on standard error", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    const out = capture();
    await groupDiffCommand({ format: "jsonl", sources: sources({ [OLD]: older, [NEW]: newer }), pick });
    expect(out.stdout.trim().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([
      { kind: "group", change: "changed", id: "g1", properties: { displayName: { from: "One", to: "One!" } } },
      { kind: "group", change: "removed", id: "g2", group: { id: "g2", displayName: "Two" } },
      { kind: "membership", change: "left", groupId: "g1", memberId: "u1", memberType: "user" },
      { kind: "membership", change: "joined", groupId: "g1", memberId: "u2", memberType: "user" },
      { kind: "manager", change: "changed", userId: "u1", from: "m1", to: "m2" },
    ]);
    expect(out.stderr).toBe(
      `Compared the groups of snapshot ${OLD} with ${NEW}: 0 added, 1 removed, 1 changed; 1 memberships joined, 1 left; 0 managers set, 0 cleared, 1 changed.\n`,
    );
  });

  it("prints a table of counts by default", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    const out = capture();
    await groupDiffCommand({ format: "table", sources: sources({ [OLD]: older, [NEW]: newer }), pick });
    expect(out.stdout).toMatch(/^groups\s+removed\s+1$/m);
    expect(out.stdout).toMatch(/^memberships\s+joined\s+1$/m);
    expect(out.stdout).toMatch(/^managers\s+changed\s+1$/m);
  });

  it("names the snapshot that holds no group data, with exit 2", async () => {
    vi.stubEnv("USER_SYNC_GROUPS", "true");
    const error = await groupDiffCommand({ format: "table", sources: sources({ [NEW]: newer }), pick }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "group_data_not_found", message: expect.stringContaining(`snapshot ${OLD}`) });
    expect(errorOutcome(error).exitCode).toBe(2);
  });
});
