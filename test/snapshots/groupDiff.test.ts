/**
 * The diff of two snapshots' groups, memberships and managers (src/snapshots/groupDiff.ts): a
 * merge-join of sorted streams, refusing an input out of order.
 */
import { describe, expect, it } from "vitest";
import type { ManagerLink, MembershipEdge } from "../../src/kinds/membershipPorts.js";
import { diffSortedGroups, diffSortedManagers, diffSortedMemberships } from "../../src/snapshots/groupDiff.js";

async function* stream<T>(items: T[]): AsyncIterableIterator<T> {
  yield* items;
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const edge = (groupId: string, memberId: string, memberType = "user"): MembershipEdge => ({ groupId, memberId, memberType });
const link = (userId: string, managerId: string): ManagerLink => ({ userId, managerId });

describe("the groups' diff", () => {
  it("reports groups added, removed, and changed with the properties that differ", async () => {
    const from = [{ id: "a", displayName: "A" }, { id: "b", displayName: "B", mail: "b@x" }, { id: "c", displayName: "C" }];
    const to = [{ id: "b", displayName: "B2", mail: "b@x" }, { id: "c", displayName: "C" }, { id: "d", displayName: "D" }];
    expect(await all(diffSortedGroups(stream(from), stream(to)))).toEqual([
      { change: "removed", id: "a", group: from[0] },
      { change: "changed", id: "b", properties: { displayName: { from: "B", to: "B2" } } },
      { change: "added", id: "d", group: to[2] },
    ]);
  });

  it("reports members who joined and left, group by group, with the member's type", async () => {
    const from = [edge("g1", "u1"), edge("g1", "u2"), edge("g2", "g1", "group"), edge("g3", "u9")];
    const to = [edge("g1", "u2"), edge("g1", "u3"), edge("g2", "d1", "device"), edge("g2", "g1", "group")];
    expect(await all(diffSortedMemberships(stream(from), stream(to)))).toEqual([
      { change: "left", groupId: "g1", memberId: "u1", memberType: "user" },
      { change: "joined", groupId: "g1", memberId: "u3", memberType: "user" },
      { change: "joined", groupId: "g2", memberId: "d1", memberType: "device" },
      { change: "left", groupId: "g3", memberId: "u9", memberType: "user" },
    ]);
  });

  it("reports nothing for the same memberships, and everything against an empty side", async () => {
    const edges = [edge("g1", "u1"), edge("g1", "u2")];
    expect(await all(diffSortedMemberships(stream(edges), stream(edges)))).toEqual([]);
    expect((await all(diffSortedMemberships(stream([]), stream(edges)))).map((c) => c.change)).toEqual(["joined", "joined"]);
    expect((await all(diffSortedMemberships(stream(edges), stream([])))).map((c) => c.change)).toEqual(["left", "left"]);
  });

  it("reports managers set, cleared and changed", async () => {
    const from = [link("u1", "m1"), link("u2", "m1"), link("u3", "m2")];
    const to = [link("u1", "m1"), link("u2", "m3"), link("u4", "m1")];
    expect(await all(diffSortedManagers(stream(from), stream(to)))).toEqual([
      { change: "changed", userId: "u2", from: "m1", to: "m3" },
      { change: "cleared", userId: "u3", from: "m2" },
      { change: "set", userId: "u4", to: "m1" },
    ]);
  });

  it("refuses an input out of order or with a key twice instead of reporting wrong changes", async () => {
    await expect(all(diffSortedMemberships(stream([edge("g2", "u1"), edge("g1", "u1")]), stream([])))).rejects.toThrow(/older snapshot's memberships are not in ascending order \(g2\/u1 then g1\/u1\)/);
    await expect(all(diffSortedMemberships(stream([]), stream([edge("g1", "u2"), edge("g1", "u1")])))).rejects.toThrow(/newer snapshot's memberships/);
    await expect(all(diffSortedManagers(stream([link("u1", "m"), link("u1", "n")]), stream([])))).rejects.toThrow(/managers are not in ascending order/);
    await expect(all(diffSortedGroups(stream([{ id: "b" }, { id: "a" }]), stream([])))).rejects.toThrow(/not in ascending id order/);
  });
});
