import { describe, expect, it } from "vitest";
import { ManagerMap } from "../../src/kinds/managerChain.js";

const links = (pairs: Array<[string, string]>) => pairs.map(([userId, managerId]) => ({ userId, managerId }));

describe("ManagerMap", () => {
  it("walks each chain nearest first; a user without a manager, or unknown, has an empty one", async () => {
    const map = await ManagerMap.fromLinks(links([["d", "c"], ["c", "b"], ["b", "a"]]));
    expect(map.chainOf("d")).toEqual({ chain: ["c", "b", "a"], cycle: false });
    expect(map.chainOf("a")).toEqual({ chain: [], cycle: false });
    expect(map.chainOf("nobody")).toEqual({ chain: [], cycle: false });
    expect(map.size).toBe(4);
  });

  it("ends a chain at the first repeat and says so, the user itself included, and walks every user independently", async () => {
    // x → a → b → c → a: the chain of x stops before the second a; a's own chain comes back to a.
    const map = await ManagerMap.fromLinks(links([["x", "a"], ["a", "b"], ["b", "c"], ["c", "a"], ["p", "q"], ["q", "p"]]));
    expect(map.chainOf("x")).toEqual({ chain: ["a", "b", "c"], cycle: true });
    expect(map.chainOf("a")).toEqual({ chain: ["b", "c"], cycle: true });
    expect(map.chainOf("p")).toEqual({ chain: ["q"], cycle: true });
    expect(map.chainOf("x")).toEqual({ chain: ["a", "b", "c"], cycle: true });
  });

  it("holds more ids than its first block (the manager slots grow)", async () => {
    const pairs: Array<[string, string]> = [];
    for (let i = 1; i < 5000; i++) pairs.push([`u${i}`, `u${i - 1}`]);
    const map = await ManagerMap.fromLinks(links(pairs));
    const { chain, cycle } = map.chainOf("u4999");
    expect(cycle).toBe(false);
    expect(chain).toHaveLength(4999);
    expect(chain[0]).toBe("u4998");
    expect(chain.at(-1)).toBe("u0");
  });
});
