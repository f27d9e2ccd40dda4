/**
 * The analytics lane of the live mirror's change sets (docs/analytics.md): each succeeded mirror
 * run that changed something is written once under `changes/tenant=<id>/object=users/run_time=<time>/`,
 * with the same contract as a snapshot's set (parts, then the manifest, then `_SUCCESS`). The newest
 * runs are looked at on every run, so a set whose write failed (or was cut short) is written by a
 * later run, under the same names.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";
import type { MirrorChangeRecord, MirrorRunRecord } from "../mirror/mirrorRecords.js";
import type { ListMirrorRunsOptions } from "../mirror/mirrorRuns.js";
import type { OperationOptions } from "../shared/abort.js";
import type { WriterLease } from "../snapshots/writerLease.js";
import { changeLaneColumns, type LaneRow } from "./laneColumns.js";
import { changeSetPrefix, writeLaneSet, type LaneSetResult } from "./laneSet.js";

/** What the lane needs from the live mirror (UserMirrorClient in production). */
export interface LaneChangeSource {
  listRuns(options: ListMirrorRunsOptions): AsyncIterable<MirrorRunRecord>;
  listChanges(runId: string, options: OperationOptions): AsyncIterable<MirrorChangeRecord>;
}

export interface ChangeSetOptions {
  container: ContainerClient;
  settings: ExportLaneSettings;
  tenantId: string;
  mirror: LaneChangeSource;
  lease: WriterLease;
  rowsPerGroup: number;
  groupsPerPart: number;
  abortSignal: AbortSignal;
}

/** The newest succeeded mirror runs looked at on each run. */
export const CHANGE_RUNS_LOOKED_AT = 5;

/** The newest succeeded mirror runs that changed something, newest first. */
export async function changeSetRuns(mirror: LaneChangeSource, abortSignal: AbortSignal): Promise<MirrorRunRecord[]> {
  const runs: MirrorRunRecord[] = [];
  for await (const run of mirror.listRuns({ maxResults: CHANGE_RUNS_LOOKED_AT, status: "succeeded", abortSignal })) {
    const c = run.changes;
    if (c.added + c.updated + c.restored + c.removed > 0) runs.push(run);
  }
  return runs;
}

export function changeSetPrefixOf(tenantId: string, run: Pick<MirrorRunRecord, "startedAt">): string {
  return changeSetPrefix(tenantId, "users", run.startedAt);
}

/** Rows of a change set: each change with the lane's stamps. */
export async function* changeRows(changes: AsyncIterable<MirrorChangeRecord>, stamps: Record<string, unknown>): AsyncIterableIterator<LaneRow> {
  for await (const change of changes) yield { change: change.change, reason: change.reason ?? null, at: change.at, id: change.id, user: change.user ?? null, ...stamps };
}

/** Writes one mirror run's change set (or finds it complete). */
export function writeChangeSet(run: MirrorRunRecord, options: ChangeSetOptions): Promise<LaneSetResult> {
  const { tenantId, abortSignal } = options;
  const stamps = { _snapshotTime: run.startedAt, _tenantId: tenantId, _runId: run.runId };
  return writeLaneSet(options.container, options.settings, {
    prefix: changeSetPrefixOf(tenantId, run),
    manifest: { formatVersion: 1, kind: "changes", tenantId, object: "users", time: run.startedAt.toISOString(), runId: run.runId, columns: changeLaneColumns() },
    rows: changeRows(options.mirror.listChanges(run.runId, { abortSignal }), stamps),
    fence: options.lease,
    rowsPerGroup: options.rowsPerGroup,
    groupsPerPart: options.groupsPerPart,
    abortSignal,
  });
}
