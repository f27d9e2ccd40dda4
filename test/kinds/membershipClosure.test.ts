/**
 * Nested membership (src/kinds/membershipClosure.ts) on small graphs: depth, the shortest depth
 * through a diamond, cycles (ended and reported, the group not its own member), members of every
 * kind, duplicated edges, and groups handed out one at a time in ascending id order. A brute-force
 * reference (every path, up to the number of groups) checks a generated graph.
 */
import { describe, expect, it } from "vitest";
import { MembershipGraph, type TransitiveMembership } from "../../src/kinds/membershipClosure.js";
import type { MembershipEdge } from "../../src/kinds/membershipPorts.js";

const g = (groupId: string, memberId: string, memberType = "user"): MembershipEdge => ({ groupId, memberId, memberType });
const sub = (groupId: string, memberId: string): MembershipEdge => g(groupId, memberId, "group");

async function closureOf(edges: MembershipEdge[]): Promise<TransitiveMembership[]> {
  return [...(await MembershipGraph.fromEdges(edges)).memberships()];
}

function rows(memberships: TransitiveMembership[]): string[] {
  return memberships.map((m) => `${m.groupId} ${m.memberId} ${m.memberType} ${m.depth}`).sort();
}

async function* stream(edges: MembershipEdge[]): AsyncIterableIterator<MembershipEdge> {
  for (const edge of edges) yield edge;
}

describe("nested membership", () => {
  it("lists direct members at depth 1 and nested ones at the number of groups passed through, plus one", async () => {
    const closure = await closureOf([sub("a", "b"), sub("b", "c"), g("c", "u1"), g("b", "u2"), g("a", "u3")]);
    expect(rows(closure)).toEqual(
      ["a b group 1", "a u3 user 1", "a c group 2", "a u2 user 2", "a u1 user 3", "b c group 1", "b u2 user 1", "b u1 user 2", "c u1 user 1"].sort(),
    );
  });

  it("gives each (group, member) once, with the shortest depth, through a diamond", async () => {
    // a → b → d, a → c → d, and a → u directly as well as through d.
    const closure = await closureOf([sub("a", "b"), sub("a", "c"), sub("b", "d"), sub("c", "d"), g("d", "u"), g("a", "u"), g("d", "v")]);
    const ofA = closure.filter((m) => m.groupId === "a");
    expect(rows(ofA)).toEqual(["a b group 1", "a c group 1", "a u user 1", "a d group 2", "a v user 3"].sort());
  });

  it("ends a cycle at the group seen before, reports it, and never lists a group as its own member", async () => {
    const graph = await MembershipGraph.fromEdges(stream([sub("a", "b"), sub("b", "c"), sub("c", "a"), g("c", "u"), sub("x", "a")]));
    const closures = [...graph.closures()].map((c) => ({ id: c.groupId, inCycle: c.inCycle, members: Array.from({ length: c.size }, (_, i) => `${c.memberId(i)}@${c.depth(i)}`) }));
    expect(closures).toEqual([
      { id: "a", inCycle: true, members: ["b@1", "c@2", "u@3"] },
      { id: "b", inCycle: true, members: ["c@1", "a@2", "u@2"] },
      { id: "c", inCycle: true, members: ["a@1", "u@1", "b@2"] },
      { id: "x", inCycle: false, members: ["a@1", "b@2", "c@3", "u@4"] },
    ]);
  });

  it("ends a group that contains itself directly", async () => {
    const [closure] = [...(await MembershipGraph.fromEdges([sub("a", "a"), g("a", "u")])).closures()];
    expect(closure!.inCycle).toBe(true);
    expect(closure!.size).toBe(1);
    expect(closure!.memberId(0)).toBe("u");
  });

  it("keeps each member's type and walks only through groups", async () => {
    const closure = await closureOf([sub("a", "b"), g("b", "d1", "device"), g("b", "sp", "servicePrincipal"), g("a", "c1", "orgContact")]);
    expect(rows(closure)).toEqual(["a b group 1", "a c1 orgContact 1", "a d1 device 2", "a sp servicePrincipal 2", "b d1 device 1", "b sp servicePrincipal 1"].sort());
  });

  it("counts an edge given twice once, and hands groups out in ascending id order", async () => {
    const graph = await MembershipGraph.fromEdges([g("z", "u"), g("m", "u"), g("z", "u"), sub("m", "z"), g("a", "v")]);
    expect(graph.stats).toEqual({ edges: 4, ids: 5, groups: 3 });
    expect([...graph.closures()].map((c) => c.groupId)).toEqual(["a", "m", "z"]);
    expect(rows([...graph.memberships()])).toEqual(["a v user 1", "m u user 1", "m z group 1", "z u user 1"]);
  });

  it("has nothing for no edges", async () => {
    expect(await closureOf([])).toEqual([]);
  });

  it("equals a brute-force walk of every path on a generated graph with cycles and diamonds", async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const groups = Array.from({ length: 30 }, (_, i) => `g${String(i).padStart(2, "0")}`);
    const edges: MembershipEdge[] = [];
    for (const group of groups) {
      for (let k = 0; k < 3; k += 1) edges.push(sub(group, groups[Math.floor(random() * groups.length)]!));
      for (let k = 0; k < 4; k += 1) edges.push(g(group, `u${Math.floor(random() * 50)}`));
    }
    // Reference: depth-bounded relaxation over every path (a shortest path never repeats a group).
    const expected = new Map<string, number>();
    const direct = (group: string) => edges.filter((e) => e.groupId === group);
    for (const group of groups) {
      let frontier = new Set([group]);
      for (let depth = 1; depth <= groups.length + 1 && frontier.size > 0; depth += 1) {
        const next = new Set<string>();
        for (const parent of frontier) {
          for (const edge of direct(parent)) {
            if (edge.memberId === group) continue;
            const key = `${group} ${edge.memberId} ${edge.memberType}`;
            if (!expected.has(key)) expected.set(key, depth);
            if (edge.memberType === "group") next.add(edge.memberId);
          }
        }
        frontier = next;
      }
    }
    const reference = [...expected].map(([key, depth]) => `${key} ${depth}`).sort();
    expect(rows(await closureOf(edges))).toEqual(reference);
  });
});
