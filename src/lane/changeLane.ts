/**
 * The analytics lane of the live mirrors' change sets (docs/analytics.md): each succeeded mirror
 * run that changed something is written once under `changes/tenant=<id>/object=<object>/run_time=<time>/`
 * (`users`; for the groups' mirror `groups`, and its membership changes `memberships`: groupLane.ts),
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
import { changeLaneColumns, type LaneColumn, type LaneRow } from "./laneColumns.js";
import { changeSetPrefix, writeLaneSet, type LaneSetResult } from "./laneSet.js";

/** What the lane needs from a live mirror (UserMirrorClient in production, of the users or the groups). */
export interface LaneChangeSource {
  listRuns(options: ListMirrorRunsOptions): AsyncIterable<MirrorRunRecord>;
  listChanges(runId: string, options: OperationOptions): AsyncIterable<MirrorChangeRecord>;
}

/** Where and how the lane writes a set, under the run's lease. */
export interface LaneWriteContext {
  container: ContainerClient;
  settings: ExportLaneSettings;
  tenantId: string;
  lease: WriterLease;
  rowsPerGroup: number;
  groupsPerPart: number;
  abortSignal: AbortSignal;
}

export interface ChangeSetOptions extends LaneWriteContext {
  mirror: LaneChangeSource;
}

/** The newest succeeded mirror runs looked at on each run. */
export const CHANGE_RUNS_LOOKED_AT = 5;

/** A run that changed an object. */
export function changedObjects(run: MirrorRunRecord): boolean {
  const c = run.changes;
  return c.added + c.updated + c.restored + c.removed > 0;
}

/** The newest succeeded mirror runs that changed something (`changed`, default: an object), newest first. */
export async function changeSetRuns(mirror: LaneChangeSource, abortSignal: AbortSignal, changed: (run: MirrorRunRecord) => boolean = changedObjects): Promise<MirrorRunRecord[]> {
  const runs: MirrorRunRecord[] = [];
  for await (const run of mirror.listRuns({ maxResults: CHANGE_RUNS_LOOKED_AT, status: "succeeded", abortSignal })) if (changed(run)) runs.push(run);
  return runs;
}

export function changeSetPrefixOf(tenantId: string, run: Pick<MirrorRunRecord, "startedAt">, object = "users"): string {
  return changeSetPrefix(tenantId, object, run.startedAt);
}

/** The lane's stamps of a mirror run's rows (`_snapshotTime` is the run's start). */
export function changeStamps(run: Pick<MirrorRunRecord, "runId" | "startedAt">, tenantId: string): Record<string, unknown> {
  return { _snapshotTime: run.startedAt, _tenantId: tenantId, _runId: run.runId };
}

/** Rows of a change set: each change with the lane's stamps, the object under its kind's noun. */
export async function* changeRows(changes: AsyncIterable<MirrorChangeRecord>, stamps: Record<string, unknown>, noun: "user" | "group" = "user"): AsyncIterableIterator<LaneRow> {
  for await (const change of changes) yield { change: change.change, reason: change.reason ?? null, at: change.at, id: change.id, [noun]: change.user ?? null, ...stamps };
}

/** One change set of a mirror run: under `object`, these columns and rows. */
export interface ChangeSetOf {
  object: string;
  columns: LaneColumn[];
  rows: AsyncIterable<LaneRow>;
}

/** Writes one set of a mirror run's changes (or finds it complete). */
export function writeRunSet(run: MirrorRunRecord, context: LaneWriteContext, set: ChangeSetOf): Promise<LaneSetResult> {
  const { tenantId, abortSignal } = context;
  return writeLaneSet(context.container, context.settings, {
    prefix: changeSetPrefixOf(tenantId, run, set.object),
    manifest: { formatVersion: 1, kind: "changes", tenantId, object: set.object, time: run.startedAt.toISOString(), runId: run.runId, columns: set.columns },
    rows: set.rows,
    fence: context.lease,
    rowsPerGroup: context.rowsPerGroup,
    groupsPerPart: context.groupsPerPart,
    abortSignal,
  });
}

/** Writes one users' mirror run's change set (or finds it complete). */
export function writeChangeSet(run: MirrorRunRecord, options: ChangeSetOptions): Promise<LaneSetResult> {
  const rows = changeRows(options.mirror.listChanges(run.runId, { abortSignal: options.abortSignal }), changeStamps(run, options.tenantId));
  return writeRunSet(run, options, { object: "users", columns: changeLaneColumns(), rows });
}
