/**
 * Renders benchmark results: the console table, the markdown report and a hand-built SVG bar chart
 * of users/s per scenario (median bar, min–max whisker). Pure functions over BenchResults.
 */
import type { DeltaBenchResult, DeltaRunCost } from "./deltaBench.js";
import { LANE_COST_TITLE, laneCostColumns, laneCostRows } from "./laneCost.js";
import type { BenchResults, BottleneckRatio, Comparison, FullRoundComparison, ScenarioSummary, Spread, TargetResult, TargetStatus } from "./summary.js";
import type { ScenarioKind } from "./types.js";

const number = new Intl.NumberFormat("en-US");

export const KIND_LABELS: Record<ScenarioKind, string> = {
  "full-sync": "full sync",
  "full-round": "full round",
  "full-round-lane": "full round + lane",
  "read-ceiling": "read ceiling",
  "write-ceiling": "write ceiling",
  naive: "naive baseline",
};

const KIND_COLORS: Record<ScenarioKind, string> = {
  "full-sync": "#2563eb",
  "full-round": "#7c3aed",
  "full-round-lane": "#db2777",
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

/** A column of a declared table: its header, its alignment, and how to read its cell from one row. */
interface TableColumn<Row> extends Column {
  cell(row: Row): string;
}

/** How cells are laid out: `textTable` for the console, `markdownTable` for the report. */
type Layout = (columns: readonly Column[], rows: readonly string[][]) => string;

/** A declared table over its rows, in one layout. */
function renderTable<Row>(layout: Layout, columns: readonly TableColumn<Row>[], rows: readonly Row[]): string {
  return layout(columns, rows.map((row) => columns.map((column) => column.cell(row))));
}

const count = (value: number) => number.format(value);
const secondsOrDash = (ms: number | undefined) => (ms === undefined ? "–" : formatSeconds(ms));

/** The columns that say which measurement a row is, in every table of results. */
const USERS_COLUMN: TableColumn<{ userCount: number }> = { header: "Users", align: "right", cell: (r) => formatUsers(r.userCount) };
const LATENCY_COLUMN: TableColumn<{ latencyInMs: number | null }> = { header: "Graph latency", align: "right", cell: (r) => formatLatency(r.latencyInMs) };

const SCENARIO_COLUMNS: TableColumn<ScenarioSummary>[] = [
  USERS_COLUMN,
  { header: "Scenario", align: "left", cell: (s) => KIND_LABELS[s.kind] },
  LATENCY_COLUMN,
  { header: "Runs", align: "right", cell: (s) => String(s.samples) },
  { header: "Wall time s", align: "right", cell: (s) => spreadText(s.wallTimeInMs, formatSeconds, s.samples) },
  { header: "Users/s", align: "right", cell: (s) => spreadText(s.usersPerSecond, rate, s.samples) },
  { header: "Peak RSS MiB", align: "right", cell: (s) => spreadText(s.peakRssBytes, formatMiB, s.samples) },
  { header: "Graph req", align: "right", cell: (s) => count(s.requests.graph) },
  { header: "Token req", align: "right", cell: (s) => count(s.requests.token) },
  { header: "Key Vault req", align: "right", cell: (s) => count(s.requests.keyVault) },
  { header: "Table req ($batch)", align: "right", cell: (s) => `${count(s.requests.tableRequests)} (${count(s.requests.tableBatches)})` },
  { header: "Azurite CPU s", align: "right", cell: (s) => secondsOrDash(s.azuriteCpuInMs) },
];

const COMPARISON_COLUMNS: TableColumn<Comparison>[] = [
  USERS_COLUMN,
  LATENCY_COLUMN,
  { header: "Full sync users/s", align: "right", cell: (c) => rate(c.fullSyncUsersPerSecond) },
  { header: "Overlap efficiency", align: "right", cell: (c) => ratio(c.overlapEfficiency) },
  { header: "Speed-up over naive", align: "right", cell: (c) => (c.speedUpOverNaive === undefined ? "–" : `${c.speedUpOverNaive.toFixed(1)}×`) },
  { header: "Share of write ceiling", align: "right", cell: (c) => ratio(c.shareOfWriteCeiling) },
];

const FULL_ROUND_COLUMNS: TableColumn<FullRoundComparison>[] = [
  USERS_COLUMN,
  LATENCY_COLUMN,
  { header: "Full round s", align: "right", cell: (r) => formatSeconds(r.fullRoundInMs) },
  { header: "Azurite CPU s", align: "right", cell: (r) => secondsOrDash(r.azuriteCpuInMs) },
  { header: "Sync CPU s", align: "right", cell: (r) => secondsOrDash(r.processCpuInMs) },
  { header: "Tenant CPU s", align: "right", cell: (r) => secondsOrDash(r.tenantCpuInMs) },
  { header: "Read ceiling s", align: "right", cell: (r) => secondsOrDash(r.readCeilingInMs) },
  { header: "× read ceiling", align: "right", cell: (r) => ratio(r.ratioToReadCeiling) },
  { header: "Graph req (bound)", align: "right", cell: (r) => `${count(r.graphRequests)} (${count(r.graphRequestsTarget)})` },
  { header: "Table req", align: "right", cell: (r) => count(r.tableRequests) },
  { header: "$batch", align: "right", cell: (r) => count(r.batches) },
  { header: "Snapshot alone $batch", align: "right", cell: (r) => `${count(r.snapshotAloneBatches)}${r.snapshotAloneFrom === "full sync" ? "" : "*"}` },
  { header: "× snapshot", align: "right", cell: (r) => (r.snapshotAloneBatches > 0 ? ratio(r.batches / r.snapshotAloneBatches) : "–") },
];

const BOTTLENECK_COLUMNS: TableColumn<BottleneckRatio>[] = [
  { header: "Scenario", align: "left", cell: (r) => `${KIND_LABELS[r.kind]} #${r.repeat}` },
  { header: "Users", align: "right", cell: (r) => formatUsers(r.userCount) },
  { header: "Graph latency", align: "right", cell: (r) => formatLatency(r.latencyInMs) },
  { header: "Time s", align: "right", cell: (r) => formatSeconds(r.timeInMs) },
  { header: "Read ceiling s", align: "right", cell: (r) => secondsOrDash(r.readCeilingInMs) },
  { header: "Store busy s", align: "right", cell: (r) => secondsOrDash(r.storeBusyInMs) },
  { header: "Own CPU s", align: "right", cell: (r) => secondsOrDash(r.ownCpuInMs) },
  { header: "Bound", align: "left", cell: (r) => r.bound },
  { header: "Bottleneck ratio", align: "right", cell: (r) => ratio(r.ratio) },
];

export const BOTTLENECK_TITLE = "Bottleneck ratio = time ÷ max(read ceiling, store busy (Azurite's CPU time), own CPU time), per run (1.00: no longer than its slowest part)";

function bottleneckSection(ratios: readonly BottleneckRatio[] | undefined, layout: Layout): string[] {
  return ratios && ratios.length > 0 ? [renderTable(layout, BOTTLENECK_COLUMNS, ratios)] : [];
}

const FULL_ROUND_TITLE = "Scheduled full round (snapshot + mirror in one /users pass, into a mirror that already holds every user)";
const FULL_ROUND_FOOTNOTE = "* the round's own snapshot transactions: the full sync (the snapshot alone) was not measured at this size and latency.";

function fullRoundSection(rounds: readonly FullRoundComparison[] | undefined, layout: Layout): string[] {
  if (!rounds || rounds.length === 0) return [];
  const lines = [renderTable(layout, FULL_ROUND_COLUMNS, rounds)];
  if (rounds.some((r) => r.snapshotAloneFrom !== "full sync")) lines.push("", FULL_ROUND_FOOTNOTE);
  return lines;
}

/** The targets' table, its status in words (console) or with a mark (markdown). */
function targetColumns(status: (value: TargetStatus) => string): TableColumn<TargetResult>[] {
  return [
    { header: "Target", align: "left", cell: (t) => t.target },
    { header: "Status", align: "left", cell: (t) => status(t.status) },
    { header: "Measured", align: "left", cell: (t) => t.measured },
  ];
}

const STATUS_MARKS: Record<TargetStatus, string> = { met: "✅ met", "not met": "❌ not met", "not measured": "– not measured" };
const TARGET_COLUMNS = targetColumns((status) => status);
const MARKED_TARGET_COLUMNS = targetColumns((status) => STATUS_MARKS[status]);

/** One round of the live mirror benchmark: its name and what it cost. */
interface IncrementalRow {
  round: string;
  cost: DeltaRunCost;
}

const INCREMENTAL_COLUMNS: TableColumn<IncrementalRow>[] = [
  { header: "Mirror round", align: "left", cell: (r) => r.round },
  { header: "Graph req", align: "right", cell: (r) => count(r.cost.graphRequests) },
  { header: "Items read", align: "right", cell: (r) => count(r.cost.itemsRead) },
  { header: "Table req", align: "right", cell: (r) => count(r.cost.tableRequests) },
  { header: "$batch", align: "right", cell: (r) => count(r.cost.tableTransactions) },
  { header: "Entities written", align: "right", cell: (r) => count(r.cost.tableEntitiesWritten) },
  { header: "Entities read", align: "right", cell: (r) => count(r.cost.tableEntitiesRead) },
  { header: "Wall time s", align: "right", cell: (r) => (r.cost.elapsedInMs / 1000).toFixed(2) },
];

function incrementalTitle(result: DeltaBenchResult): string {
  return `Live mirror: ${formatUsers(result.userCount)} users, ${formatUsers(result.changeCount)} changes between a full round and an incremental round`;
}

function incrementalTable(result: DeltaBenchResult, layout: Layout): string {
  const rows: IncrementalRow[] = [
    { round: "full", cost: result.full },
    { round: "incremental", cost: result.incremental },
  ];
  return renderTable(layout, INCREMENTAL_COLUMNS, rows);
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
  const parts = [renderTable(textTable, SCENARIO_COLUMNS, results.scenarios), "", renderTable(textTable, COMPARISON_COLUMNS, results.comparisons)];
  const rounds = fullRoundSection(results.fullRounds, textTable);
  if (rounds.length > 0) parts.push("", FULL_ROUND_TITLE, ...rounds);
  const bottlenecks = bottleneckSection(results.bottlenecks, textTable);
  if (bottlenecks.length > 0) parts.push("", BOTTLENECK_TITLE, ...bottlenecks);
  if (results.laneCosts) parts.push("", LANE_COST_TITLE, textTable(laneCostColumns(), laneCostRows(results.laneCosts)));
  parts.push("", renderTable(textTable, TARGET_COLUMNS, results.targets));
  if (results.incremental) parts.push("", incrementalTitle(results.incremental), incrementalTable(results.incremental, textTable));
  return parts.join("\n");
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
    renderTable(markdownTable, MARKED_TARGET_COLUMNS, results.targets),
    "",
    "## Users per second",
    "",
    `![Users per second per scenario](${chartFileName})`,
    "",
    "## Scenarios",
    "",
    renderTable(markdownTable, SCENARIO_COLUMNS, results.scenarios),
    "",
    "## Comparisons",
    "",
    "Overlap efficiency = max(read ceiling, write ceiling) ÷ full-sync wall time, at the same size and latency (1.0: the sync takes no longer than its slower stage).",
    "",
    renderTable(markdownTable, COMPARISON_COLUMNS, results.comparisons),
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
  const bottlenecks = bottleneckSection(results.bottlenecks, markdownTable);
  if (bottlenecks.length > 0) {
    lines.push(
      "",
      "## Bottleneck ratio",
      "",
      "Each full-sync and full-round run's time ÷ the largest of: the read ceiling (median, same size and latency), the store's busy time (Azurite's CPU time during the run: one single-threaded process, so its CPU time is how long it was busy) and the run's own CPU time. 1.00 means the run took no longer than its slowest part; the sum of the parts over the largest is what no overlap at all would give.",
      "",
      ...bottlenecks,
    );
  }
  if (results.laneCosts) {
    lines.push(
      "",
      "## Analytics lane",
      "",
      `${LANE_COST_TITLE}. Each pair is a full-round run without the lane and, right after it, one with USER_SYNC_EXPORT_STORAGE and USER_SYNC_EXPORT_CONTAINER set (Azurite's blob service). × time = the round's wall time with the lane (the lane included: its row groups are staged as the pages arrive, and the set is finished after the promotion, under the same lease) ÷ without; × RSS = peak RSS with ÷ without. Lane s: the lane's own part of the round after the promotion (committing the parts, the manifest and \`_SUCCESS\`; or reading the snapshot back when the stream could not complete the set), with this process's CPU time and Azurite's table service's meanwhile; MiB written: its Parquet parts.`,
      "",
      markdownTable(laneCostColumns(), laneCostRows(results.laneCosts)),
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
    lines.push("", "## Live mirror (incremental cost)", "", `${incrementalTitle(results.incremental)}.`, "", incrementalTable(results.incremental, markdownTable));
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
