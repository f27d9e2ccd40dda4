import { describe, expect, it } from "vitest";
import { decideDueWork, hadOccurrenceSince, lastOccurrence, type DueWorkInput } from "../../src/sync/dueWork.js";
import { formatSnapshotSummary } from "../../src/sync/runSummary.js";

const DAILY_2AM = "0 0 2 * * *";
const at = (iso: string) => new Date(iso);

describe("lastOccurrence", () => {
  it("is the latest occurrence at or before now, in UTC", () => {
    expect(lastOccurrence(DAILY_2AM, at("2025-03-10T09:00:00Z"))).toEqual(at("2025-03-10T02:00:00Z"));
    expect(lastOccurrence(DAILY_2AM, at("2025-03-10T01:59:59Z"))).toEqual(at("2025-03-09T02:00:00Z"));
    // An occurrence exactly now counts.
    expect(lastOccurrence(DAILY_2AM, at("2025-03-10T02:00:00Z"))).toEqual(at("2025-03-10T02:00:00Z"));
    expect(lastOccurrence("0 30 */6 * * *", at("2025-03-10T13:00:00Z"))).toEqual(at("2025-03-10T12:30:00Z"));
  });

  it("hadOccurrenceSince compares with the last full round", () => {
    expect(hadOccurrenceSince(DAILY_2AM, at("2025-03-10T02:00:05Z"), at("2025-03-10T23:00:00Z"))).toBe(false);
    expect(hadOccurrenceSince(DAILY_2AM, at("2025-03-10T01:59:00Z"), at("2025-03-10T02:15:00Z"))).toBe(true);
    expect(hadOccurrenceSince(DAILY_2AM, undefined, at("2025-03-10T02:15:00Z"))).toBe(true);
  });
});

describe("decideDueWork", () => {
  const base: DueWorkInput = {
    full: false,
    fullSchedule: DAILY_2AM,
    now: at("2025-03-10T10:00:00Z"),
    latestSnapshotStartedAt: at("2025-03-10T02:00:01Z"),
    hasUnfinishedSnapshot: false,
    mirrorFullRoundAt: at("2025-03-10T02:05:00Z"),
  };

  it("runs only the mirror (it decides incremental) between occurrences of the full schedule", () => {
    expect(decideDueWork(base)).toEqual({ snapshot: undefined, mirrorFull: undefined });
  });

  it("runs a snapshot and a full round of the mirror once the full schedule had an occurrence since each", () => {
    const nextDay = { ...base, now: at("2025-03-11T02:00:30Z") };
    expect(decideDueWork(nextDay)).toEqual({ snapshot: "scheduled", mirrorFull: "scheduled" });
    // Each part is tracked on its own: the mirror's full round already ran after the occurrence.
    expect(decideDueWork({ ...nextDay, mirrorFullRoundAt: at("2025-03-11T02:00:10Z") })).toEqual({ snapshot: "scheduled", mirrorFull: undefined });
  });

  it("forces both with --full, continues a stopped snapshot, and writes a first snapshot", () => {
    expect(decideDueWork({ ...base, full: true })).toEqual({ snapshot: "forced", mirrorFull: "forced" });
    expect(decideDueWork({ ...base, hasUnfinishedSnapshot: true }).snapshot).toBe("continuing");
    expect(decideDueWork({ ...base, latestSnapshotStartedAt: undefined }).snapshot).toBe("firstSnapshot");
    // A mirror without a full round yet is left to the mirror (its first round is full anyway).
    expect(decideDueWork({ ...base, mirrorFullRoundAt: undefined }).mirrorFull).toBeUndefined();
  });

  it("starts a snapshot run for a full round of the mirror, which is made in the snapshot's pass", () => {
    // No delta link yet, or one issued for another USER_SYNC_SELECT.
    expect(decideDueWork({ ...base, mirrorNeedsFullRound: true })).toEqual({ snapshot: "mirrorFullRound", mirrorFull: undefined });
    // The mirror's full round is scheduled while the latest snapshot is newer than the occurrence.
    const nextDay = { ...base, now: at("2025-03-11T02:00:30Z"), latestSnapshotStartedAt: at("2025-03-11T02:00:10Z") };
    expect(decideDueWork(nextDay)).toEqual({ snapshot: "mirrorFullRound", mirrorFull: "scheduled" });
    // Any other reason for a snapshot is kept: the round rides on it anyway.
    expect(decideDueWork({ ...base, hasUnfinishedSnapshot: true, mirrorNeedsFullRound: true }).snapshot).toBe("continuing");
    expect(decideDueWork({ ...base, mirrorNeedsFullRound: false }).snapshot).toBeUndefined();
  });
});

describe("snapshot summaries", () => {
  const run = { runId: "20250310T020000000Z-abcdef", snapshotId: "20250310T020000000Z-abcdef" };
  const stats = { pages: 4, usersRead: 3_996, entitiesWritten: 3_996, transactions: 64, counters: {}, skipped: [] };

  it("says a completed snapshot is now the latest", () => {
    expect(formatSnapshotSummary({ run, stats, outcome: "completed" }, 1234)).toBe(
      "User sync succeeded: 3,996 users in 4 pages, 3,996 entities in 64 transactions, 1.2 s; snapshot 20250310T020000000Z-abcdef is now the latest (run 20250310T020000000Z-abcdef).",
    );
  });

  it("never says a paused snapshot is the latest: it says the next run continues it", () => {
    const text = formatSnapshotSummary({ run, stats, outcome: "paused", pausedBecause: "max_run_duration" }, 480_000);
    expect(text).not.toContain("is now the latest");
    expect(text).toMatch(/^User sync paused at a checkpoint because it reached its maximum run duration \(--max-minutes or USER_SYNC_MAX_RUN_MINUTES\): 3,996 users in 4 pages/);
    expect(text).toContain("snapshot 20250310T020000000Z-abcdef is not complete yet and the next run continues it");
    expect(formatSnapshotSummary({ run, stats, outcome: "paused", pausedBecause: "aborted" }, 1)).toContain("because it was asked to stop");
  });
});
