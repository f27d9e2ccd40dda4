/**
 * The run history a report draws: numbers only, read from the run records in storage (the
 * snapshot runs table and the mirror's runs). Run records hold error messages and skipped users'
 * ids; neither is carried over, so the report holds no user data.
 */
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";

export type ReportRunKind = "snapshot" | "full" | "incremental";
export type ReportOutcome = "succeeded" | "paused" | "failed" | "running";

export interface ReportRun {
  kind: ReportRunKind;
  outcome: ReportOutcome;
  trigger: string;
  startedAt: Date;
  /** Absent while a run is running. */
  durationInSeconds?: number;
  usersRead: number;
  usersWritten: number;
  /** The mirror's rounds. */
  changes?: { added: number; updated: number; removed: number; restored: number };
  graphRequests: number;
  graphThrottled: number;
  graphWaitedInSeconds: number;
}

export interface RunHistory {
  generatedAt: Date;
  /** The period drawn: the last `days` days up to generatedAt. */
  days: number;
  /** Oldest first. */
  runs: ReportRun[];
  latestSnapshot?: { completedAt: Date; userCount: number };
  /** When the mirror last completed a round (its delta link was saved). */
  mirrorSavedAt?: Date;
  /** The client certificate's expiry, when known. */
  certificateNotAfter?: Date;
  /** True when the run list was cut at MAX_REPORT_RUNS. */
  truncated: boolean;
}

/** At most this many runs of each kind are read (bounded memory). */
export const MAX_REPORT_RUNS = 20_000;

const counter = (counters: Record<string, number> | undefined, name: string) => (typeof counters?.[name] === "number" ? counters[name] : 0);
const seconds = (startedAt: Date, endedAt: Date | undefined) => (endedAt ? Math.max(0, endedAt.getTime() - startedAt.getTime()) / 1000 : undefined);

export function fromSnapshotRun(run: SyncRunRecord): ReportRun {
  const c = run.stats.counters;
  const outcome: ReportOutcome = run.status === "abandoned" ? "failed" : run.status;
  const duration = seconds(run.startedAt, run.endedAt);
  return {
    kind: "snapshot",
    outcome,
    trigger: run.trigger,
    startedAt: run.startedAt,
    ...(duration !== undefined ? { durationInSeconds: duration } : {}),
    usersRead: run.stats.usersRead,
    usersWritten: run.stats.entitiesWritten,
    graphRequests: counter(c, "graphRequests"),
    graphThrottled: counter(c, "graphThrottled"),
    graphWaitedInSeconds: (counter(c, "graphWaitedInMs") + counter(c, "graphPacedInMs")) / 1000,
  };
}

export function fromMirrorRun(run: MirrorRunRecord): ReportRun {
  const c = run.counters;
  const { added, updated, removed, restored } = run.changes;
  const duration = seconds(run.startedAt, run.endedAt);
  return {
    kind: run.mode,
    outcome: run.status,
    trigger: run.trigger ?? "unknown",
    startedAt: run.startedAt,
    ...(duration !== undefined ? { durationInSeconds: duration } : {}),
    usersRead: run.itemsRead,
    usersWritten: run.mode === "full" ? run.usersWritten : added + updated + removed + restored,
    changes: { added, updated, removed, restored },
    graphRequests: counter(c, "graphRequests"),
    graphThrottled: counter(c, "graphThrottled"),
    graphWaitedInSeconds: (counter(c, "graphWaitedInMs") + counter(c, "graphPacedInMs")) / 1000,
  };
}

export interface RunHistorySources {
  listSnapshotRuns(): AsyncIterable<SyncRunRecord>;
  listMirrorRuns(): AsyncIterable<MirrorRunRecord>;
  latestSnapshot(): Promise<{ completedAt: Date; userCount: number } | undefined>;
  mirrorSavedAt(): Promise<Date | undefined>;
  certificateNotAfter?(): Promise<Date | undefined>;
}

/** Reads the last `days` days of runs (both lists are newest first: reading stops at the first older run). */
export async function readRunHistory(sources: RunHistorySources, options: { days: number; now?: Date }): Promise<RunHistory> {
  const generatedAt = options.now ?? new Date();
  const since = generatedAt.getTime() - options.days * 86_400_000;
  const runs: ReportRun[] = [];
  let truncated = false;
  const take = async <T extends { startedAt: Date }>(list: AsyncIterable<T>, convert: (run: T) => ReportRun) => {
    let n = 0;
    for await (const run of list) {
      if (run.startedAt.getTime() < since) break;
      if (++n > MAX_REPORT_RUNS) {
        truncated = true;
        break;
      }
      runs.push(convert(run));
    }
  };
  await take(sources.listSnapshotRuns(), fromSnapshotRun);
  await take(sources.listMirrorRuns(), fromMirrorRun);
  runs.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const history: RunHistory = { generatedAt, days: options.days, runs, truncated };
  const latest = await sources.latestSnapshot();
  if (latest) history.latestSnapshot = { completedAt: latest.completedAt, userCount: latest.userCount };
  const savedAt = await sources.mirrorSavedAt();
  if (savedAt) history.mirrorSavedAt = savedAt;
  const notAfter = await sources.certificateNotAfter?.();
  if (notAfter) history.certificateNotAfter = notAfter;
  return history;
}
