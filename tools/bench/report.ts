/**
 * Renders benchmark results: the console table, the markdown report and a hand-built SVG bar chart
 * of users/s per scenario (median bar, min–max whisker). Pure functions over BenchResults.
 */
import type { DeltaBenchResult, DeltaRunCost } from "./deltaBench.js";
import type { BenchResults, Comparison, FullRoundComparison, ScenarioSummary, Spread, TargetResult } from "./summary.js";
import type { ScenarioKind } from "./types.js";

const number = new Intl.NumberFormat("en-US");

export const KIND_LABELS: Record<ScenarioKind, string> = {
  "full-sync": "full sync",
  "full-round": "full round",
  "read-ceiling": "read ceiling",
  "write-ceiling": "write ceiling",
  naive: "naive baseline",
};

const KIND_COLORS: Record<ScenarioKind, string> = {
  "full-sync": "#2563eb",
  "full-round": "#7c3aed",
  "read-ceiling": "#16a34a",
  "write-ceiling": "#d97706",
  naive: "#6b7280",
};

export function formatUsers(count: number): string {
  return number.format(count);
}

export function formatLatency(latencyInMs: number | null): string {
  return latencyInMs === null ? "–" : `${latencyInMs} ms`;
}

export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return seconds < 10 ? seconds.toFixed(2) : seconds < 100 ? seconds.toFixed(1) : seconds.toFixed(0);
}

export function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)}`;
}

function spreadText(spread: Spread, format: (value: number) => string, samples: number): string {
  return samples > 1 ? `${format(spread.median)} (${format(spread.min)}–${format(spread.max)})` : format(spread.median);
}

const rate = (value: number) => number.format(Math.round(value));
const ratio = (value: number | undefined, digits = 2) => (value === undefined ? "–" : value.toFixed(digits));

interface Column {
  header: string;
  align: "left" | "right";
}

const SCENARIO_COLUMNS: Column[] = [
  { header: "Users", align: "right" },
  { header: "Scenario", align: "left" },
  { header: "Graph latency", align: "right" },
  { header: "Runs", align: "right" },
  { header: "Wall time s", align: "right" },
  { header: "Users/s", align: "right" },
  { header: "Peak RSS MiB", align: "right" },
  { header: "Graph req", align: "right" },
  { header: "Token req", align: "right" },
  { header: "Key Vault req", align: "right" },
  { header: "Table req ($batch)", align: "right" },
  { header: "Azurite CPU s", align: "right" },
];

function scenarioRow(s: ScenarioSummary): string[] {
  const r = s.requests;
  return [
    formatUsers(s.userCount),
    KIND_LABELS[s.kind],
    formatLatency(s.latencyInMs),
    String(s.samples),
    spreadText(s.wallTimeInMs, formatSeconds, s.samples),
    spreadText(s.usersPerSecond, rate, s.samples),
    spreadText(s.peakRssBytes, formatMiB, s.samples),
    number.format(r.graph),
    number.format(r.token),
    number.format(r.keyVault),
    `${number.format(r.tableRequests)} (${number.format(r.tableBatches)})`,
    s.azuriteCpuInMs === undefined ? "–" : formatSeconds(s.azuriteCpuInMs),
  ];
}

const COMPARISON_COLUMNS: Column[] = [
  { header: "Users", align: "right" },
  { header: "Graph latency", align: "right" },
  { header: "Full sync users/s", align: "right" },
  { header: "Overlap efficiency", align: "right" },
  { header: "Speed-up over naive", align: "right" },
  { header: "Share of write ceiling", align: "right" },
];

function comparisonRow(c: Comparison): string[] {
  return [
    formatUsers(c.userCount),
    formatLatency(c.latencyInMs),
    rate(c.fullSyncUsersPerSecond),
    ratio(c.overlapEfficiency),
    c.speedUpOverNaive === undefined ? "–" : `${c.speedUpOverNaive.toFixed(1)}×`,
    ratio(c.shareOfWriteCeiling),
  ];
}

const FULL_ROUND_COLUMNS: Column[] = [
  { header: "Users", align: "right" },
  { header: "Graph latency", align: "right" },
  { header: "Full round s", align: "right" },
  { header: "Azurite CPU s", align: "right" },
  { header: "Sync CPU s", align: "right" },
  { header: "Tenant CPU s", align: "right" },
  { header: "Read ceiling s", align: "right" },
  { header: "× read ceiling", align: "right" },
  { header: "Graph req (bound)", align: "right" },
  { header: "Table req", align: "right" },
  { header: "$batch", align: "right" },
  { header: "Snapshot alone $batch", align: "right" },
  { header: "× snapshot", align: "right" },
];

function fullRoundRow(r: FullRoundComparison): string[] {
  return [
    formatUsers(r.userCount),
    formatLatency(r.latencyInMs),
    formatSeconds(r.fullRoundInMs),
    r.azuriteCpuInMs === undefined ? "–" : formatSeconds(r.azuriteCpuInMs),
    r.processCpuInMs === undefined ? "–" : formatSeconds(r.processCpuInMs),
    r.tenantCpuInMs === undefined ? "–" : formatSeconds(r.tenantCpuInMs),
    r.readCeilingInMs === undefined ? "–" : formatSeconds(r.readCeilingInMs),
    ratio(r.ratioToReadCeiling),
    `${number.format(r.graphRequests)} (${number.format(r.graphRequestsTarget)})`,
    number.format(r.tableRequests),
    number.format(r.batches),
    `${number.format(r.snapshotAloneBatches)}${r.snapshotAloneFrom === "full sync" ? "" : "*"}`,
    r.snapshotAloneBatches > 0 ? ratio(r.batches / r.snapshotAloneBatches) : "–",
  ];
}

const FULL_ROUND_TITLE = "Scheduled full round (snapshot + mirror in one /users pass, into a mirror that already holds every user)";
const FULL_ROUND_FOOTNOTE = "* the round's own snapshot transactions: the full sync (the snapshot alone) was not measured at this size and latency.";

function fullRoundSection(rounds: readonly FullRoundComparison[] | undefined, table: (columns: readonly Column[], rows: readonly string[][]) => string): string[] {
  if (!rounds || rounds.length === 0) return [];
  const lines = [table(FULL_ROUND_COLUMNS, rounds.map(fullRoundRow))];
  if (rounds.some((r) => r.snapshotAloneFrom !== "full sync")) lines.push("", FULL_ROUND_FOOTNOTE);
  return lines;
}

const TARGET_COLUMNS: Column[] = [
  { header: "Target", align: "left" },
  { header: "Status", align: "left" },
  { header: "Measured", align: "left" },
];

function targetRow(t: TargetResult): string[] {
  return [t.target, t.status, t.measured];
}

/** A fixed-width text table. */
export function textTable(columns: readonly Column[], rows: readonly string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const pad = (text: string, i: number) => (columns[i]!.align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: readonly string[]) => cells.map((cell, i) => pad(cell, i)).join("  ").trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(columns: readonly Column[], rows: readonly string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  return [
    `| ${columns.map((c) => cell(c.header)).join(" | ")} |`,
    `| ${columns.map((c) => (c.align === "right" ? "---:" : ":---")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

/** What `npm run bench` prints at the end. */
export function formatConsoleReport(results: BenchResults): string {
  const parts = [
    textTable(SCENARIO_COLUMNS, results.scenarios.map(scenarioRow)),
    "",
    textTable(COMPARISON_COLUMNS, results.comparisons.map(comparisonRow)),
  ];
  const rounds = fullRoundSection(results.fullRounds, textTable);
  if (rounds.length > 0) parts.push("", FULL_ROUND_TITLE, ...rounds);
  parts.push("", textTable(TARGET_COLUMNS, results.targets.map(targetRow)));
  if (results.incremental) parts.push("", incrementalTitle(results.incremental), textTable(INCREMENTAL_COLUMNS, incrementalRows(results.incremental)));
  return parts.join("\n");
}

const INCREMENTAL_COLUMNS: Column[] = [
  { header: "Mirror round", align: "left" },
  { header: "Graph req", align: "right" },
  { header: "Items read", align: "right" },
  { header: "Table req", align: "right" },
  { header: "$batch", align: "right" },
  { header: "Entities written", align: "right" },
  { header: "Entities read", align: "right" },
  { header: "Wall time s", align: "right" },
];

function incrementalTitle(result: DeltaBenchResult): string {
  return `Live mirror: ${formatUsers(result.userCount)} users, ${formatUsers(result.changeCount)} changes between a full round and an incremental round`;
}

function incrementalRows(result: DeltaBenchResult): string[][] {
  const row = (name: string, c: DeltaRunCost): string[] => [
    name,
    formatUsers(c.graphRequests),
    formatUsers(c.itemsRead),
    formatUsers(c.tableRequests),
    formatUsers(c.tableTransactions),
    formatUsers(c.tableEntitiesWritten),
    formatUsers(c.tableEntitiesRead),
    (c.elapsedInMs / 1000).toFixed(2),
  ];
  return [row("full", result.full), row("incremental", result.incremental)];
}

/** bench/results/report.md; `chartFileName` is the SVG written next to it. */
export function renderMarkdownReport(results: BenchResults, chartFileName: string): string {
  const env = results.environment;
  const opts = results.options;
  const lines = [
    "# Benchmark report",
    "",
    `Measured ${results.startedAt} – ${results.finishedAt} with \`npm run bench\` on ${env.cpuCount} × ${env.cpuModel}, ${Math.round(env.totalMemoryBytes / 2 ** 30)} GiB RAM, Node ${env.node} (${env.platform}/${env.arch}); product ${env.productRevision}; Azurite ${env.azuriteVersion}, simulated tenant on loopback HTTPS. Load average ${env.loadAverageAtStart.map((l) => l.toFixed(1)).join(" / ")} at start, ${env.loadAverageAtEnd.map((l) => l.toFixed(1)).join(" / ")} at end (1 / 5 / 15 min).`,
    "",
    `Sizes ${opts.sizes.map(formatUsers).join(", ")} users; Graph latency ${opts.latencyInMs} ms and 0 ms per page; ${opts.repeat} runs per scenario${opts.sizes.includes(1_000_000) ? ` (${opts.millionRepeat} at 1,000,000)` : ""}; naive baseline at ${opts.naiveSizes.map(formatUsers).join(", ") || "no size"}. Product defaults: ${env.partitionCount} partitions per snapshot, ${env.writeConcurrency} transactions in flight, ${env.graphPageSize} users per Graph page.`,
    "",
    "Figures are medians, with min–max over the runs in parentheses. Each run is a fresh process: wall time covers the measured work (a cold token and certificate included), peak RSS is that process's `maxRSS`. Azurite CPU is the CPU time the (single-threaded) Azurite process used meanwhile: when it is close to the wall time, Azurite is what bounds the run.",
    "",
    "## Targets",
    "",
    markdownTable(TARGET_COLUMNS, results.targets.map((t) => [t.target, t.status === "met" ? "✅ met" : t.status === "not met" ? "❌ not met" : "– not measured", t.measured])),
    "",
    "## Users per second",
    "",
    `![Users per second per scenario](${chartFileName})`,
    "",
    "## Scenarios",
    "",
    markdownTable(SCENARIO_COLUMNS, results.scenarios.map(scenarioRow)),
    "",
    "## Comparisons",
    "",
    "Overlap efficiency = max(read ceiling, write ceiling) ÷ full-sync wall time, at the same size and latency (1.0: the sync takes no longer than its slower stage).",
    "",
    markdownTable(COMPARISON_COLUMNS, results.comparisons.map(comparisonRow)),
  ];
  const rounds = fullRoundSection(results.fullRounds, markdownTable);
  if (rounds.length > 0) {
    lines.push(
      "",
      "## Scheduled full round",
      "",
      `${FULL_ROUND_TITLE}: a first run seeds the snapshot and the mirror (not measured), then the run of the full schedule's next occurrence is measured. Graph requests are bounded by ⌈N / 999⌉ + 2; the time is compared with the read ceiling (paging \`/users\`, writing nothing) at the same latency, and the \`$batch\` count with the snapshot alone (the full sync). Where the time goes: the CPU time of Azurite (one single-threaded process), of the syncing process, and of the simulated tenant (building Graph pages) during the round; their sum against twice the wall time says how busy this machine's two cores were.`,
      "",
      ...rounds,
    );
  }
  const writers = results.scenarios.filter((s) => s.writerSyncInMsPerPage !== undefined);
  if (writers.length > 0) {
    lines.push(
      "",
      "## Where the time goes",
      "",
      ...writers.map(
        (s) =>
          `- ${formatUsers(s.userCount)} users: upsertUsers spends ${s.writerSyncInMsPerPage!.toFixed(1)} ms per ${env.graphPageSize}-user page encoding and planning synchronously, before its first request; the sync asks for the next Graph page first, so this overlaps the read.`,
      ),
    );
  }
  if (results.incremental) {
    lines.push("", "## Live mirror (incremental cost)", "", `${incrementalTitle(results.incremental)}.`, "", markdownTable(INCREMENTAL_COLUMNS, incrementalRows(results.incremental)));
  }
  if (results.notes.length > 0) lines.push("", "## Notes", "", ...results.notes.map((n) => `- ${n}`));
  return `${lines.join("\n")}\n`;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceMaximum(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** Horizontal bars of median users/s per scenario, with a min–max whisker. */
export function renderUsersPerSecondChart(scenarios: readonly ScenarioSummary[]): string {
  const labelWidth = 300;
  const barWidth = 420;
  const valueWidth = 110;
  const rowHeight = 24;
  const top = 44;
  const bottom = 36;
  const width = labelWidth + barWidth + valueWidth;
  const height = top + Math.max(1, scenarios.length) * rowHeight + bottom;
  const axisMax = niceMaximum(Math.max(0, ...scenarios.map((s) => s.usersPerSecond.max)));
  const x = (value: number) => labelWidth + (value / axisMax) * barWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<title>Users per second per scenario (median, min–max whisker)</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${labelWidth}" y="20" font-size="14" font-weight="600" fill="#111827">Users per second (median; whisker: min–max)</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (axisMax * i) / 4;
    const gx = x(value);
    parts.push(`<line x1="${gx.toFixed(1)}" y1="${top - 6}" x2="${gx.toFixed(1)}" y2="${height - bottom + 4}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${gx.toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle" fill="#4b5563">${escapeXml(number.format(value))}</text>`);
  }
  scenarios.forEach((s, i) => {
    const y = top + i * rowHeight;
    const label = `${formatUsers(s.userCount)} · ${KIND_LABELS[s.kind]}${s.latencyInMs === null ? "" : ` · ${s.latencyInMs} ms`}`;
    const median = s.usersPerSecond.median;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" fill="#111827">${escapeXml(label)}</text>`);
    parts.push(
      `<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(0, x(median) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${KIND_COLORS[s.kind]}"><title>${escapeXml(`${label}: ${rate(median)} users/s`)}</title></rect>`,
    );
    if (s.samples > 1) {
      const wy = y + rowHeight / 2;
      parts.push(`<line x1="${x(s.usersPerSecond.min).toFixed(1)}" y1="${wy}" x2="${x(s.usersPerSecond.max).toFixed(1)}" y2="${wy}" stroke="#111827" stroke-width="1.5"/>`);
    }
    parts.push(`<text x="${labelWidth + barWidth + 8}" y="${y + 16}" fill="#111827">${escapeXml(rate(median))}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
