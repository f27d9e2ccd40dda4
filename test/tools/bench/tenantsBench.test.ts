/**
 * The fan-out benchmark's report: the issue's target is judged on the issue's configuration only,
 * and any other configuration (the Graph-bound one included) says it is not the issue's.
 */
import { describe, expect, it } from "vitest";
import { cpuCeiling, formatFanOut, GRAPH_BOUND_CONFIGURATION, isIssueConfiguration, ISSUE_CONFIGURATION, type FanOutResult } from "../../../tools/bench/tenantsBench.js";

function result(concurrency: number, usersPerSecond: number, base: number): FanOutResult {
  const speedUp = usersPerSecond / base;
  return {
    concurrency,
    seconds: 200_000 / usersPerSecond,
    usersPerSecond,
    peakRssMb: 300 + 40 * concurrency,
    baselineRssMb: 120,
    rssPerConcurrentTenantMb: (180 + 40 * concurrency) / concurrency,
    peakHeapMb: 200,
    peakLiveHeapMb: 40 + 15 * concurrency,
    speedUp,
    efficiency: speedUp / concurrency,
    cpuSeconds: { worker: 100, azuriteTables: 90, simulator: 10 },
    ...cpuCeiling(200, 2, 200_000 / usersPerSecond),
    loadAverageBefore: 2,
    loadAverageAfter: 2.5,
  };
}

describe("formatFanOut", () => {
  it("judges the issue's target on the issue's configuration", () => {
    expect(isIssueConfiguration(ISSUE_CONFIGURATION)).toBe(true);
    const missed = formatFanOut([result(1, 1000, 1000), result(4, 1500, 1000)], ISSUE_CONFIGURATION);
    expect(missed).toContain("The issue's configuration");
    expect(missed).toMatch(/Target: missed \(under 0\.8 × linear at concurrency 4\)/);
    const met = formatFanOut([result(1, 1000, 1000), result(4, 3600, 1000)], ISSUE_CONFIGURATION);
    expect(met).toMatch(/Target: met/);
  });

  it("never presents another configuration as the issue's", () => {
    expect(isIssueConfiguration(GRAPH_BOUND_CONFIGURATION)).toBe(false);
    expect(isIssueConfiguration({ ...ISSUE_CONFIGURATION, pageSize: 100 })).toBe(false);
    const text = formatFanOut([result(1, 100, 100), result(8, 760, 100)], GRAPH_BOUND_CONFIGURATION);
    expect(text).toContain("NOT the issue's configuration");
    expect(text).toContain("Graph pages of at most 100 users, 2000 ms each");
    expect(text).not.toMatch(/^Target:/m);
    expect(text).toContain("not the issue's target");
  });
});

describe("the fan-out's efficiency against the machine's CPU ceiling", () => {
  it("is the CPU seconds the run needed ÷ the cores, against the wall time: the same measure on 2 cores and on 16", () => {
    expect(cpuCeiling(200, 2, 125)).toEqual({ cpuCeilingSeconds: 100, cpuEfficiency: 0.8, cores: 2 });
    expect(cpuCeiling(200, 16, 15.625)).toEqual({ cpuCeilingSeconds: 12.5, cpuEfficiency: 0.8, cores: 16 });
    const text = formatFanOut([result(1, 1000, 1000)], ISSUE_CONFIGURATION);
    expect(text).toContain("CPU ceiling s  of CPU ceiling");
    expect(text).toMatch(/100\.0\s+50%/);
    expect(text).toContain("÷ 2 cores");
  });
});
