/**
 * bench:groups' round at a tiny size, through the compiled CLI against Azurite and the simulated
 * tenant (not timed: counts only, which do not depend on the machine's load): the report's shape,
 * the full round's Graph requests within the pages Graph handed out + 2, the incremental round
 * after 20 membership changes within 3 requests, and the nested closure exported from the latest
 * snapshot equal in count to the one computed in-process from the same directory.
 */
import { describe, expect, it } from "vitest";
import { measureGroupClosure } from "../../../tools/bench/groupsBench.js";
import { benchGroupsRound, formatGroupsRound } from "../../../tools/bench/groupsRoundBench.js";
import { assertCliBuilt, CLI } from "../../support/cli.js";

const SCENARIO = { users: 300, groups: 30, edges: 1_500, depth: 3 };

describe("bench:groups (the round)", () => {
  it("reports a full and an incremental round's Graph requests against their targets, and the closure's lines", async () => {
    assertCliBuilt();
    const result = await benchGroupsRound({ ...SCENARIO, changes: 20, latencyInMs: 0, seed: 4, azuriteStorage: "memory", cli: CLI });
    const { readCeiling, full, incremental, closure } = result;
    expect(readCeiling.users).toBe(SCENARIO.users);
    expect(readCeiling.membershipLinks).toBe(SCENARIO.edges);
    expect(readCeiling.pages).toBe(readCeiling.userPages + readCeiling.groupPages);
    expect(readCeiling.groupPages).toBeGreaterThanOrEqual(Math.ceil(SCENARIO.edges / 500));
    expect(full.graph.users + full.graph.groups).toBe(full.graph.total);
    expect(full.graph.groups).toBeGreaterThanOrEqual(readCeiling.groupPages);
    expect(full.graph.total).toBeLessThanOrEqual(readCeiling.pages + 2);
    expect(incremental.changesMade).toBe(20);
    expect(incremental.graph.groups).toBeGreaterThanOrEqual(1);
    expect(incremental.graph.total).toBeLessThanOrEqual(3);
    // The latest snapshot is the full round's (the incremental round takes none): the directory before the changes.
    expect(closure.lines).toBe((await measureGroupClosure(SCENARIO)).nestedMemberships);
    for (const part of [full, incremental, closure]) {
      expect(part.peakRssMib).toBeGreaterThan(30);
      expect(part.cpuSeconds).toBeGreaterThan(0);
    }
    expect(full.bound).toMatch(/^(read ceiling|store busy|own CPU)$/);
    expect(result.targets.map((t) => [t.target, t.met])).toEqual([
      ["full round's Graph requests ≤ pages + 2", true],
      ["incremental round's Graph requests ≤ 3", true],
      ["sync's peak RSS ≤ 512 MiB", true],
      ["closure's peak RSS ≤ 512 MiB", true],
    ]);
    expect(result.revision).not.toBe("");
    expect(result.loadAverage.atStart).toHaveLength(3);
    const text = formatGroupsRound(result);
    expect(text).toContain("Groups round: 300 users, 30 groups, 1,500 direct edges nested 3 deep");
    expect(text).toMatch(/full round\s+[\d.]+ s = [\d.]+ × read ceiling; bottleneck ratio [\d.]+/);
    expect(text).toMatch(/met\s+incremental round's Graph requests ≤ 3: \d/);
    expect(result.store).toBe("azurite");
    expect(text).toContain("store: Azurite in memory");
  }, 240_000);

  it("runs the same round on the indexed table service with --store indexed, and says so", async () => {
    assertCliBuilt();
    const result = await benchGroupsRound({ ...SCENARIO, changes: 20, latencyInMs: 0, seed: 4, azuriteStorage: "memory", store: "indexed", cli: CLI });
    expect(result.store).toBe("indexed");
    expect(result.full.graph.total).toBeLessThanOrEqual(result.readCeiling.pages + 2);
    expect(result.incremental.graph.total).toBeLessThanOrEqual(3);
    expect(result.closure.lines).toBe((await measureGroupClosure(SCENARIO)).nestedMemberships);
    // The store's process is apart from the sync's: its CPU is the ratio's "store busy", its memory is its own.
    expect(result.full.azuriteCpuSeconds).toBeGreaterThan(0);
    expect(result.storePeakRssMib).toBeGreaterThan(30);
    const text = formatGroupsRound(result);
    expect(text).toContain("store: the indexed table service (bench only)");
    expect(text).toMatch(/store CPU [\d.]+ s, own CPU [\d.]+ s; the store's peak RSS \d+ MiB/);
  }, 240_000);
});
