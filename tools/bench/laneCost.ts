/**
 * What the analytics lane adds to the scheduled full round (issue 30, item 9): each `full-round-lane`
 * run is paired with the `full-round` run of the same size, latency and repeat, measured just before
 * it (back to back), and the pair gives two ratios:
 * - time: the round's wall time with the lane ÷ without it. The lane stages its row groups as the
 *   round's pages arrive and finishes the set after the promotion, under the same lease, inside
 *   `runDue`: the round's wall time with the lane includes both.
 * - peak RSS: the process's peak RSS with the lane ÷ without it (each process seeds, then measures).
 * Targets (judged on the median pair per size and latency): at most 1.10 each. Also reported: the
 * lane's own time after the promotion (SnapshotLane.catchUp: the parts committed, the manifest; or
 * the snapshot read back when the stream could not complete the set) and what
 * it wrote. Pure functions: no I/O, no clock.
 */
import type { TargetResult } from "./summary.js";
import type { LaneDetails, RunRecord } from "./types.js";

/** The bounds: the round with the lane at most 10 % longer, its peak RSS at most 10 % higher. */
export const LANE_TIME_FACTOR = 1.1;
export const LANE_RSS_FACTOR = 1.1;

export interface LanePair {
  repeat: number;
  withoutInMs: number;
  withInMs: number;
  /** withInMs ÷ withoutInMs */
  timeRatio: number;
  withoutRssBytes: number;
  withRssBytes: number;
  /** withRssBytes ÷ withoutRssBytes */
  rssRatio: number;
  lane: LaneDetails;
}

export interface LaneCostComparison {
  userCount: number;
  latencyInMs: number;
  pairs: LanePair[];
  /** Medians over the pairs. */
  timeRatio: number;
  rssRatio: number;
  laneInMs: number;
  bytes: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One comparison per size and latency where both variants ran with the same repeat number. */
export function compareLaneCost(runs: readonly RunRecord[]): LaneCostComparison[] {
  const groups = new Map<string, LanePair[]>();
  for (const lane of runs) {
    if (lane.kind !== "full-round-lane" || lane.latencyInMs === null || !lane.round?.lane) continue;
    const without = runs.find((r) => r.kind === "full-round" && r.userCount === lane.userCount && r.latencyInMs === lane.latencyInMs && r.repeat === lane.repeat);
    if (!without) continue;
    const key = `${lane.userCount}/${lane.latencyInMs}`;
    const pair: LanePair = {
      repeat: lane.repeat,
      withoutInMs: without.wallTimeInMs,
      withInMs: lane.wallTimeInMs,
      timeRatio: lane.wallTimeInMs / without.wallTimeInMs,
      withoutRssBytes: without.peakRssBytes,
      withRssBytes: lane.peakRssBytes,
      rssRatio: lane.peakRssBytes / without.peakRssBytes,
      lane: lane.round.lane,
    };
    groups.set(key, [...(groups.get(key) ?? []), pair]);
  }
  return [...groups.values()]
    .map((pairs) => {
      const first = runs.find((r) => r.kind === "full-round-lane" && r.repeat === pairs[0]!.repeat && r.round?.lane === pairs[0]!.lane)!;
      return {
        userCount: first.userCount,
        latencyInMs: first.latencyInMs!,
        pairs,
        timeRatio: median(pairs.map((p) => p.timeRatio)),
        rssRatio: median(pairs.map((p) => p.rssRatio)),
        laneInMs: median(pairs.map((p) => p.lane.wallTimeInMs)),
        bytes: median(pairs.map((p) => p.lane.bytes)),
      };
    })
    .sort((a, b) => a.userCount - b.userCount || b.latencyInMs - a.latencyInMs);
}

const percent = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)} %`;
const usersText = (n: number) => new Intl.NumberFormat("en-US").format(n);

/** The lane's two targets, judged on the median pair per size and latency. */
export function laneTargets(comparisons: readonly LaneCostComparison[]): TargetResult[] {
  const judge = (pick: (ratios: Pick<LanePair, "timeRatio" | "rssRatio">) => number, factor: number) => {
    if (comparisons.length === 0) return { status: "not measured" as const, measured: "no run measured it" };
    return {
      status: comparisons.every((c) => pick(c) <= factor) ? ("met" as const) : ("not met" as const),
      measured: comparisons.map((c) => `${usersText(c.userCount)} at ${c.latencyInMs} ms: ${percent(pick(c))} (${c.pairs.map((p) => percent(pick(p))).join(", ")} per pair)`).join("; "),
    };
  };
  return [
    { id: "lane-time", target: `full round with the analytics lane ≤ ${LANE_TIME_FACTOR} × without it (wall time, the lane included)`, ...judge((c) => c.timeRatio, LANE_TIME_FACTOR) },
    { id: "lane-rss", target: `peak RSS of the full round with the analytics lane ≤ ${LANE_RSS_FACTOR} × without it`, ...judge((c) => c.rssRatio, LANE_RSS_FACTOR) },
  ];
}

export const LANE_COST_TITLE = "Analytics lane: the full round with the lane (row groups staged as the pages arrive; after promotion: the parts committed, the manifest) against the round without it, back to back";

const LANE_COST_HEADERS = [
  "Users",
  "Graph latency",
  "Pair",
  "Round s",
  "Round + lane s",
  "× time",
  "Lane s",
  "Lane CPU s",
  "Lane Azurite CPU s",
  "Peak RSS MiB",
  "Peak RSS + lane MiB",
  "× RSS",
  "Rows",
  "Files",
  "MiB written",
] as const;

/** One row per pair: the cells of LANE_COST_HEADERS. */
export function laneCostRows(comparisons: readonly LaneCostComparison[]): string[][] {
  const seconds = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : ms < 100_000 ? 1 : 0);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 1);
  return comparisons.flatMap((c) =>
    c.pairs.map((p) => [
      usersText(c.userCount),
      `${c.latencyInMs} ms`,
      `#${p.repeat}`,
      seconds(p.withoutInMs),
      seconds(p.withInMs),
      p.timeRatio.toFixed(3),
      seconds(p.lane.wallTimeInMs),
      seconds(p.lane.cpuInMs),
      p.lane.storeBusyInMs === undefined ? "–" : seconds(p.lane.storeBusyInMs),
      String(Math.round(p.withoutRssBytes / 2 ** 20)),
      String(Math.round(p.withRssBytes / 2 ** 20)),
      p.rssRatio.toFixed(3),
      usersText(p.lane.rows),
      String(p.lane.files),
      mib(p.lane.bytes),
    ]),
  );
}

export function laneCostColumns(): Array<{ header: string; align: "left" | "right" }> {
  return LANE_COST_HEADERS.map((header) => ({ header, align: header === "Pair" ? "left" : "right" }));
}
