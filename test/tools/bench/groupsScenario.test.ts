/**
 * The groups benchmark's directory (tools/bench/groupsScenario.ts) is what the issue's figures
 * are measured on: the number of direct edges asked for, nested exactly `depth` deep, with
 * diamonds and cycles, each group's members distinct, the same edges every time; and the bench's
 * measurement (groupsBench.ts) on a small size.
 */
import { describe, expect, it } from "vitest";
import { MembershipGraph } from "../../../src/kinds/membershipClosure.js";
import { formatGroupClosure, measureGroupClosure } from "../../../tools/bench/groupsBench.js";
import { groupId, groupTree, ISSUE_GROUPS_SCENARIO, scenarioEdges, scenarioLayout, userId } from "../../../tools/bench/groupsScenario.js";

const SMALL = { users: 3_000, groups: 400, edges: 30_000, depth: 5 };

describe("the groups benchmark's directory", () => {
  it("has the issue's tree: 10,000 groups in 5 levels of 1, 10, 100, 1,000 and 8,889", () => {
    const tree = groupTree(ISSUE_GROUPS_SCENARIO.groups, ISSUE_GROUPS_SCENARIO.depth);
    expect(tree.starts).toEqual([0, 1, 11, 111, 1111, 10_000]);
    expect(tree.parentOf(0)).toBeUndefined();
    expect(tree.parentOf(1)).toBe(0);
    expect(tree.parentOf(9_999)).toBe(1110);
  });

  it("has exactly the direct edges asked for, each group's members distinct, every user in some group, the same every time", () => {
    const edges = [...scenarioEdges(SMALL)];
    expect(edges).toHaveLength(SMALL.edges);
    expect(new Set(edges.map((e) => `${e.groupId} ${e.memberId}`)).size).toBe(SMALL.edges);
    expect(new Set(edges.filter((e) => e.memberType === "user").map((e) => e.memberId)).size).toBe(SMALL.users);
    expect(edges.some((e) => e.memberType === "device")).toBe(true);
    const ids = edges.map((e) => e.groupId);
    expect(ids).toEqual([...ids].sort());
    expect([...scenarioEdges(SMALL)]).toEqual(edges);
  });

  it("finds a user's slot in a group from its index, and no slot for a user who is not a member", () => {
    const layout = scenarioLayout(SMALL);
    for (let g = 0; g < SMALL.groups; g += 37) {
      const slots = new Map<number, number>();
      for (let slot = 0; slot < layout.memberCount(g); slot++) {
        const member = layout.memberAt(g, slot);
        if (member.kind === "user") slots.set(member.index, slot);
      }
      expect(slots.size).toBeGreaterThan(0);
      for (let user = 0; user < SMALL.users; user++) expect(layout.userSlot(g, user)).toBe(slots.get(user));
    }
  });

  it("nests users exactly `depth` deep, with diamonds and cycles", async () => {
    const graph = await MembershipGraph.fromEdges(scenarioEdges(SMALL));
    const closures = [...graph.closures()];
    const top = closures.find((c) => c.groupId === groupId(0))!;
    const depths = Array.from({ length: top.size }, (_, i) => top.depth(i));
    expect(Math.max(...depths)).toBe(SMALL.depth);
    expect(new Set(Array.from({ length: top.size }, (_, i) => top.memberId(i))).has(userId(0))).toBe(true);
    expect(closures.filter((c) => c.inCycle).length).toBeGreaterThan(0);
    // A diamond: some group is a direct member of two groups.
    const parents = new Map<string, number>();
    for (const edge of scenarioEdges(SMALL)) if (edge.memberType === "group") parents.set(edge.memberId, (parents.get(edge.memberId) ?? 0) + 1);
    expect([...parents.values()].some((count) => count > 1)).toBe(true);
  });

  it("measures the nested memberships of a small directory and reports them against the ceiling", async () => {
    const result = await measureGroupClosure(SMALL);
    expect(result.directEdges).toBe(SMALL.edges);
    expect(result.nestedMemberships).toBeGreaterThan(SMALL.edges);
    expect(result.groupsWithMembers).toBe(SMALL.groups);
    expect(result.outputBytes).toBeGreaterThan(result.nestedMemberships * 50);
    expect(result.peakRssBytes).toBeGreaterThan(0);
    expect(formatGroupClosure(result)).toMatch(/peak RSS\s+\d+ MiB \((within|OVER) the 512 MiB ceiling\)/);
  });
});
