/** A run's facts from its result or its run records: continued snapshots, failed runs, mirror rounds. */
import { describe, expect, it } from "vitest";
import type { MirrorRunRecord } from "../../src/mirror/userMirrorClient.js";
import type { SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { baselineOf, mirrorPartFacts, partsOfFailedRun, partsOfResult } from "../../src/telemetry/runFacts.js";

const T0 = new Date("2026-03-10T02:00:00Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function snapshot(overrides: Partial<SyncRunRecord> = {}, counters: Record<string, number> = {}): SyncRunRecord {
  return {
    runId: "20260310T020000000Z-aaaaaa",
    snapshotId: "20260310T020000000Z-aaaaaa",
    status: "succeeded",
    trigger: "timer",
    startedAt: T0,
    endedAt: at(60),
    select: ["id"],
    partitionCount: 8,
    stats: { pages: 3, usersRead: 3000, entitiesWritten: 3000, transactions: 30, counters: { graphRequests: 4, graphThrottled: 1, graphWaitedInMs: 2000, graphPacedInMs: 500, ...counters }, skipped: [] },
    ...overrides,
  };
}

function mirror(overrides: Partial<MirrorRunRecord> = {}): MirrorRunRecord {
  return {
    runId: "20260310T020100000Z-bbbbbb",
    status: "succeeded",
    mode: "incremental",
    reason: "deltaLink",
    trigger: "timer",
    startedAt: at(61),
    endedAt: at(63),
    select: ["id"],
    pages: 1,
    itemsRead: 7,
    usersWritten: 0,
    changes: { added: 2, updated: 3, restored: 1, removed: 1, unchanged: 0 },
    swept: 0,
    counters: { graphRequests: 1, tableTransactions: 2, skippedUsers: 1 },
    ...overrides,
  };
}

describe("partsOfResult", () => {
  it("a completed snapshot and an incremental round", () => {
    const run = snapshot();
    const parts = partsOfResult({ due: { snapshot: "scheduled", mirrorFull: undefined }, snapshot: { run, stats: run.stats, outcome: "completed", resumed: false }, snapshotElapsedInMs: 60_000, mirror: mirror() });
    expect(parts).toEqual([
      { mode: "snapshot", outcome: "succeeded", durationInSeconds: 60, usersRead: 3000, usersWritten: 3000, usersSkipped: 0, graphRequests: 4, graphThrottled: 1, graphWaitedInSeconds: 2.5, tableTransactions: 30 },
      {
        mode: "incremental",
        outcome: "succeeded",
        durationInSeconds: 2,
        usersRead: 7,
        usersWritten: 7,
        usersSkipped: 1,
        changes: { added: 2, updated: 3, removed: 1, restored: 1 },
        graphRequests: 1,
        graphThrottled: 0,
        graphWaitedInSeconds: 0,
        tableTransactions: 2,
      },
    ]);
  });

  it("a continued snapshot counts only what this run added", () => {
    const before = snapshot({ status: "paused" }, {});
    before.stats = { ...before.stats, usersRead: 1000, entitiesWritten: 1000, transactions: 10, counters: { graphRequests: 1, graphThrottled: 1 } };
    const after = snapshot();
    const [part] = partsOfResult({ due: { snapshot: "continuing", mirrorFull: undefined }, snapshot: { run: after, stats: after.stats, outcome: "completed", resumed: true }, snapshotElapsedInMs: 30_000 }, baselineOf(before));
    expect(part).toMatchObject({ usersRead: 2000, usersWritten: 2000, tableTransactions: 20, graphRequests: 3, graphThrottled: 0 });
  });

  it("a paused snapshot is paused; a full round's users written are its users", () => {
    const run = snapshot();
    const parts = partsOfResult({ due: { snapshot: "scheduled", mirrorFull: "scheduled" }, snapshot: { run, stats: run.stats, outcome: "paused", resumed: false }, mirror: mirror({ mode: "full", reason: "scheduled", usersWritten: 5000 }) });
    expect(parts.map((p) => [p.mode, p.outcome, p.usersWritten])).toEqual([
      ["snapshot", "paused", 3000],
      ["full", "succeeded", 5000],
    ]);
  });
});

describe("partsOfFailedRun", () => {
  it("finds the records the failed run left by start time", () => {
    const parts = partsOfFailedRun({
      startedAt: T0,
      endedAt: at(90),
      snapshotRuns: [snapshot({ status: "failed", endedAt: at(40) }), snapshot({ runId: "older", startedAt: new Date(T0.getTime() - 86_400_000) })],
      mirrorRuns: [mirror({ status: "running", endedAt: undefined })],
    });
    expect(parts.map((p) => [p.mode, p.outcome, p.durationInSeconds])).toEqual([
      ["snapshot", "failed", 40],
      ["incremental", "failed", 29],
    ]);
  });

  it("ignores records of earlier runs", () => {
    const parts = partsOfFailedRun({ startedAt: at(3600), endedAt: at(3601), snapshotRuns: [snapshot()], mirrorRuns: [mirror()] });
    expect(parts).toEqual([]);
  });
});

describe("mirrorPartFacts", () => {
  it("a failed round is failed, with its duration", () => {
    expect(mirrorPartFacts(mirror({ status: "failed" }))).toMatchObject({ outcome: "failed", durationInSeconds: 2 });
  });
});
