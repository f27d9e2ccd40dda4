/**
 * The analytics lane's cost in the benchmark, on fake runs: each lane run is paired with the round
 * without the lane of the same size, latency and repeat; the targets are judged on the median pair.
 * No timing is measured here.
 */
import { describe, expect, it } from "vitest";
import { compareLaneCost, laneCostColumns, laneCostRows, laneTargets } from "../../../tools/bench/laneCost.js";
import type { LaneDetails, RunRecord, ScenarioKind } from "../../../tools/bench/types.js";

const MiB = 2 ** 20;
const warm = { graph: 102, token: 0, keyVault: 0, certificateFetches: 0, managedIdentity: 0 };

function round(kind: ScenarioKind, repeat: number, wallTimeInMs: number, peakRssMiB: number, lane?: Partial<LaneDetails>): RunRecord {
  const laneDetails: LaneDetails | undefined = lane ? { wallTimeInMs: 1000, cpuInMs: 700, storeBusyInMs: 300, sets: 1, rows: 2000, files: 1, bytes: 3 * MiB, seedWallTimeInMs: 900, ...lane } : undefined;
  return {
    kind,
    userCount: 2000,
    latencyInMs: 0,
    users: 2000,
    entitiesWritten: 4000,
    wallTimeInMs,
    peakRssBytes: peakRssMiB * MiB,
    table: { requests: 50, batches: 44, throttled: 0 },
    repeat,
    processWallTimeInMs: wallTimeInMs + 500,
    tenant: warm,
    round: { snapshotTransactions: 20, mirrorTransactions: 21, mirrorUsersWritten: 2000, swept: 0, seedWallTimeInMs: 1500, ...(laneDetails ? { lane: laneDetails } : {}) },
  };
}

describe("the analytics lane's cost", () => {
  const runs = [
    round("full-round", 1, 10_000, 200),
    round("full-round-lane", 1, 10_500, 210, { wallTimeInMs: 400 }),
    round("full-round", 2, 12_000, 200),
    round("full-round-lane", 2, 14_400, 240, { wallTimeInMs: 2000 }),
  ];

  it("pairs each lane run with the round of the same repeat, and takes the medians over the pairs", () => {
    const [cost, ...others] = compareLaneCost(runs);
    expect(others).toEqual([]);
    expect(cost!.pairs.map((p) => [p.repeat, p.timeRatio, p.rssRatio])).toEqual([
      [1, 1.05, 1.05],
      [2, 1.2, 1.2],
    ]);
    expect(cost!.timeRatio).toBeCloseTo(1.125, 10);
    expect(cost!.rssRatio).toBeCloseTo(1.125, 10);
    expect(cost!.laneInMs).toBe(1200);
    expect(cost!.bytes).toBe(3 * MiB);
  });

  it("leaves out a lane run whose round without the lane did not run", () => {
    expect(compareLaneCost([round("full-round-lane", 1, 10_500, 210, {})])).toEqual([]);
  });

  it("judges both targets on the median pair, naming each pair", () => {
    const targets = laneTargets(compareLaneCost(runs));
    expect(targets.map((t) => [t.id, t.status])).toEqual([
      ["lane-time", "not met"],
      ["lane-rss", "not met"],
    ]);
    expect(targets[0]!.measured).toBe("2,000 at 0 ms: +12.5 % (+5.0 %, +20.0 % per pair)");
    const met = laneTargets(compareLaneCost(runs.slice(0, 2)));
    expect(met.map((t) => t.status)).toEqual(["met", "met"]);
    expect(laneTargets([]).map((t) => t.status)).toEqual(["not measured", "not measured"]);
  });

  it("shows one row per pair with the lane's own time and what it wrote", () => {
    const rows = laneCostRows(compareLaneCost(runs));
    expect(laneCostColumns()).toHaveLength(rows[0]!.length);
    expect(rows[1]).toEqual(["2,000", "0 ms", "#2", "12.0", "14.4", "1.200", "2.00", "0.70", "0.30", "200", "240", "1.200", "2,000", "1", "3.00"]);
  });
});
