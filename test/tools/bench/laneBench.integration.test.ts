/**
 * `npm run bench`'s analytics-lane variant at a tiny size (not timed): the compiled benchmark runs
 * the full round without and with the lane (Azurite's blob service, USER_SYNC_EXPORT_STORAGE and
 * USER_SYNC_EXPORT_CONTAINER set as a user sets them), and its report pairs them: the two ratios,
 * the lane's own time, and the set it wrote (every user, in Parquet parts of a known size).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { BenchResults } from "../../../tools/bench/summary.js";

const BENCH = join(import.meta.dirname, "..", "..", "..", "dist", "tools", "bench", "main.js");
const USERS = 300;

describe("npm run bench: the analytics lane's cost", () => {
  const out = mkdtempSync(join(tmpdir(), "lane-bench-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("pairs the full round with and without the lane and reports both ratios, the lane's time and what it wrote", async () => {
    if (!existsSync(BENCH)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
    const args = [BENCH, "--sizes", String(USERS), "--scenarios", "full-round,full-round-lane", "--latency", "0", "--full-round-repeat", "2", "--incremental-users", "0", "--out", out];
    const { stdout } = await promisify(execFile)(process.execPath, args, { timeout: 240_000, maxBuffer: 16 * 2 ** 20 });
    const results = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as BenchResults;

    // Back to back: each round without the lane is followed by its lane variant.
    expect(results.runs.map((r) => `${r.kind}#${r.repeat}`)).toEqual(["full-round#1", "full-round-lane#1", "full-round#2", "full-round-lane#2"]);
    expect(results.runs.filter((r) => r.kind === "full-round").every((r) => r.round?.lane === undefined)).toBe(true);
    const [cost, ...others] = results.laneCosts ?? [];
    expect(others).toEqual([]);
    expect(cost).toMatchObject({ userCount: USERS, latencyInMs: 0 });
    expect(cost!.pairs.map((p) => p.repeat)).toEqual([1, 2]);
    for (const pair of cost!.pairs) {
      expect(pair.timeRatio).toBeCloseTo(pair.withInMs / pair.withoutInMs, 10);
      expect(pair.rssRatio).toBeCloseTo(pair.withRssBytes / pair.withoutRssBytes, 10);
      // The lane is part of the measured round, and it wrote the round's snapshot: every user, one part.
      expect(pair.lane.wallTimeInMs).toBeGreaterThan(0);
      expect(pair.lane.wallTimeInMs).toBeLessThan(pair.withInMs);
      expect(pair.lane.seedWallTimeInMs).toBeGreaterThan(0);
      expect(pair.lane.cpuInMs).toBeGreaterThan(0);
      expect(pair.lane.storeBusyInMs).toBeGreaterThanOrEqual(0);
      expect(pair.lane).toMatchObject({ rows: USERS, files: 1 });
      expect(pair.lane.bytes).toBeGreaterThan(USERS * 50);
    }
    expect(results.targets.filter((t) => t.id.startsWith("lane-")).map((t) => t.id)).toEqual(["lane-time", "lane-rss"]);
    expect(results.targets.find((t) => t.id === "lane-time")!.measured).toMatch(/^300 at 0 ms: [+-]\d+\.\d % \([+-]\d+\.\d %, [+-]\d+\.\d % per pair\)$/);
    expect(stdout).toMatch(/full round \+ lane · 0 ms · run 1\/2: .*, of which the lane [\d.]+ s \(\d+ MiB written\)/);
    expect(stdout).toContain("Analytics lane: the full round with the lane");
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("## Analytics lane");
  }, 300_000);
});
