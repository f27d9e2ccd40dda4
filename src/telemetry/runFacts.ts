/**
 * What one run did, as numbers only: built from a finished run's result (DueRunResult) or, when the
 * run failed, from the run records it left in storage. Nothing here can hold user data: every field
 * is a count, a duration or a fixed word.
 */
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { RunStats } from "../snapshots/runRecords.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import type { DueRunResult } from "../sync/userSyncService.js";
import type { ChangeKind, RunMode, RunOutcome } from "./metricNames.js";

/** One part of a run: the snapshot, or the mirror's round. */
export interface RunPartFacts {
  mode: RunMode;
  outcome: RunOutcome;
  durationInSeconds: number;
  usersRead: number;
  usersWritten: number;
  usersSkipped: number;
  /** The mirror's rounds only. */
  changes?: Record<ChangeKind, number>;
  graphRequests: number;
  graphThrottled: number;
  graphWaitedInSeconds: number;
  tableTransactions: number;
}

export interface RunFacts {
  trigger: SyncTrigger;
  /** Multi-tenant mode: the tenant the run synced. */
  tenantId?: string;
  parts: RunPartFacts[];
  /** Hours since the latest complete snapshot completed (absent: none yet). */
  snapshotAgeInHours?: number;
  /** Hours since the mirror's delta link was last saved (absent: no round completed yet). */
  mirrorAgeInHours?: number;
  /** Days until the client certificate expires (absent: not the keyVaultCertificate mode, or unknown). */
  certificateDaysToExpiry?: number;
  /** Users in the latest complete snapshot (absent: none yet). */
  snapshotUsers?: number;
  /** Days since the saved delta link was issued (absent: no round completed yet). */
  deltaTokenAgeInDays?: number;
  /** A run that threw: its error type (src/telemetry/errorTypes.ts), on every failed part. */
  errorType?: string;
  /** The run found another run holding the writer lease and did nothing (no parts). */
  leaseContended?: boolean;
}

/** Counts of a snapshot run that another run had already made before this one continued it. */
export interface SnapshotBaseline {
  runId: string;
  usersRead: number;
  entitiesWritten: number;
  transactions: number;
  counters: Record<string, number>;
}

const count = (counters: Record<string, number> | undefined, name: string) => {
  const value = counters?.[name];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
};
const nonNegative = (value: number) => (Number.isFinite(value) && value > 0 ? value : 0);

function graphFacts(counters: Record<string, number>, before: Record<string, number> = {}) {
  const delta = (name: string) => nonNegative(count(counters, name) - count(before, name));
  return {
    graphRequests: delta("graphRequests"),
    graphThrottled: delta("graphThrottled"),
    graphWaitedInSeconds: (delta("graphWaitedInMs") + delta("graphPacedInMs")) / 1000,
  };
}

export function baselineOf(run: SyncRunRecord): SnapshotBaseline {
  return { runId: run.runId, usersRead: run.stats.usersRead, entitiesWritten: run.stats.entitiesWritten, transactions: run.stats.transactions, counters: { ...run.stats.counters } };
}

/**
 * A snapshot run's part of this run. A continued run's record holds the counts of every part so
 * far: the counts this process found before it started (`baseline`) are taken off.
 */
export function snapshotPartFacts(run: { runId: string; stats: RunStats }, outcome: RunOutcome, durationInMs: number, baseline?: SnapshotBaseline): RunPartFacts {
  const before = baseline?.runId === run.runId ? baseline : undefined;
  const stats = { ...run.stats, counters: run.stats.counters ?? {} };
  return {
    mode: "snapshot",
    outcome,
    durationInSeconds: nonNegative(durationInMs) / 1000,
    usersRead: nonNegative(stats.usersRead - (before?.usersRead ?? 0)),
    usersWritten: nonNegative(stats.entitiesWritten - (before?.entitiesWritten ?? 0)),
    usersSkipped: nonNegative(count(stats.counters, "skippedUsers") - count(before?.counters, "skippedUsers")),
    ...graphFacts(stats.counters, before?.counters),
    tableTransactions: nonNegative(stats.transactions - (before?.transactions ?? 0)),
  };
}

export function mirrorPartFacts(run: MirrorRunRecord): RunPartFacts {
  const changes = { added: run.changes.added, updated: run.changes.updated, removed: run.changes.removed, restored: run.changes.restored };
  const changed = changes.added + changes.updated + changes.removed + changes.restored;
  return {
    mode: run.mode,
    outcome: run.status === "succeeded" ? "succeeded" : "failed",
    durationInSeconds: run.endedAt ? nonNegative(run.endedAt.getTime() - run.startedAt.getTime()) / 1000 : 0,
    usersRead: run.itemsRead,
    usersWritten: run.mode === "full" ? run.usersWritten : changed,
    usersSkipped: count(run.counters, "skippedUsers"),
    changes,
    ...graphFacts(run.counters),
    tableTransactions: count(run.counters, "tableTransactions"),
  };
}

/** The parts of a run that returned. */
export function partsOfResult(result: DueRunResult, baseline?: SnapshotBaseline): RunPartFacts[] {
  const parts: RunPartFacts[] = [];
  const snapshot = result.snapshot;
  if (snapshot) {
    const outcome: RunOutcome = snapshot.outcome === "completed" ? "succeeded" : "paused";
    parts.push(snapshotPartFacts({ runId: snapshot.run.runId, stats: snapshot.stats }, outcome, result.snapshotElapsedInMs ?? 0, baseline));
  }
  if (result.mirror) parts.push(mirrorPartFacts(result.mirror));
  return parts;
}

/**
 * The parts of a run that threw: the records it left, found by start time (a snapshot run it
 * continued is found by its id). Mirror runs are listed newest first; parts go in the order they ran.
 */
export function partsOfFailedRun(options: { startedAt: Date; endedAt: Date; snapshotRuns: readonly SyncRunRecord[]; mirrorRuns: readonly MirrorRunRecord[]; baseline?: SnapshotBaseline }): RunPartFacts[] {
  const since = options.startedAt.getTime() - 1000;
  const parts: RunPartFacts[] = [];
  const snapshot = options.snapshotRuns.find((run) => run.runId === options.baseline?.runId || run.startedAt.getTime() >= since);
  if (snapshot && snapshot.status !== "running") {
    const outcome: RunOutcome = snapshot.status === "succeeded" ? "succeeded" : snapshot.status === "paused" ? "paused" : "failed";
    const from = Math.max(snapshot.startedAt.getTime(), options.startedAt.getTime());
    parts.push(snapshotPartFacts(snapshot, outcome, (snapshot.endedAt ?? options.endedAt).getTime() - from, options.baseline));
  }
  // Every round the run started: a full round carried by a snapshot that failed, and the round that followed it.
  // The newest is found with the same slack as the snapshot; older ones must have started within the run.
  const started = options.mirrorRuns.filter((run, index) => run.startedAt.getTime() >= (index === 0 ? since : options.startedAt.getTime()));
  for (const mirror of started.reverse()) {
    parts.push(mirrorPartFacts(mirror.status === "running" ? { ...mirror, status: "failed", endedAt: mirror.endedAt ?? options.endedAt } : mirror));
  }
  return parts;
}
