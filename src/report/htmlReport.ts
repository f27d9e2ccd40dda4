/**
 * The run report: one self-contained HTML page (inline CSS and SVG, no script, no external asset)
 * with the charts of the Application Insights workbook, drawn from the run records in storage.
 */
import type { ReportRun, RunHistory } from "./runHistory.js";
import { barChart, escapeXml, timeChart } from "./svgCharts.js";
import { pageHead } from "./pageHead.js";

const COLORS = {
  succeeded: "#2e7d32",
  paused: "#f9a825",
  failed: "#c62828",
  running: "#90a4ae",
  snapshot: "#1565c0",
  full: "#6a1b9a",
  incremental: "#00838f",
  added: "#2e7d32",
  updated: "#1565c0",
  removed: "#c62828",
  restored: "#8e24aa",
  throttled: "#c62828",
  waited: "#ef6c00",
} as const;

const DAY = 86_400_000;

/** The UTC days of the period, oldest first, as YYYY-MM-DD. */
export function daysOf(history: RunHistory): string[] {
  const end = Date.UTC(history.generatedAt.getUTCFullYear(), history.generatedAt.getUTCMonth(), history.generatedAt.getUTCDate());
  return Array.from({ length: history.days }, (_, i) => new Date(end - (history.days - 1 - i) * DAY).toISOString().slice(0, 10));
}

function perDay(history: RunHistory, days: string[], value: (run: ReportRun) => number, filter: (run: ReportRun) => boolean = () => true): number[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const values = days.map(() => 0);
  for (const run of history.runs) {
    const i = index.get(run.startedAt.toISOString().slice(0, 10));
    if (i !== undefined && filter(run)) values[i]! += value(run);
  }
  return values;
}

const hours = (ms: number) => ms / 3_600_000;
function age(from: Date | undefined, now: Date): string {
  if (!from) return "none yet";
  const h = hours(now.getTime() - from.getTime());
  return h < 1 ? `${Math.round(h * 60)} min` : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}

function tile(label: string, value: string, state: "ok" | "warn" | "bad" | "none" = "none"): string {
  return `<div class="tile ${state}"><div class="label">${escapeXml(label)}</div><div class="value">${escapeXml(value)}</div></div>`;
}

/** The page's styles (inline: the page loads nothing). */
const REPORT_CSS = `body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
.sub { color: #59636e; margin: 0 0 16px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(190px, 100%), 1fr)); gap: 10px; margin-bottom: 18px; }
.tile { border: 1px solid #d1d9e0; border-left: 5px solid #90a4ae; border-radius: 6px; padding: 8px 10px; }
.tile.ok { border-left-color: #2e7d32; } .tile.warn { border-left-color: #f9a825; } .tile.bad { border-left-color: #c62828; }
.label { color: #59636e; font-size: 12px; } .value { font-size: 16px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(520px, 100%), 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
.grid { stroke: #eaeef2; } .axis { stroke: #8c959f; } .tick, .legend, .unit { font-size: 11px; fill: #59636e; }
.line { stroke-width: 1.5; }
footer { margin-top: 18px; color: #59636e; font-size: 12px; }
/* A phone: the charts take the screen's width (never wider: nothing clipped), their labels drawn larger to stay legible. */
@media (max-width: 600px) { body { margin: 12px; } .tick, .unit { font-size: 16px; } .legend { font-size: 12px; } .point { r: 5px; } .line { stroke-width: 2.5; } }`;

/** The tiles at the top: the last success and failure, the last run, the counts and the ages. */
function reportTiles(history: RunHistory, finished: ReportRun[]): string {
  const now = history.generatedAt;
  const last = finished.at(-1);
  const failures = finished.filter((r) => r.outcome === "failed").length;
  const certDays = history.certificateNotAfter ? (history.certificateNotAfter.getTime() - now.getTime()) / DAY : undefined;
  const lastIncremental = [...history.runs].reverse().find((r) => r.kind === "incremental" && r.outcome === "succeeded");

  const lastSuccess = [...finished].reverse().find((r) => r.outcome === "succeeded");
  const lastFailure = [...finished].reverse().find((r) => r.outcome === "failed");
  return [
    tile("Last success", lastSuccess ? `${lastSuccess.kind}, ${age(lastSuccess.startedAt, now)} ago` : "none in the period", lastSuccess ? "ok" : "bad"),
    tile("Last failure", lastFailure ? `${lastFailure.kind}, ${age(lastFailure.startedAt, now)} ago` : "none in the period", lastFailure ? (lastSuccess && lastSuccess.startedAt > lastFailure.startedAt ? "warn" : "bad") : "ok"),
    tile("Last run", last ? `${last.outcome} (${last.kind}), ${age(last.startedAt, now)} ago` : "none in the period", last ? (last.outcome === "failed" ? "bad" : last.outcome === "paused" ? "warn" : "ok") : "none"),
    tile(`Runs in ${history.days} days`, `${finished.length} (${failures} failed)`, failures > 0 ? "warn" : "ok"),
    tile("Users in the latest snapshot", history.latestSnapshot ? history.latestSnapshot.userCount.toLocaleString("en-US") : "none yet"),
    tile("Snapshot age", age(history.latestSnapshot?.completedAt, now)),
    tile("Mirror age", age(history.mirrorSavedAt, now), history.mirrorSavedAt ? (hours(now.getTime() - history.mirrorSavedAt.getTime()) > 3 ? "warn" : "ok") : "none"),
    tile("Last incremental round", lastIncremental ? `${age(lastIncremental.startedAt, now)} ago` : "none in the period"),
    tile("Certificate expires in", certDays === undefined ? "not known here" : `${Math.floor(certDays)} days`, certDays === undefined ? "none" : certDays < 0 ? "bad" : certDays < 30 ? "warn" : "ok"),
  ].join("");
}

/** The charts of the period's days (one bar per day): run outcomes, joiners/movers/leavers, Graph's 429 answers and the seconds waited for Graph. */
function dailyCharts(history: RunHistory, days: string[]): { outcomes: string; changes: string; throttled: string; waited: string } {
  const outcomes = barChart({
    id: "outcomes",
    title: "Run outcomes per day",
    unit: "runs",
    categories: days.map((d) => d.slice(5)),
    stacked: true,
    integer: true,
    series: (["succeeded", "paused", "failed"] as const).map((o) => ({ name: o, color: COLORS[o], values: perDay(history, days, () => 1, (r) => r.outcome === o) })),
  });
  const incremental = (r: ReportRun) => r.kind === "incremental";
  const changes = barChart({
    id: "changes",
    title: "Joiners, movers and leavers per day (incremental rounds)",
    unit: "users",
    categories: days.map((d) => d.slice(5)),
    stacked: false,
    integer: true,
    series: (["added", "updated", "removed", "restored"] as const).map((k) => ({
      name: k === "added" ? "joiners (added)" : k === "updated" ? "movers (updated)" : k === "removed" ? "leavers (removed)" : "restored",
      color: COLORS[k],
      values: perDay(history, days, (r) => r.changes?.[k] ?? 0, incremental),
    })),
  });
  // A count and a duration: two charts, each with its own axis.
  const throttled = barChart({
    id: "throttled",
    title: "Graph 429 answers per day",
    unit: "answers",
    categories: days.map((d) => d.slice(5)),
    stacked: false,
    integer: true,
    series: [{ name: "429 answers", color: COLORS.throttled, values: perDay(history, days, (r) => r.graphThrottled) }],
  });
  const waited = barChart({
    id: "waited",
    title: "Seconds waited for Graph per day (Retry-After, backoff, pacing)",
    unit: "seconds",
    categories: days.map((d) => d.slice(5)),
    stacked: false,
    series: [{ name: "seconds waited", color: COLORS.waited, values: perDay(history, days, (r) => r.graphWaitedInSeconds) }],
  });
  return { outcomes, changes, throttled, waited };
}

/** The charts over time (one point per run): the durations of each kind of run, and the users. */
function timeCharts(history: RunHistory, days: string[], finished: ReportRun[]): { durations: string[]; users: string } {
  const from = Date.parse(`${days[0]}T00:00:00Z`);
  const to = history.generatedAt.getTime();
  // One panel per kind: a snapshot takes minutes, an incremental round seconds; one axis would flatten the rounds.
  const durationOf = (kind: "snapshot" | "full" | "incremental", title: string) =>
    timeChart({
      id: `duration-${kind}`,
      title,
      unit: "seconds",
      from,
      to,
      series: [{ name: kind, color: COLORS[kind], points: finished.filter((r) => r.kind === kind && r.durationInSeconds !== undefined).map((r) => ({ at: r.startedAt.getTime(), value: r.durationInSeconds! })) }],
    });
  const durations = [durationOf("snapshot", "Snapshot run duration"), durationOf("full", "Full mirror round duration"), durationOf("incremental", "Incremental round duration")];
  const users = timeChart({
    id: "users",
    title: "Users over time (complete snapshots and full mirror rounds)",
    unit: "users",
    from,
    to,
    integer: true,
    // From near the smallest count: a change of a few users in thousands shows.
    fromZero: false,
    series: [
      { name: "snapshot", color: COLORS.snapshot, points: finished.filter((r) => r.kind === "snapshot" && r.outcome === "succeeded").map((r) => ({ at: r.startedAt.getTime(), value: r.usersRead })) },
      { name: "full round", color: COLORS.full, points: finished.filter((r) => r.kind === "full" && r.outcome === "succeeded").map((r) => ({ at: r.startedAt.getTime(), value: r.usersWritten })) },
    ],
  });
  return { durations, users };
}

export function renderReport(history: RunHistory): string {
  const now = history.generatedAt;
  const days = daysOf(history);
  const finished = history.runs.filter((r) => r.outcome !== "running");
  const tiles = reportTiles(history, finished);
  const { outcomes, changes, throttled, waited } = dailyCharts(history, days);
  const { durations, users } = timeCharts(history, days, finished);

  return `${pageHead(`entra-user-sync: runs of the last ${history.days} days`, REPORT_CSS)}<body>
<h1>entra-user-sync: runs of the last ${history.days} days</h1>
<p class="sub">Generated ${escapeXml(now.toISOString().replace("T", " ").slice(0, 19))} UTC from the run records in storage: ${history.runs.length} runs${history.truncated ? " (cut at the report's limit)" : ""}. Times are UTC.</p>
<section class="tiles">${tiles}</section>
<section class="charts">
<figure><figcaption>Run outcomes</figcaption>${outcomes}</figure>
<figure><figcaption>Snapshot run duration</figcaption>${durations[0]}</figure>
<figure><figcaption>Full mirror round duration</figcaption>${durations[1]}</figure>
<figure><figcaption>Incremental round duration</figcaption>${durations[2]}</figure>
<figure><figcaption>Users over time</figcaption>${users}</figure>
<figure><figcaption>Joiners, movers and leavers</figcaption>${changes}</figure>
<figure><figcaption>Graph 429 answers</figcaption>${throttled}</figure>
<figure><figcaption>Seconds waited for Graph</figcaption>${waited}</figure>
</section>
<footer>The same charts as the Application Insights workbook (docs/operations.md). No user data: counts and durations only.</footer>
</body>
</html>
`;
}
