/** The run report's page: self-contained, every chart present and drawn from the run records, no user data. */
import { describe, expect, it } from "vitest";
import type { MirrorRunRecord } from "../../src/mirror/userMirrorClient.js";
import { daysOf, renderReport } from "../../src/report/htmlReport.js";
import { readRunHistory, type RunHistory } from "../../src/report/runHistory.js";
import { niceScale } from "../../src/report/svgCharts.js";
import type { SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";

const NOW = new Date("2026-03-10T12:00:00Z");
const H = 3_600_000;
const UPN = "adele.vance@contoso.example";

function snapshotRun(startedAt: Date, status: SyncRunRecord["status"], users: number): SyncRunRecord {
  return {
    runId: `${startedAt.toISOString().replace(/[-:.]/g, "")}-abcdef`,
    snapshotId: "s",
    status,
    trigger: "timer",
    startedAt,
    endedAt: new Date(startedAt.getTime() + 90_000),
    select: ["id"],
    partitionCount: 8,
    stats: { pages: 1, usersRead: users, entitiesWritten: users, transactions: 3, counters: { graphRequests: 2, graphThrottled: 1, graphWaitedInMs: 4000 }, skipped: [{ id: "x", reason: UPN }] },
    ...(status === "failed" ? { error: `Graph refused ${UPN}` } : {}),
  };
}

function mirrorRun(startedAt: Date, mode: "full" | "incremental", changes: Partial<MirrorRunRecord["changes"]>): MirrorRunRecord {
  return {
    runId: "r",
    status: "succeeded",
    mode,
    reason: mode === "full" ? "firstRound" : "deltaLink",
    trigger: "timer",
    startedAt,
    endedAt: new Date(startedAt.getTime() + 2_000),
    select: ["id"],
    pages: 1,
    itemsRead: 5,
    usersWritten: mode === "full" ? 1000 : 0,
    changes: { added: 0, updated: 0, restored: 0, removed: 0, unchanged: 0, ...changes },
    swept: 0,
    counters: { graphRequests: 1 },
  };
}

async function* newestFirst<T extends { startedAt: Date }>(runs: T[]): AsyncIterableIterator<T> {
  yield* [...runs].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
}

async function history(days = 7): Promise<RunHistory> {
  const snapshots = [snapshotRun(new Date(NOW.getTime() - 50 * H), "succeeded", 1000), snapshotRun(new Date(NOW.getTime() - 26 * H), "failed", 10), snapshotRun(new Date(NOW.getTime() - 2 * H), "succeeded", 1002)];
  const mirrors = [
    mirrorRun(new Date(NOW.getTime() - 49 * H), "full", {}),
    mirrorRun(new Date(NOW.getTime() - 25 * H), "incremental", { added: 3, updated: 5, removed: 1 }),
    mirrorRun(new Date(NOW.getTime() - 1 * H), "incremental", { added: 1, restored: 1 }),
    mirrorRun(new Date(NOW.getTime() - 30 * 24 * H), "incremental", { added: 99 }), // outside the period
  ];
  return readRunHistory(
    {
      listSnapshotRuns: () => newestFirst(snapshots),
      listMirrorRuns: () => newestFirst(mirrors),
      latestSnapshot: async () => ({ completedAt: new Date(NOW.getTime() - 2 * H), userCount: 1002 }),
      mirrorSavedAt: async () => new Date(NOW.getTime() - H),
      certificateNotAfter: async () => new Date(NOW.getTime() + 20 * 24 * H),
    },
    { days, now: NOW },
  );
}

describe("readRunHistory", () => {
  it("reads the period's runs of both lists, oldest first, and stops at older ones", async () => {
    const h = await history();
    expect(h.runs.map((r) => r.kind)).toEqual(["snapshot", "full", "snapshot", "incremental", "snapshot", "incremental"]);
    expect(h.runs.map((r) => r.outcome)).toEqual(["succeeded", "succeeded", "failed", "succeeded", "succeeded", "succeeded"]);
    expect(h.runs[0]).toMatchObject({ usersRead: 1000, graphThrottled: 1, graphWaitedInSeconds: 4, durationInSeconds: 90 });
  });
});

describe("renderReport", () => {
  it("is one self-contained page: no script, no external asset, a restrictive content policy", async () => {
    const html = renderReport(await history());
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    // The only URL is the SVG namespace.
    expect(html.match(/https?:\/\/[^\s"']+/g)?.every((u) => u === "http://www.w3.org/2000/svg")).toBe(true);
    expect(html).toContain(`content="default-src 'none'`);
  });

  it("draws the workbook's charts from the runs", async () => {
    const html = renderReport(await history());
    const charts = [...html.matchAll(/<svg [^>]*data-chart="([a-z-]+)"/g)].map((m) => m[1]);
    expect(charts).toEqual(["outcomes", "duration-snapshot", "duration-full", "duration-incremental", "users", "changes", "throttled", "waited"]);
    const chart = (id: string) => html.slice(html.indexOf(`data-chart="${id}"`), html.indexOf("</svg>", html.indexOf(`data-chart="${id}"`)));
    // Outcomes: 3 days with runs; one failed snapshot.
    expect(chart("outcomes").match(/<rect class="bar"/g)).toHaveLength(4); // 3 succeeded stacks + 1 failed segment
    expect(chart("outcomes")).toContain("failed: 1");
    // Joiners/movers/leavers: incremental rounds only; the run outside the period is not drawn.
    expect(chart("changes")).toContain("joiners (added): 3");
    expect(chart("changes")).toContain("movers (updated): 5");
    expect(chart("changes")).toContain("leavers (removed): 1");
    expect(chart("changes")).not.toContain("99");
    expect(chart("users").match(/<circle class="point"/g)).toHaveLength(3); // two complete snapshots, one full round
    // Each kind's durations in its own panel (its own axis).
    const durations = ["snapshot", "full", "incremental"].map((k) => chart(`duration-${k}`).match(/<circle class="point"/g)?.length ?? 0);
    expect(durations.reduce((a, b) => a + b, 0)).toBe(6);
    expect(durations.every((n) => n > 0)).toBe(true);
    // Throttling: the count and the seconds on their own axes; counts tick in whole numbers.
    expect(chart("throttled")).toContain("429 answers: 1");
    expect(chart("throttled")).not.toContain("seconds waited");
    expect(chart("waited")).toContain("seconds waited");
    for (const id of ["outcomes", "changes", "throttled", "users"]) expect([...chart(id).matchAll(/<text class="tick" x="[^"]*" y="[^"]*" text-anchor="end">([^<]*)</g)].every((m) => /^[\d,k]+$/.test(m[1]!)), id).toBe(true);
    expect(html).toContain("Last success");
    expect(html).toContain("Last failure");
    expect(html).toContain("Certificate expires in");
    expect(html).toContain("20 days");
  });

  it("holds no user data: run errors and skipped users stay out", async () => {
    const html = renderReport(await history());
    expect(html).not.toContain(UPN);
    expect(html).not.toContain("adele");
  });

  it("an empty store: every chart still drawn, tiles say none yet", () => {
    const html = renderReport({ generatedAt: NOW, days: 3, runs: [], truncated: false });
    expect(html.match(/<svg /g)).toHaveLength(8);
    expect(html).toContain("none yet");
    expect(html).not.toContain("NaN");
  });

  it("days are UTC dates ending today", async () => {
    expect(daysOf(await history(3))).toEqual(["2026-03-08", "2026-03-09", "2026-03-10"]);
  });
});

describe("niceScale", () => {
  it("rounds the maximum up to four even steps", () => {
    expect(niceScale(0)).toEqual({ min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] });
    expect(niceScale(7)).toEqual({ min: 0, max: 8, ticks: [0, 2, 4, 6, 8] });
    expect(niceScale(1002).max).toBe(1200);
  });

  it("counts get whole steps: one run is 0 and 1, not quarters", () => {
    expect(niceScale(1, { integer: true })).toEqual({ min: 0, max: 1, ticks: [0, 1] });
    expect(niceScale(0, { integer: true })).toEqual({ min: 0, max: 1, ticks: [0, 1] });
    expect(niceScale(3, { integer: true }).ticks).toEqual([0, 1, 2, 3]);
  });

  it("from near the smallest value: a change of 168 users in 48,000 spans the axis", () => {
    const scale = niceScale(48_000, { integer: true, min: 47_832 });
    expect(scale.min).toBeGreaterThan(47_000);
    expect(scale.min).toBeLessThanOrEqual(47_832);
    expect(scale.max).toBeGreaterThanOrEqual(48_000);
    expect(scale.max - scale.min).toBeLessThan(500);
  });
});
