/**
 * The simulated tenant's groups from a layout (the benchmark's directory, tools/bench/groupsScenario.ts):
 * each group's members are the layout's, slot by slot, with the tenant's user ids; the test's
 * changes (a member leaves, a user joins) apply over it as over the generated tree.
 */
import { describe, expect, it } from "vitest";
import { SimulatedGroups } from "../../../tools/simulated-tenant/groups.js";
import { scenarioLayout } from "../../../tools/bench/groupsScenario.js";

const SCENARIO = { users: 500, groups: 40, edges: 2_000, depth: 3 };
const userIdAt = (i: number) => `user-${i}`;

function groupsWithLayout(): SimulatedGroups {
  return new SimulatedGroups(3, { userCount: SCENARIO.users, userIdAt }, { count: SCENARIO.groups, layout: scenarioLayout(SCENARIO) });
}

describe("SimulatedGroups with a layout", () => {
  it("serves the layout's members, the direct edges asked for in all", () => {
    const groups = groupsWithLayout();
    const layout = scenarioLayout(SCENARIO);
    let edges = 0;
    for (let g = 0; g < SCENARIO.groups; g++) {
      const members = [...groups.currentMembers(g)];
      expect(members).toHaveLength(layout.memberCount(g));
      members.forEach((member, slot) => {
        const expected = layout.memberAt(g, slot);
        expect(member.type).toBe(expected.kind);
        if (expected.kind === "user") expect(member.id).toBe(userIdAt(expected.index));
        if (expected.kind === "group") expect(member.id).toBe(groups.groupIdAt(expected.index));
      });
      edges += members.length;
    }
    expect(edges).toBe(SCENARIO.edges);
    expect(groups.largeGroupMemberCount).toBe(0);
  });

  it("applies a leave and a join over the layout, and refuses to remove a non-member", () => {
    const groups = groupsWithLayout();
    const layout = scenarioLayout(SCENARIO);
    const g = 7;
    const last = layout.memberAt(g, layout.memberCount(g) - 1);
    expect(last.kind).toBe("user");
    groups.removeMember(g, { user: last.index });
    let joiner = 0;
    while (layout.userSlot(g, joiner) !== undefined) joiner++;
    expect(groups.addMember(g, { user: joiner })).toBe(true);
    expect(groups.addMember(g, { user: joiner })).toBe(false);
    const ids = [...groups.currentMembers(g)].map((m) => m.id);
    expect(ids).not.toContain(userIdAt(last.index));
    expect(ids).toContain(userIdAt(joiner));
    expect(ids).toHaveLength(layout.memberCount(g));
    expect(() => groups.removeMember(g, { user: last.index })).toThrow(/is not a member/);
    const changed = groups.changesSince(0, 0);
    expect(changed.map((c) => c.slot)).toEqual([g]);
    expect(changed[0]!.changedMembers).toHaveLength(2);
  });
});
