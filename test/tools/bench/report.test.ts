/**
 * The benchmark's shaping of results, on tiny fake runs: medians and spreads, the comparisons,
 * the targets' verdicts, the JSON, the markdown report and the SVG chart. No timing is measured here.
 */
import { describe, expect, it } from "vitest";
import {
  escapeXml,
  formatConsoleReport,
  markdownTable,
  niceMaximum,
  renderMarkdownReport,
  renderUsersPerSecondChart,
} from "../../../tools/bench/report.js";
import { BOTTLENECK_RATIO_TARGET, bottleneckRatios, buildResults, compareFullRounds, compareScenarios, evaluateTargets, fullRoundGraphTarget, median, spreadOf, summarizeScenarios, type BenchResults } from "../../../tools/bench/summary.js";
import type { BenchEnvironment, BenchOptions, RunRecord, ScenarioKind } from "../../../tools/bench/types.js";

const MiB = 2 ** 20;

function run(kind: ScenarioKind, userCount: number, latencyInMs: number | null, wallTimeInMs: number, extra: Partial<RunRecord> = {}): RunRecord {
  const usesGraph = kind !== "write-ceiling";
  return {
    kind,
    userCount,
    latencyInMs,
    users: userCount,
    entitiesWritten: kind === "read-ceiling" ? 0 : userCount,
    wallTimeInMs,
    peakRssBytes: 200 * MiB,
    table: { requests: kind === "read-ceiling" ? 0 : 10, batches: kind === "read-ceiling" || kind === "naive" ? 0 : 8, throttled: 0 },
    repeat: 1,
    processWallTimeInMs: wallTimeInMs + 500,
    tenant: { graph: usesGraph ? 11 : 0, token: usesGraph ? 1 : 0, keyVault: usesGraph ? 4 : 0, certificateFetches: usesGraph ? 1 : 0, managedIdentity: usesGraph ? 1 : 0 },
    ...extra,
  };
}

const options: BenchOptions = {
  sizes: [1000],
  latencyInMs: 300,
  repeat: 3,
  millionRepeat: 1,
  naiveSizes: [1000],
  fullRoundRepeat: 1,
  scenarios: ["full-sync", "full-round", "read-ceiling", "write-ceiling", "naive"],
  seed: 1,
};
const environment: BenchEnvironment = {
  node: "v22.0.0",
  platform: "linux",
  arch: "x64",
  cpuModel: "Test CPU",
  cpuCount: 2,
  totalMemoryBytes: 8 * 2 ** 30,
  azuriteVersion: "3.36.0",
  productRevision: "abc1234",
  partitionCount: 16,
  writeConcurrency: 16,
  graphPageSize: 999,
  loadAverageAtStart: [0.5, 0.4, 0.3],
  loadAverageAtEnd: [1.5, 1.2, 0.8],
  azuriteStorage: { "1000": "memory" },
};

/** 1,000 users: full sync 1.0 s at 300 ms (read 0.95 s, write 0.5 s), 0.6 s at 0 ms (write 0.5 s), naive 4 s. */
function fakeRuns(): RunRecord[] {
  return [
    run("full-sync", 1000, 300, 1200, { repeat: 1 }),
    run("full-sync", 1000, 300, 1000, { repeat: 2 }),
    run("full-sync", 1000, 300, 800, { repeat: 3, peakRssBytes: 300 * MiB }),
    run("read-ceiling", 1000, 300, 950),
    run("full-sync", 1000, 0, 600),
    run("read-ceiling", 1000, 0, 100),
    run("write-ceiling", 1000, null, 500, { writerSyncInMsPerPage: 12.5 }),
    run("naive", 1000, 300, 4000),
    run("naive", 1000, 0, 3000),
  ];
}

function results(runs = fakeRuns()): BenchResults {
  return buildResults({ startedAt: new Date("2026-01-01T00:00:00Z"), finishedAt: new Date("2026-01-01T00:05:00Z"), options, environment, runs, notes: ["a <note> | with a pipe"] });
}

/** Tags nest and close properly, and no raw "<" or "&" appears in text. */
function isWellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const match of xml.matchAll(/<(\/?)([a-z]+)\b[^>]*?(\/?)>|&(?!amp;|lt;|gt;|quot;|apos;)/g)) {
    if (match[0].startsWith("&")) return false;
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (!closing) stack.push(name!);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

describe("medians and spreads", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spreadOf([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9 });
    expect(() => median([])).toThrow(RangeError);
  });
});

describe("scenario summaries", () => {
  const summaries = summarizeScenarios(fakeRuns());

  it("groups runs by kind, size and latency, ordered full sync, read, write, naive, higher latency first", () => {
    expect(summaries.map((s) => s.key)).toEqual([
      "full-sync/1000/300",
      "full-sync/1000/0",
      "read-ceiling/1000/300",
      "read-ceiling/1000/0",
      "write-ceiling/1000/-",
      "naive/1000/300",
      "naive/1000/0",
    ]);
  });

  it("reports medians with min and max over the runs", () => {
    const full = summaries[0]!;
    expect(full.samples).toBe(3);
    expect(full.wallTimeInMs).toEqual({ median: 1000, min: 800, max: 1200 });
    expect(full.usersPerSecond).toEqual({ median: 1000, min: 1000 / 1.2, max: 1250 });
    expect(full.peakRssBytes).toEqual({ median: 200 * MiB, min: 200 * MiB, max: 300 * MiB });
    expect(full.requests).toMatchObject({ graph: 11, token: 1, keyVault: 4, certificateFetches: 1, tableRequests: 10, tableBatches: 8 });
    expect(summaries.find((s) => s.kind === "write-ceiling")!.writerSyncInMsPerPage).toBe(12.5);
  });

  it("compares each full sync with its ceilings and the naive baseline", () => {
    const [at300, at0] = compareScenarios(summaries);
    // max(read 950, write 500) / full 1000
    expect(at300!.overlapEfficiency).toBeCloseTo(0.95, 10);
    expect(at300!.speedUpOverNaive).toBeCloseTo(4, 10);
    expect(at300!.shareOfWriteCeiling).toBeCloseTo(0.5, 10);
    // max(read 100, write 500) / full 600
    expect(at0!.overlapEfficiency).toBeCloseTo(500 / 600, 10);
    expect(at0!.shareOfWriteCeiling).toBeCloseTo(500 / 600, 10);
    expect(at0!.speedUpOverNaive).toBeCloseTo(5, 10);
  });

  it("leaves a comparison out when its counterpart was not measured", () => {
    const [only] = compareScenarios(summarizeScenarios([run("full-sync", 1000, 300, 1000)]));
    expect(only).toEqual({ userCount: 1000, latencyInMs: 300, fullSyncUsersPerSecond: 1000 });
  });
});

describe("targets", () => {
  it("judges each target on the medians", () => {
    const targets = results().targets;
    expect(targets.map((t) => [t.id, t.status])).toEqual([
      ["overlap", "met"],
      ["zero-latency-vs-write-ceiling", "met"],
      ["memory-1m-vs-100k", "not measured"],
      ["cold-process-credentials", "met"],
      ["full-round-graph-requests", "not measured"],
      ["full-round-time", "not measured"],
      ["full-round-batches", "not measured"],
      ["bottleneck-ratio", "not measured"],
    ]);
    expect(targets[0]!.target).toContain("300 ms");
    expect(targets[0]!.measured).toContain("0.95");
  });

  it("reports a target as not met, with what was measured", () => {
    const runs = fakeRuns().map((r) => (r.kind === "full-sync" && r.latencyInMs === 0 ? { ...r, wallTimeInMs: 1000 } : r));
    runs.push(run("naive", 1000, 0, 3000, { repeat: 2, tenant: { graph: 11, token: 2, keyVault: 4, certificateFetches: 1, managedIdentity: 1 } }));
    const targets = results(runs).targets;
    expect(targets.find((t) => t.id === "zero-latency-vs-write-ceiling")).toMatchObject({ status: "not met", measured: "1k: 0.50 × write ceiling" });
    expect(targets.find((t) => t.id === "cold-process-credentials")).toMatchObject({ status: "not met" });
    expect(targets.find((t) => t.id === "cold-process-credentials")!.measured).toContain("token requests per process 1/2");
  });

  it("compares peak RSS at 1,000,000 users with 100,000", () => {
    const runs = [
      run("full-sync", 100_000, 300, 1000, { peakRssBytes: 300 * MiB }),
      run("full-sync", 1_000_000, 300, 10_000, { peakRssBytes: 320 * MiB }),
      run("full-sync", 100_000, 0, 1000, { peakRssBytes: 300 * MiB }),
      run("full-sync", 1_000_000, 0, 10_000, { peakRssBytes: 400 * MiB }),
    ];
    const summaries = summarizeScenarios(runs);
    const memory = evaluateTargets(summaries, compareScenarios(summaries), runs, 300).find((t) => t.id === "memory-1m-vs-100k")!;
    expect(memory.status).toBe("not met");
    expect(memory.measured).toContain("320 MiB at 1M vs 300 MiB at 100k (+6.7 %)");
    expect(memory.measured).toContain("(+33.3 %)");
  });
});

/**
 * 2,000 users: the full round measured after its seed run (warm: no token, no Key Vault request),
 * 1.1 s at 300 ms against a 1.0 s read ceiling, 0.9 s at 0 ms against 0.2 s; the full sync (the
 * snapshot alone) sends 24 $batch.
 */
function roundRuns(overrides: { graph?: number; batches?: number; wallTimeInMs?: number } = {}): RunRecord[] {
  const warm = { graph: overrides.graph ?? 3 + 1, token: 0, keyVault: 0, certificateFetches: 0, managedIdentity: 0 };
  const details = { snapshotTransactions: 20, mirrorTransactions: 21, mirrorUsersWritten: 2000, swept: 0, seedWallTimeInMs: 1500 };
  const table = { requests: 50, batches: overrides.batches ?? 44, throttled: 0 };
  return [
    run("full-round", 2000, 300, overrides.wallTimeInMs ?? 1100, { tenant: warm, table, round: details, entitiesWritten: 4000, azuriteCpuInMs: 800, processCpuInMs: 400, tenantCpuInMs: 100 }),
    run("full-round", 2000, 0, 900, { tenant: warm, table, round: details, entitiesWritten: 4000 }),
    run("read-ceiling", 2000, 300, 1000),
    run("read-ceiling", 2000, 0, 200),
    run("full-sync", 2000, 300, 1050, { table: { requests: 26, batches: 24, throttled: 0 } }),
  ];
}

describe("the scheduled full round", () => {
  it("bounds Graph requests by ⌈N / 999⌉ + 2", () => {
    expect(fullRoundGraphTarget(100_000)).toBe(103);
    expect(fullRoundGraphTarget(999)).toBe(3);
    expect(fullRoundGraphTarget(1_000_000)).toBe(1_004);
  });

  it("compares each round with the read ceiling and the snapshot alone at its size and latency", () => {
    const rounds = compareFullRounds(summarizeScenarios(roundRuns()));
    expect(rounds).toHaveLength(2);
    expect(rounds[0]).toMatchObject({ userCount: 2000, latencyInMs: 300, graphRequests: 4, graphRequestsTarget: 5, tableRequests: 50, batches: 44, snapshotAloneBatches: 24, snapshotAloneFrom: "full sync", fullRoundInMs: 1100, readCeilingInMs: 1000 });
    expect(rounds[0]!.ratioToReadCeiling).toBeCloseTo(1.1, 10);
    // No full sync at 0 ms: the round's own snapshot transactions stand in for the snapshot alone.
    expect(rounds[1]).toMatchObject({ latencyInMs: 0, snapshotAloneBatches: 20, snapshotAloneFrom: "the round's snapshot" });
    expect(rounds[1]!.ratioToReadCeiling).toBeCloseTo(4.5, 10);
  });

  it("reports the three targets as met, the time judged at the benchmark's latency only", () => {
    const targets = buildResults({ startedAt: new Date(0), finishedAt: new Date(1), options, environment, runs: roundRuns() }).targets;
    const round = targets.filter((t) => t.id.startsWith("full-round-"));
    expect(round.map((t) => [t.id, t.status])).toEqual([
      ["full-round-graph-requests", "met"],
      ["full-round-time", "met"],
      ["full-round-batches", "met"],
    ]);
    expect(round[0]!.measured).toBe("2k at 300 ms: 4 (bound 5); 2k at 0 ms: 4 (bound 5)");
    expect(round[1]!.measured).toBe("2k: 1.1 s vs 1.0 s (1.10 ×)");
    expect(round[1]!.target).toBe("scheduled full round ≤ 1.15 × the read ceiling with 300 ms pages");
    expect(round[2]!.measured).toContain("2k at 300 ms: 44 vs 24 of full sync (1.83 ×)");
    // The warm full-round processes do not count against one token per cold process.
    expect(targets.find((t) => t.id === "cold-process-credentials")).toMatchObject({ status: "met", measured: expect.stringContaining("3 cold processes") });
  });

  it("reports each target not met when its bound is exceeded", () => {
    const targets = buildResults({ startedAt: new Date(0), finishedAt: new Date(1), options, environment, runs: roundRuns({ graph: 6, batches: 60, wallTimeInMs: 1200 }) }).targets;
    expect(targets.filter((t) => t.id.startsWith("full-round-")).map((t) => t.status)).toEqual(["not met", "not met", "not met"]);
    expect(targets.find((t) => t.id === "full-round-time")!.measured).toBe("2k: 1.2 s vs 1.0 s (1.20 ×)");
  });

  it("adds the full round's table to the console and markdown reports", () => {
    const value = buildResults({ startedAt: new Date(0), finishedAt: new Date(1), options, environment, runs: roundRuns() });
    const text = formatConsoleReport(value);
    expect(text).toContain("Scheduled full round (snapshot + mirror in one /users pass");
    expect(text).toMatch(/2,000\s+300 ms\s+1\.10\s+0\.80\s+0\.40\s+0\.10\s+1\.00\s+1\.10\s+4 \(5\)\s+50\s+44\s+24\s+1\.83/);
    expect(text).toMatch(/2,000\s+0 ms\s+0\.90\s+–\s+–\s+–\s+0\.20\s+4\.50\s+4 \(5\)\s+50\s+44\s+20\*\s+2\.20/);
    expect(text).toContain("* the round's own snapshot transactions");
    expect(text).toMatch(/2,000\s+full round\s+300 ms\s+1\s+1\.10/);
    const markdown = renderMarkdownReport(value, "chart.svg");
    expect(markdown).toContain("## Scheduled full round");
    expect(markdown).toContain("| 2,000 | 300 ms | 1.10 | 0.80 | 0.40 | 0.10 | 1.00 | 1.10 | 4 (5) | 50 | 44 | 24 | 1.83 |");
    expect(markdown).toMatch(/\| 2,000 \| full round \| 300 ms \| 1 \| 1\.10 \|.*\| 0\.80 \|\n/);
    expect(markdown).toContain("| Graph requests per scheduled full round ≤ ⌈N / 999⌉ + 2 | ✅ met |");
    expect(formatConsoleReport(results())).not.toContain("Scheduled full round");
    expect(JSON.parse(JSON.stringify(value))).toEqual(value);
  });
});

describe("outputs", () => {
  it("round-trips through JSON unchanged", () => {
    const value = results();
    expect(JSON.parse(JSON.stringify(value))).toEqual(value);
    expect(value.runs).toHaveLength(9);
    expect(value.schemaVersion).toBe(1);
  });

  it("prints the scenario, comparison and target tables", () => {
    const text = formatConsoleReport(results());
    expect(text).toMatch(/Users\s+Scenario\s+Graph latency/);
    expect(text).toMatch(/1,000\s+full sync\s+300 ms\s+3\s+1\.00 \(0\.80–1\.20\)\s+1,000 \(833–1,250\)/);
    expect(text).toMatch(/1,000\s+write ceiling\s+–\s+1\s+0\.50\s+2,000/);
    expect(text).toMatch(/1,000\s+300 ms\s+1,000\s+0\.95\s+4\.0×\s+0\.50/);
    expect(text).toContain("overlap efficiency ≥ 0.9 with 300 ms pages");
  });

  it("writes a markdown report with targets, the chart, the tables and escaped notes", () => {
    const markdown = renderMarkdownReport(results(), "chart.svg");
    expect(markdown).toContain("![Users per second per scenario](chart.svg)");
    expect(markdown).toContain("| overlap efficiency ≥ 0.9 with 300 ms pages | ✅ met | 1k: 0.95 |");
    expect(markdown).toContain("| peak RSS at 1,000,000 users within 10 % of 100,000 | – not measured |");
    expect(markdown).toContain("| 1,000 | naive baseline | 0 ms | 1 | 3.00 | 333 |");
    expect(markdown).toContain("upsertUsers spends 12.5 ms per 999-user page");
    expect(markdown).toContain("- a <note> | with a pipe");
  });

  it("adds the live mirror's incremental cost to the console and markdown reports when it was measured", () => {
    const cost = { graphRequests: 1, itemsRead: 90, tableRequests: 52, tableTransactions: 16, tableEntitiesWritten: 160, tableEntitiesRead: 150, elapsedInMs: 1_250 };
    const incremental = {
      userCount: 100_000,
      changeCount: 100,
      full: { ...cost, mode: "full" as const, graphRequests: 503, itemsRead: 100_502, tableRequests: 8_054, tableTransactions: 8_048, tableEntitiesWritten: 100_502, tableEntitiesRead: 0, elapsedInMs: 60_000 },
      incremental: { ...cost, mode: "incremental" as const, changes: { added: 20, updated: 50, restored: 0, removed: 10 } },
    } as unknown as NonNullable<BenchResults["incremental"]>;
    const withIncremental = buildResults({ startedAt: new Date("2026-01-01T00:00:00Z"), finishedAt: new Date("2026-01-01T00:05:00Z"), options, environment, runs: fakeRuns(), incremental });
    const text = formatConsoleReport(withIncremental);
    expect(text).toContain("Live mirror: 100,000 users, 100 changes between a full round and an incremental round");
    expect(text).toMatch(/incremental\s+1\s+90\s+52\s+16\s+160\s+150\s+1\.25/);
    expect(text).toMatch(/full\s+503\s+100,502\s+8,054/);
    const markdown = renderMarkdownReport(withIncremental, "chart.svg");
    expect(markdown).toContain("## Live mirror (incremental cost)");
    expect(markdown).toContain("| incremental | 1 | 90 | 52 | 16 | 160 | 150 | 1.25 |");
    expect(formatConsoleReport(results())).not.toContain("Live mirror");
  });

  it("lays each table out to the character: padded columns, numbers to the right, the same cells in markdown", () => {
    const text = formatConsoleReport(results());
    expect(text).toContain(
      [
        "Users  Graph latency  Full sync users/s  Overlap efficiency  Speed-up over naive  Share of write ceiling",
        "-----  -------------  -----------------  ------------------  -------------------  ----------------------",
        "1,000         300 ms              1,000                0.95                 4.0×                    0.50",
        "1,000           0 ms              1,667                0.83                 5.0×                    0.83",
      ].join("\n"),
    );
    expect(text).toContain("Target                                                            Status        Measured\n");
    expect(text).toContain("\npeak RSS at 1,000,000 users within 10 % of 100,000                not measured  no run measured it\n");
    const markdown = renderMarkdownReport(results(), "chart.svg");
    expect(markdown).toContain(
      [
        "| Users | Graph latency | Full sync users/s | Overlap efficiency | Speed-up over naive | Share of write ceiling |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 1,000 | 300 ms | 1,000 | 0.95 | 4.0× | 0.50 |",
        "| 1,000 | 0 ms | 1,667 | 0.83 | 5.0× | 0.83 |",
        "",
      ].join("\n"),
    );
    expect(markdown).toContain("| Users | Scenario | Graph latency | Runs | Wall time s | Users/s | Peak RSS MiB | Graph req | Token req | Key Vault req | Table req ($batch) | Azurite CPU s |\n| ---: | :--- | ---: |");
    expect(markdown).toContain("| Target | Status | Measured |\n| :--- | :--- | :--- |\n| overlap efficiency ≥ 0.9 with 300 ms pages | ✅ met | 1k: 0.95 |\n");
  });

  it("escapes pipes in markdown cells", () => {
    expect(markdownTable([{ header: "a|b", align: "left" }], [["x|y"]])).toBe("| a\\|b |\n| :--- |\n| x\\|y |");
  });

  it("draws one bar per scenario, proportional to median users/s, on a nice axis", () => {
    const value = results();
    const svg = renderUsersPerSecondChart(value.scenarios);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const bars = [...svg.matchAll(/<rect x="300" y="[\d.]+" width="([\d.]+)" height="16" fill="(#[0-9a-f]{6})">/g)];
    expect(bars).toHaveLength(value.scenarios.length);
    const widths = bars.map((m) => Number(m[1]));
    // Axis to 10,000 users/s (read ceiling at 0 ms: 10,000); 420 px of bar area.
    expect(niceMaximum(10_000)).toBe(10_000);
    const expected = value.scenarios.map((s) => (s.usersPerSecond.median / 10_000) * 420);
    widths.forEach((w, i) => expect(w).toBeCloseTo(expected[i]!, 1));
    // A whisker for the scenario with three runs only.
    expect([...svg.matchAll(/stroke-width="1.5"/g)]).toHaveLength(1);
    expect(svg).toContain("1,000 · full sync · 300 ms");
    expect(isWellFormed(svg)).toBe(true);
    expect(isWellFormed("<svg><text></svg>")).toBe(false);
  });

  it("escapes text for XML", () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  });

  it("picks axis maxima of 1, 2 or 5 times a power of ten", () => {
    expect(niceMaximum(0)).toBe(1);
    expect(niceMaximum(1234)).toBe(2000);
    expect(niceMaximum(2001)).toBe(5000);
    expect(niceMaximum(38_528)).toBe(50_000);
    expect(niceMaximum(50_001)).toBe(100_000);
  });
});

describe("the bottleneck ratio", () => {
  it("divides each full-sync and full-round run's time by the largest of the read ceiling, the store's busy time and its own CPU time", () => {
    const ratios = bottleneckRatios(roundRuns(), summarizeScenarios(roundRuns()));
    expect(ratios.map((r) => [r.kind, r.latencyInMs, r.bound, Number(r.ratio.toFixed(2))])).toEqual([
      ["full-round", 300, "read ceiling", 1.1],
      ["full-round", 0, "read ceiling", 4.5],
      ["full-sync", 300, "read ceiling", 1.05],
    ]);
    expect(ratios[0]).toMatchObject({ timeInMs: 1100, readCeilingInMs: 1000, storeBusyInMs: 800, ownCpuInMs: 400, boundInMs: 1000 });
    // The store or the process's own CPU is the bound when it is the largest.
    const busy = roundRuns({ wallTimeInMs: 1500 }).map((r) => (r.kind === "full-round" && r.latencyInMs === 300 ? { ...r, azuriteCpuInMs: 1300 } : r));
    expect(bottleneckRatios(busy, summarizeScenarios(busy))[0]).toMatchObject({ bound: "store busy", boundInMs: 1300 });
    const cpu = roundRuns().map((r) => (r.kind === "full-round" && r.latencyInMs === 300 ? { ...r, processCpuInMs: 1050 } : r));
    expect(bottleneckRatios(cpu, summarizeScenarios(cpu))[0]).toMatchObject({ bound: "own CPU", boundInMs: 1050 });
  });

  it("judges the full round at every size and latency against 1.15, and reports the table", () => {
    const value = buildResults({ startedAt: new Date(0), finishedAt: new Date(1), options, environment, runs: roundRuns() });
    expect(BOTTLENECK_RATIO_TARGET).toBe(1.15);
    expect(value.targets.find((t) => t.id === "bottleneck-ratio")).toMatchObject({ status: "not met", measured: "2k at 300 ms: 1.10 (bound: read ceiling); 2k at 0 ms: 4.50 (bound: read ceiling)" });
    expect(formatConsoleReport(value)).toMatch(/full round #1\s+2,000\s+300 ms\s+1\.10\s+1\.00\s+0\.80\s+0\.40\s+read ceiling\s+1\.10/);
    expect(renderMarkdownReport(value, "chart.svg")).toContain("## Bottleneck ratio");
  });
});
