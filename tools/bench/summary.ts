/**
 * Turns raw runs into what the report shows: medians with their spread per scenario, the
 * comparisons between scenarios (overlap efficiency, speed-up over the naive baseline, share of the
 * write ceiling; the scheduled full round against the read ceiling and the snapshot alone) and the
 * targets, each met or not. Pure functions: no I/O, no clock.
 */
import type { DeltaBenchResult } from "./deltaBench.js";
import { compareLaneCost, laneTargets, type LaneCostComparison } from "./laneCost.js";
import { GRAPH_PAGE_SIZE, type BenchEnvironment, type BenchOptions, type RunRecord, type ScenarioKind, type TenantRequestCounts } from "./types.js";

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ScenarioSummary {
  /** e.g. "full-sync/100000/300" ("-" for the write ceiling, which has no Graph latency). */
  key: string;
  kind: ScenarioKind;
  userCount: number;
  latencyInMs: number | null;
  samples: number;
  wallTimeInMs: Spread;
  usersPerSecond: Spread;
  peakRssBytes: Spread;
  /** Medians over the runs. */
  requests: TenantRequestCounts & { tableRequests: number; tableBatches: number; tableThrottled: number };
  /** Write ceiling: median over runs of the writer's synchronous milliseconds per page. */
  writerSyncInMsPerPage?: number;
  /** Full round: medians over the runs of the round's details. */
  round?: { snapshotTransactions: number; mirrorTransactions: number; seedWallTimeInMs: number };
  /** Median CPU times during the runs, where measured: Azurite's, the measuring process's, the simulated tenant's. */
  azuriteCpuInMs?: number;
  processCpuInMs?: number;
  tenantCpuInMs?: number;
}

/** The scheduled full round at one size and latency, against the read ceiling and the snapshot alone (issue 13's targets). */
export interface FullRoundComparison {
  userCount: number;
  latencyInMs: number;
  /** Medians over the runs. */
  graphRequests: number;
  /** ⌈N / 999⌉ + 2: one `$deltatoken=latest`, the `/users` pages, and one spare. */
  graphRequestsTarget: number;
  tableRequests: number;
  batches: number;
  /** `$batch` of the snapshot alone: the full-sync scenario's at the same size and latency, else the round's own snapshot transactions. */
  snapshotAloneBatches: number;
  snapshotAloneFrom: "full sync" | "the round's snapshot";
  fullRoundInMs: number;
  /** Azurite's CPU time during the round, where measured: near the round's time, Azurite is the bound. */
  azuriteCpuInMs?: number;
  /** CPU time of the syncing process during the round, and of the benchmark's (the simulated tenant building pages). */
  processCpuInMs?: number;
  tenantCpuInMs?: number;
  /** The read ceiling at the same size and latency, when measured. */
  readCeilingInMs?: number;
  /** Full round ÷ read ceiling. */
  ratioToReadCeiling?: number;
}

/**
 * The bottleneck ratio of one full-sync or full-round run (issue 31): its time ÷ the largest of
 * what it cannot go faster than — the read ceiling (paging `/users` alone, same size and latency,
 * median), the store's busy time (Azurite's CPU time during the run: one single-threaded process;
 * on Azure, the measured storage request time) and its own CPU time. 1.0: the run takes no longer
 * than its slowest part, everything else overlapping it; the sum of the parts is the worst case.
 */
export interface BottleneckRatio {
  kind: "full-sync" | "full-round";
  userCount: number;
  latencyInMs: number;
  repeat: number;
  timeInMs: number;
  readCeilingInMs?: number;
  storeBusyInMs?: number;
  ownCpuInMs?: number;
  /** The largest of the three. */
  bound: "read ceiling" | "store busy" | "own CPU";
  boundInMs: number;
  ratio: number;
}

/** Issue 31's target for the full round: at most this ratio (30,000 and 100,000 users, 300 ms and 0 ms). */
export const BOTTLENECK_RATIO_TARGET = 1.15;

export interface Comparison {
  userCount: number;
  latencyInMs: number;
  fullSyncUsersPerSecond: number;
  /** max(read ceiling, write ceiling) ÷ full-sync time, medians; 1 means the sync costs no more than its slower stage. */
  overlapEfficiency?: number;
  /** Full-sync users/s ÷ naive users/s, at the same size and latency. */
  speedUpOverNaive?: number;
  /** Full-sync users/s ÷ write-ceiling users/s. */
  shareOfWriteCeiling?: number;
}

export type TargetStatus = "met" | "not met" | "not measured";

export interface TargetResult {
  id:
    | "overlap"
    | "zero-latency-vs-write-ceiling"
    | "memory-1m-vs-100k"
    | "cold-process-credentials"
    | "full-round-graph-requests"
    | "full-round-time"
    | "full-round-batches"
    | "bottleneck-ratio"
    | "lane-time"
    | "lane-rss";
  target: string;
  status: TargetStatus;
  /** What was measured, in words and numbers. */
  measured: string;
}

export interface BenchResults {
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  environment: BenchEnvironment;
  runs: RunRecord[];
  scenarios: ScenarioSummary[];
  comparisons: Comparison[];
  /** Every full-sync and full-round run's bottleneck ratio (absent in results of benchmarks before it). */
  bottlenecks?: BottleneckRatio[];
  /** The analytics lane's cost per size and latency: the full round with and without it (absent when the lane variant did not run). */
  laneCosts?: LaneCostComparison[];
  /** The scheduled full round per size and latency (absent in results of benchmarks that did not run it). */
  fullRounds?: FullRoundComparison[];
  targets: TargetResult[];
  /** The live mirror's cost: a full round, then an incremental round after a few changes (tools/bench/deltaBench.ts). */
  incremental?: DeltaBenchResult;
  notes: string[];
}

const KIND_ORDER: Record<ScenarioKind, number> = { "full-sync": 0, "full-round": 1, "full-round-lane": 2, "read-ceiling": 3, "write-ceiling": 4, naive: 5 };

/** Graph requests a full round of `userCount` users may make: ⌈N / 999⌉ pages of `/users`, one `$deltatoken=latest`, one spare. */
export function fullRoundGraphTarget(userCount: number): number {
  return Math.ceil(userCount / GRAPH_PAGE_SIZE) + 2;
}
/** Issue 13's bounds: full round time ≤ 1.15 × the read ceiling; `$batch` ≤ 2.2 × the snapshot alone. */
export const FULL_ROUND_TIME_FACTOR = 1.15;
export const FULL_ROUND_BATCH_FACTOR = 2.2;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function spreadOf(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function scenarioKey(kind: ScenarioKind, userCount: number, latencyInMs: number | null): string {
  return `${kind}/${userCount}/${latencyInMs ?? "-"}`;
}

export function usersPerSecond(run: Pick<RunRecord, "users" | "wallTimeInMs">): number {
  return run.wallTimeInMs > 0 ? (run.users * 1000) / run.wallTimeInMs : 0;
}

/** One summary per scenario, ordered by size, then kind, then latency (higher first). */
export function summarizeScenarios(runs: readonly RunRecord[]): ScenarioSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const run of runs) {
    const key = scenarioKey(run.kind, run.userCount, run.latencyInMs);
    const group = groups.get(key);
    if (group) group.push(run);
    else groups.set(key, [run]);
  }
  const summaries: ScenarioSummary[] = [];
  for (const [key, group] of groups) {
    const first = group[0]!;
    const med = (pick: (run: RunRecord) => number) => median(group.map(pick));
    const syncTimes = group.flatMap((r) => (r.writerSyncInMsPerPage === undefined ? [] : [r.writerSyncInMsPerPage]));
    const rounds = group.flatMap((r) => (r.round === undefined ? [] : [r.round]));
    const optionalMedian = (name: "azuriteCpuInMs" | "processCpuInMs" | "tenantCpuInMs") => {
      const values = group.flatMap((r) => (r[name] === undefined ? [] : [r[name]]));
      return values.length > 0 ? { [name]: median(values) } : {};
    };
    summaries.push({
      ...optionalMedian("azuriteCpuInMs"),
      ...optionalMedian("processCpuInMs"),
      ...optionalMedian("tenantCpuInMs"),
      ...(syncTimes.length > 0 ? { writerSyncInMsPerPage: median(syncTimes) } : {}),
      ...(rounds.length > 0
        ? {
            round: {
              snapshotTransactions: median(rounds.map((r) => r.snapshotTransactions)),
              mirrorTransactions: median(rounds.map((r) => r.mirrorTransactions)),
              seedWallTimeInMs: median(rounds.map((r) => r.seedWallTimeInMs)),
            },
          }
        : {}),
      key,
      kind: first.kind,
      userCount: first.userCount,
      latencyInMs: first.latencyInMs,
      samples: group.length,
      wallTimeInMs: spreadOf(group.map((r) => r.wallTimeInMs)),
      usersPerSecond: spreadOf(group.map(usersPerSecond)),
      peakRssBytes: spreadOf(group.map((r) => r.peakRssBytes)),
      requests: {
        graph: med((r) => r.tenant.graph),
        token: med((r) => r.tenant.token),
        keyVault: med((r) => r.tenant.keyVault),
        certificateFetches: med((r) => r.tenant.certificateFetches),
        managedIdentity: med((r) => r.tenant.managedIdentity),
        tableRequests: med((r) => r.table.requests),
        tableBatches: med((r) => r.table.batches),
        tableThrottled: med((r) => r.table.throttled),
      },
    });
  }
  return summaries.sort(
    (a, b) =>
      a.userCount - b.userCount ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      (b.latencyInMs ?? -1) - (a.latencyInMs ?? -1),
  );
}

function find(summaries: readonly ScenarioSummary[], kind: ScenarioKind, userCount: number, latencyInMs: number | null): ScenarioSummary | undefined {
  return summaries.find((s) => s.kind === kind && s.userCount === userCount && s.latencyInMs === latencyInMs);
}

/** One comparison per full-sync scenario (size × latency). */
export function compareScenarios(summaries: readonly ScenarioSummary[]): Comparison[] {
  const comparisons: Comparison[] = [];
  for (const full of summaries) {
    if (full.kind !== "full-sync" || full.latencyInMs === null) continue;
    const read = find(summaries, "read-ceiling", full.userCount, full.latencyInMs);
    const write = find(summaries, "write-ceiling", full.userCount, null);
    const naive = find(summaries, "naive", full.userCount, full.latencyInMs);
    const comparison: Comparison = {
      userCount: full.userCount,
      latencyInMs: full.latencyInMs,
      fullSyncUsersPerSecond: full.usersPerSecond.median,
    };
    if (read && write) {
      comparison.overlapEfficiency = Math.max(read.wallTimeInMs.median, write.wallTimeInMs.median) / full.wallTimeInMs.median;
    }
    if (naive && naive.usersPerSecond.median > 0) comparison.speedUpOverNaive = full.usersPerSecond.median / naive.usersPerSecond.median;
    if (write && write.usersPerSecond.median > 0) comparison.shareOfWriteCeiling = full.usersPerSecond.median / write.usersPerSecond.median;
    comparisons.push(comparison);
  }
  return comparisons;
}

/** The bottleneck ratio of every full-sync and full-round run that has its read ceiling measured (see BottleneckRatio). */
export function bottleneckRatios(runs: readonly RunRecord[], summaries: readonly ScenarioSummary[]): BottleneckRatio[] {
  const ratios: BottleneckRatio[] = [];
  for (const run of runs) {
    if ((run.kind !== "full-sync" && run.kind !== "full-round") || run.latencyInMs === null) continue;
    const read = find(summaries, "read-ceiling", run.userCount, run.latencyInMs)?.wallTimeInMs.median;
    const parts: Array<[BottleneckRatio["bound"], number | undefined]> = [
      ["read ceiling", read],
      ["store busy", run.azuriteCpuInMs],
      ["own CPU", run.processCpuInMs],
    ];
    const known = parts.filter((p): p is [BottleneckRatio["bound"], number] => p[1] !== undefined && p[1] > 0);
    if (known.length === 0) continue;
    const [bound, boundInMs] = known.reduce((a, b) => (b[1] > a[1] ? b : a));
    ratios.push({
      kind: run.kind,
      userCount: run.userCount,
      latencyInMs: run.latencyInMs,
      repeat: run.repeat,
      timeInMs: run.wallTimeInMs,
      ...(read !== undefined ? { readCeilingInMs: read } : {}),
      ...(run.azuriteCpuInMs !== undefined ? { storeBusyInMs: run.azuriteCpuInMs } : {}),
      ...(run.processCpuInMs !== undefined ? { ownCpuInMs: run.processCpuInMs } : {}),
      bound,
      boundInMs,
      ratio: run.wallTimeInMs / boundInMs,
    });
  }
  return ratios;
}

/** The full round's bottleneck target: the median ratio per size and latency, each at most BOTTLENECK_RATIO_TARGET. */
function bottleneckTarget(ratios: readonly BottleneckRatio[]): TargetResult {
  const groups = new Map<string, BottleneckRatio[]>();
  for (const r of ratios.filter((r) => r.kind === "full-round")) groups.set(`${r.userCount}/${r.latencyInMs}`, [...(groups.get(`${r.userCount}/${r.latencyInMs}`) ?? []), r]);
  const result = verdict(
    [...groups.values()].map((group) => {
      const m = median(group.map((r) => r.ratio));
      const first = group[0]!;
      return { ok: m <= BOTTLENECK_RATIO_TARGET, text: `${users(first.userCount)} at ${first.latencyInMs} ms: ${fmt(m)} (bound: ${first.bound})` };
    }),
  );
  return { id: "bottleneck-ratio", target: `full round ≤ ${BOTTLENECK_RATIO_TARGET} × max(read ceiling, store busy, own CPU)`, ...result };
}

/** One comparison per full-round scenario (size × latency). */
export function compareFullRounds(summaries: readonly ScenarioSummary[]): FullRoundComparison[] {
  const rounds: FullRoundComparison[] = [];
  for (const round of summaries) {
    if (round.kind !== "full-round" || round.latencyInMs === null) continue;
    const read = find(summaries, "read-ceiling", round.userCount, round.latencyInMs);
    const snapshot = find(summaries, "full-sync", round.userCount, round.latencyInMs);
    const comparison: FullRoundComparison = {
      userCount: round.userCount,
      latencyInMs: round.latencyInMs,
      graphRequests: round.requests.graph,
      graphRequestsTarget: fullRoundGraphTarget(round.userCount),
      tableRequests: round.requests.tableRequests,
      batches: round.requests.tableBatches,
      snapshotAloneBatches: snapshot ? snapshot.requests.tableBatches : (round.round?.snapshotTransactions ?? 0),
      snapshotAloneFrom: snapshot ? "full sync" : "the round's snapshot",
      fullRoundInMs: round.wallTimeInMs.median,
      ...(round.azuriteCpuInMs !== undefined ? { azuriteCpuInMs: round.azuriteCpuInMs } : {}),
      ...(round.processCpuInMs !== undefined ? { processCpuInMs: round.processCpuInMs } : {}),
      ...(round.tenantCpuInMs !== undefined ? { tenantCpuInMs: round.tenantCpuInMs } : {}),
    };
    if (read) {
      comparison.readCeilingInMs = read.wallTimeInMs.median;
      comparison.ratioToReadCeiling = round.wallTimeInMs.median / read.wallTimeInMs.median;
    }
    rounds.push(comparison);
  }
  return rounds;
}

const fmt = (value: number, digits = 2) => value.toFixed(digits);
const users = (count: number) => (count >= 1_000_000 && count % 1_000_000 === 0 ? `${count / 1_000_000}M` : count >= 1000 && count % 1000 === 0 ? `${count / 1000}k` : String(count));
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

function verdict(parts: Array<{ ok: boolean; text: string }>): { status: TargetStatus; measured: string } {
  if (parts.length === 0) return { status: "not measured", measured: "no run measured it" };
  return { status: parts.every((p) => p.ok) ? "met" : "not met", measured: parts.map((p) => p.text).join("; ") };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const count = (n: number) => new Intl.NumberFormat("en-US").format(Math.round(n));

/** The scheduled full round's targets (issue 13), each judged on the medians. */
function fullRoundTargets(rounds: readonly FullRoundComparison[], latencyInMs: number): TargetResult[] {
  const graph = verdict(
    rounds.map((r) => ({ ok: r.graphRequests <= r.graphRequestsTarget, text: `${users(r.userCount)} at ${r.latencyInMs} ms: ${count(r.graphRequests)} (bound ${count(r.graphRequestsTarget)})` })),
  );
  const time = verdict(
    rounds
      .filter((r) => r.latencyInMs === latencyInMs && r.ratioToReadCeiling !== undefined)
      .map((r) => ({
        ok: r.ratioToReadCeiling! <= FULL_ROUND_TIME_FACTOR,
        text: `${users(r.userCount)}: ${seconds(r.fullRoundInMs)} vs ${seconds(r.readCeilingInMs!)} (${fmt(r.ratioToReadCeiling!)} ×)`,
      })),
  );
  const batches = verdict(
    rounds
      .filter((r) => r.snapshotAloneBatches > 0)
      .map((r) => ({
        ok: r.batches <= FULL_ROUND_BATCH_FACTOR * r.snapshotAloneBatches,
        text: `${users(r.userCount)} at ${r.latencyInMs} ms: ${count(r.batches)} vs ${count(r.snapshotAloneBatches)} of ${r.snapshotAloneFrom} (${fmt(r.batches / r.snapshotAloneBatches)} ×)`,
      })),
  );
  return [
    { id: "full-round-graph-requests", target: "Graph requests per scheduled full round ≤ ⌈N / 999⌉ + 2", ...graph },
    { id: "full-round-time", target: `scheduled full round ≤ ${FULL_ROUND_TIME_FACTOR} × the read ceiling with ${latencyInMs} ms pages`, ...time },
    { id: "full-round-batches", target: `$batch per scheduled full round ≤ ${FULL_ROUND_BATCH_FACTOR} × the snapshot alone`, ...batches },
  ];
}

/** The targets, each judged on the medians (reported, never asserted). */
export function evaluateTargets(
  summaries: readonly ScenarioSummary[],
  comparisons: readonly Comparison[],
  runs: readonly RunRecord[],
  latencyInMs: number,
  rounds: readonly FullRoundComparison[] = compareFullRounds(summaries),
  bottlenecks: readonly BottleneckRatio[] = bottleneckRatios(runs, summaries),
): TargetResult[] {
  const overlap = verdict(
    comparisons
      .filter((c) => c.latencyInMs === latencyInMs && c.overlapEfficiency !== undefined)
      .map((c) => ({ ok: c.overlapEfficiency! >= 0.9, text: `${users(c.userCount)}: ${fmt(c.overlapEfficiency!)}` })),
  );
  const zero = verdict(
    comparisons
      .filter((c) => c.latencyInMs === 0 && c.shareOfWriteCeiling !== undefined)
      .map((c) => ({ ok: c.shareOfWriteCeiling! >= 0.8, text: `${users(c.userCount)}: ${fmt(c.shareOfWriteCeiling!)} × write ceiling` })),
  );
  const memoryParts: Array<{ ok: boolean; text: string }> = [];
  for (const million of summaries.filter((s) => s.kind === "full-sync" && s.userCount === 1_000_000)) {
    const hundred = find(summaries, "full-sync", 100_000, million.latencyInMs);
    if (!hundred) continue;
    const ratio = million.peakRssBytes.median / hundred.peakRssBytes.median;
    memoryParts.push({
      ok: ratio <= 1.1,
      text: `${million.latencyInMs} ms pages: ${mib(million.peakRssBytes.median)} at 1M vs ${mib(hundred.peakRssBytes.median)} at 100k (${ratio >= 1 ? "+" : ""}${fmt((ratio - 1) * 100, 1)} %)`,
    });
  }
  const memory = verdict(memoryParts);
  // The write ceiling uses no Graph; a full-round process is warm by design (its seed run took the token).
  const cold = runs.filter((r) => r.kind !== "write-ceiling" && r.kind !== "full-round" && r.kind !== "full-round-lane");
  const tokenCounts = [...new Set(cold.map((r) => r.tenant.token))].sort((a, b) => a - b);
  const certificateCounts = [...new Set(cold.map((r) => r.tenant.certificateFetches))].sort((a, b) => a - b);
  const credentials = verdict(
    cold.length === 0
      ? []
      : [
          {
            ok: tokenCounts.length === 1 && tokenCounts[0] === 1 && certificateCounts.length === 1 && certificateCounts[0] === 1,
            text: `${cold.length} cold processes: token requests per process ${tokenCounts.join("/")}, certificate fetches per process ${certificateCounts.join("/")}`,
          },
        ],
  );
  return [
    { id: "overlap", target: `overlap efficiency ≥ 0.9 with ${latencyInMs} ms pages`, ...overlap },
    { id: "zero-latency-vs-write-ceiling", target: "users/s at zero latency ≥ 0.8 × the write ceiling", ...zero },
    { id: "memory-1m-vs-100k", target: "peak RSS at 1,000,000 users within 10 % of 100,000", ...memory },
    { id: "cold-process-credentials", target: "one token request and one certificate fetch per cold process", ...credentials },
    ...fullRoundTargets(rounds, latencyInMs),
    bottleneckTarget(bottlenecks),
  ];
}

export function buildResults(input: {
  startedAt: Date;
  finishedAt: Date;
  options: BenchOptions;
  environment: BenchEnvironment;
  runs: RunRecord[];
  incremental?: DeltaBenchResult;
  notes?: string[];
}): BenchResults {
  const scenarios = summarizeScenarios(input.runs);
  const comparisons = compareScenarios(scenarios);
  const fullRounds = compareFullRounds(scenarios);
  const bottlenecks = bottleneckRatios(input.runs, scenarios);
  const laneCosts = compareLaneCost(input.runs);
  const measuresLane = input.options.scenarios.includes("full-round-lane");
  return {
    schemaVersion: 1,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    options: input.options,
    environment: input.environment,
    runs: input.runs,
    scenarios,
    comparisons,
    ...(fullRounds.length > 0 ? { fullRounds } : {}),
    ...(bottlenecks.length > 0 ? { bottlenecks } : {}),
    ...(laneCosts.length > 0 ? { laneCosts } : {}),
    targets: [...evaluateTargets(scenarios, comparisons, input.runs, input.options.latencyInMs, fullRounds, bottlenecks), ...(measuresLane ? laneTargets(laneCosts) : [])],
    ...(input.incremental ? { incremental: input.incremental } : {}),
    notes: input.notes ?? [],
  };
}
