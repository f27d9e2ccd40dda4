/**
 * The groups part of a snapshot run (USER_SYNC_GROUPS, docs/groups.md): `succeeded` with what the
 * one /groups/delta pass wrote into the snapshot (the mirror's groups round that rode on it is
 * `mirrorRunId`), or `failed` with why (graph_permission_missing: the users' part was still
 * promoted).
 */
export interface SnapshotGroupsPart {
  status: "succeeded" | "failed";
  groups?: number;
  edges?: number;
  mirrorRunId?: string;
  /** The error's code and message (redacted, bounded). */
  errorCode?: string;
  error?: string;
}

/**
 * Where a snapshot run's groups pass stands (docs/groups.md, "What a run does with groups"): saved
 * on the run record after each committed `/groups/delta` page, so that a run continued from its
 * checkpoint continues the pass from `nextLink` with the same round mark (the groups' mirror's
 * full round sweeps what the whole pass did not mark). Removed when the groups part succeeds.
 */
export interface GroupsCheckpoint {
  /** The `@odata.nextLink` after the last committed groups page. */
  nextLink: string;
  /** The round's mark: `_round` of the groups and edges the pass wrote into the mirror. */
  round: string;
  /** The groups' mirror run that wrote the last committed page. */
  mirrorRunId: string;
  /** Pages committed so far, over every run that carried the pass. */
  pages: number;
  /** Groups and edges written into the snapshot so far. */
  groups: number;
  edges: number;
  /** Digests of the links of the newest committed pages (a loop across the pause is still caught). */
  linkDigests?: string[];
}

/** Link digests kept with a groups checkpoint: with the next link, well inside one string column. */
export const MAX_GROUPS_LINK_DIGESTS = 1000;

function isGroupsCheckpoint(value: unknown): boolean {
  const v = value as Partial<Record<keyof GroupsCheckpoint, unknown>> | null;
  return typeof v?.nextLink === "string" && typeof v.round === "string" && typeof v.mirrorRunId === "string" && [v.pages, v.groups, v.edges].every((n) => typeof n === "number");
}

function isGroupsPart(value: unknown): boolean {
  const status = (value as { status?: unknown } | null)?.status;
  return status === "succeeded" || status === "failed";
}

/**
 * Run records of the snapshot store: what a run is, and how it is kept in the runs table (one
 * entity per run, the `latest` pointer and the writer lease in one partition). Pure: no I/O.
 * Layout: docs/storage.md.
 */
import { redact } from "../shared/redact.js";
import { runRowKey } from "../tables/keys.js";

import type { SyncTrigger } from "../shared/syncTrigger.js";

export type { SyncTrigger };
/**
 * `running`: writing (or its process died; the next run resumes or abandons it). `paused`: stopped
 * cleanly at a checkpoint (maximum run duration, or asked to stop); the next run resumes it.
 * `succeeded`: complete. `failed`: stopped by an error. `abandoned`: a dead or paused run that the
 * next run could not resume; its partial data is deleted by retention.
 */
export type SyncRunStatus = "running" | "paused" | "succeeded" | "failed" | "abandoned";

/** A user the store could not hold at all (over 1 MiB, over 255 properties, an id that is not a key). */
export interface SkippedUser {
  id: string;
  reason: string;
}

/** What a run counts. `counters` is an open bag for later measures (throttles, retries, waitedInMs...). */
export interface RunStats {
  pages: number;
  usersRead: number;
  entitiesWritten: number;
  transactions: number;
  counters?: Record<string, number>;
  /** The first skipped users (at most MAX_SKIPPED_RECORDED); `counters.skippedUsers` has the total. */
  skipped?: readonly SkippedUser[];
}

/** Progress saved after a committed page. */
export interface RunCheckpoint {
  /** The `@odata.nextLink` after the last committed page; absent when every page is committed. */
  nextLink?: string;
  /**
   * Digests of the links of the pages committed so far (Graph's linkDigest), so that a resumed pass
   * also stops at a link it read before the pause. The newest MAX_LINK_DIGESTS are kept.
   */
  linkDigests?: string[];
  /** When the checkpoint was written. */
  at: Date;
}

export interface SyncRunRecord {
  /** Same value as snapshotId: a run writes exactly one snapshot. */
  runId: string;
  snapshotId: string;
  status: SyncRunStatus;
  trigger: SyncTrigger;
  startedAt: Date;
  endedAt?: Date;
  /** The Graph properties the run read. */
  select: string[];
  /** Partitions the snapshot's users are spread over. */
  partitionCount: number;
  stats: RunStats & { counters: Record<string, number>; skipped: SkippedUser[] };
  /** Why a failed run failed (or an abandoned one was abandoned): redacted, at most MAX_ERROR_LENGTH characters. */
  error?: string;
  /** The last checkpoint: absent until the first page is committed. */
  checkpoint?: RunCheckpoint;
  /** The mirror's full round that rides on this run's pass over `/users` (docs/mirror.md, "One pass"). */
  mirrorRound?: SnapshotMirrorRound;
  /** The groups part of the run (USER_SYNC_GROUPS): what it wrote into the snapshot, or why it failed. */
  groups?: SnapshotGroupsPart;
  /** Where the groups pass stands, while it is under way (every user page is committed then). */
  groupsCheckpoint?: GroupsCheckpoint;
  /** When retention began deleting the snapshot's users (readers refuse it from then on). */
  snapshotDeletedAt?: Date;
  /** When retention finished deleting them. */
  snapshotPurgedAt?: Date;
  /** The analytics lane's last attempt at this snapshot (src/lane; docs/analytics.md), when the lane is set. */
  lane?: LaneRunState;
}

/** What the analytics lane did with a promoted snapshot. */
export interface LaneRunState {
  /** `written`: its files, manifest and `_SUCCESS` are in the container. `failed`: the next run tries again. */
  status: "written" | "failed";
  at: Date;
  /** Attempts so far (failed ones and the one that wrote it). */
  attempts: number;
  files?: number;
  rows?: number;
  /** Where the set is, in the container (`tenant=…/object=users/snapshot_time=…/`). */
  prefix?: string;
  /** Why the last attempt failed: redacted, bounded. */
  error?: string;
}

/**
 * The mirror's full round carried by a snapshot run: written when the run starts, so a run
 * continued from its checkpoint continues the same round (same mark, same delta link).
 */
export interface SnapshotMirrorRound {
  /** The round's mark (`_round` of every mirror user it wrote). */
  round: string;
  /** The delta link Graph gave for "now" (`$deltatoken=latest`) before the pass started. */
  deltaLink: string;
  /** The mirror's `$select` the delta link is bound to. */
  select: string[];
  /** Why the round runs (the mirror run record's reason). */
  reason: string;
}

export interface LatestSnapshot {
  snapshotId: string;
  runId: string;
  completedAt: Date;
  /** Users in the snapshot (entities written by its run). */
  userCount: number;
  /** When the snapshot's run started; absent on a pointer written before the pointer kept it (read the run then). */
  startedAt?: Date;
}

/** What a lease entity says, for messages and for `runs`. */
export interface LeaseInfo {
  owner: string;
  runId?: string;
  trigger: SyncTrigger;
  host: string;
  acquiredAt: Date;
  expiresAt: Date;
}

export const MAX_ERROR_LENGTH = 2000;
/** Link digests kept with a checkpoint: 16 characters each, well inside one 64 KiB string column. */
export const MAX_LINK_DIGESTS = 3000;
/** Skipped users listed in a run record (the total is in `counters.skippedUsers`). */
export const MAX_SKIPPED_RECORDED = 40;
const MAX_SKIPPED_REASON_LENGTH = 400;

/** All runs, the pointer and the lease share one partition, so that promoting a run is one transaction. */
export const RUNS_PARTITION = "runs";
/** RowKey of the pointer; run RowKeys start with a digit, so it sorts after every run. */
export const LATEST_ROW = "latest";
/** RowKey of the writer lease; sorts after `latest`, so run listings never see it. */
export const LEASE_ROW = "lease";

type DoubleValue = { value: number; type: "Double" } | number;
type Keys = { partitionKey: string; rowKey: string };

export type RunEntity = {
  kind: "run";
  runId: string;
  snapshotId: string;
  status: SyncRunStatus;
  trigger: SyncTrigger;
  startedAt: Date;
  endedAt?: Date;
  select: string;
  partitionCount: number;
  pages: DoubleValue;
  usersRead: DoubleValue;
  entitiesWritten: DoubleValue;
  transactions: DoubleValue;
  counters: string;
  error?: string;
  nextLink?: string;
  /** Link digests, comma-separated. */
  linkDigests?: string;
  checkpointAt?: Date;
  skipped?: string;
  /** SnapshotMirrorRound as JSON. */
  mirrorRound?: string;
  /** SnapshotGroupsPart as JSON. */
  groups?: string;
  /** GroupsCheckpoint as JSON. */
  groupsCheckpoint?: string;
  snapshotDeletedAt?: Date;
  snapshotPurgedAt?: Date;
  /** LaneRunState as JSON. */
  lane?: string;
};

export type LeaseEntity = {
  kind: "lease";
  /** Random id of the write that last set the entity (tells a retried write of ours from a takeover). */
  writeId?: string;
  owner: string;
  runId?: string;
  trigger: SyncTrigger;
  /** `<host> (pid <pid>)`, for people; the three below tell whether the holder is a dead process of this machine (leaseHolder.ts). */
  host: string;
  hostName?: string;
  pid?: number;
  processScope?: string;
  acquiredAt: Date;
  expiresAt: Date;
};

export type LatestEntity = {
  kind: "latest";
  snapshotId: string;
  runId: string;
  completedAt: Date;
  userCount: DoubleValue;
  /** When the snapshot's run started (what is due reads it here; pointers written before it was kept lack it). */
  startedAt?: Date;
};

export const double = (value: number): DoubleValue => ({ value, type: "Double" });
export const numberOf = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));

function boundedText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An error text fit for a run record: redacted and bounded. */
export function boundedError(text: string): string {
  return boundedText(redact(text), MAX_ERROR_LENGTH);
}

/** Stats as stored: finite counters only, the first skipped users with bounded, redacted reasons. */
export function normalizeStats(stats: RunStats): SyncRunRecord["stats"] {
  const counters: Record<string, number> = {};
  for (const [name, value] of Object.entries(stats.counters ?? {})) {
    if (typeof value === "number" && Number.isFinite(value)) counters[name] = value;
  }
  const skipped = (stats.skipped ?? []).slice(0, MAX_SKIPPED_RECORDED).map((s) => ({
    id: s.id.slice(0, 200),
    reason: boundedText(redact(s.reason), MAX_SKIPPED_REASON_LENGTH),
  }));
  return {
    pages: stats.pages,
    usersRead: stats.usersRead,
    entitiesWritten: stats.entitiesWritten,
    transactions: stats.transactions,
    counters,
    skipped,
  };
}

export function encodeRun(run: SyncRunRecord): RunEntity & Keys {
  const entity: RunEntity & Keys = {
    partitionKey: RUNS_PARTITION,
    rowKey: runRowKey(run.runId)!,
    kind: "run",
    runId: run.runId,
    snapshotId: run.snapshotId,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    select: run.select.join(","),
    partitionCount: run.partitionCount,
    pages: double(run.stats.pages),
    usersRead: double(run.stats.usersRead),
    entitiesWritten: double(run.stats.entitiesWritten),
    transactions: double(run.stats.transactions),
    counters: JSON.stringify(run.stats.counters),
  };
  if (run.endedAt) entity.endedAt = run.endedAt;
  if (run.error !== undefined) entity.error = run.error;
  if (run.checkpoint) {
    entity.checkpointAt = run.checkpoint.at;
    if (run.checkpoint.nextLink !== undefined) entity.nextLink = run.checkpoint.nextLink;
    if (run.checkpoint.linkDigests && run.checkpoint.linkDigests.length > 0) entity.linkDigests = run.checkpoint.linkDigests.slice(-MAX_LINK_DIGESTS).join(",");
  }
  if (run.stats.skipped.length > 0) entity.skipped = JSON.stringify(run.stats.skipped);
  if (run.mirrorRound) entity.mirrorRound = JSON.stringify(run.mirrorRound);
  if (run.groups) entity.groups = JSON.stringify({ ...run.groups, ...(run.groups.error !== undefined ? { error: boundedError(run.groups.error) } : {}) });
  if (run.groupsCheckpoint) {
    const { linkDigests, ...rest } = run.groupsCheckpoint;
    entity.groupsCheckpoint = JSON.stringify({ ...rest, ...(linkDigests && linkDigests.length > 0 ? { linkDigests: linkDigests.slice(-MAX_GROUPS_LINK_DIGESTS) } : {}) });
  }
  if (run.snapshotDeletedAt) entity.snapshotDeletedAt = run.snapshotDeletedAt;
  if (run.snapshotPurgedAt) entity.snapshotPurgedAt = run.snapshotPurgedAt;
  if (run.lane) entity.lane = encodeLaneState(run.lane);
  return entity;
}

function parseJson<T>(text: string | undefined, fallback: T, accept: (value: unknown) => boolean): T {
  try {
    const parsed = JSON.parse(text ?? "") as unknown;
    return accept(parsed) ? (parsed as T) : fallback;
  } catch {
    return fallback;
  }
}

export function decodeRun(entity: RunEntity): SyncRunRecord {
  const record: SyncRunRecord = {
    runId: entity.runId,
    snapshotId: entity.snapshotId,
    status: entity.status,
    trigger: entity.trigger,
    startedAt: new Date(entity.startedAt),
    select: entity.select ? entity.select.split(",") : [],
    partitionCount: numberOf(entity.partitionCount),
    stats: {
      pages: numberOf(entity.pages),
      usersRead: numberOf(entity.usersRead),
      entitiesWritten: numberOf(entity.entitiesWritten),
      transactions: numberOf(entity.transactions),
      counters: parseJson<Record<string, number>>(entity.counters, {}, (v) => typeof v === "object" && v !== null),
      skipped: parseJson<SkippedUser[]>(entity.skipped, [], Array.isArray),
    },
  };
  if (entity.endedAt) record.endedAt = new Date(entity.endedAt);
  if (entity.error) record.error = entity.error;
  if (entity.checkpointAt) {
    record.checkpoint = { at: new Date(entity.checkpointAt) };
    if (entity.nextLink) record.checkpoint.nextLink = entity.nextLink;
    if (entity.linkDigests) record.checkpoint.linkDigests = entity.linkDigests.split(",");
  }
  if (entity.snapshotDeletedAt) record.snapshotDeletedAt = new Date(entity.snapshotDeletedAt);
  if (entity.snapshotPurgedAt) record.snapshotPurgedAt = new Date(entity.snapshotPurgedAt);
  const mirrorRound = parseJson<SnapshotMirrorRound | undefined>(entity.mirrorRound, undefined, isMirrorRound);
  if (mirrorRound) record.mirrorRound = mirrorRound;
  const lane = parseJson<(Omit<LaneRunState, "at"> & { at: string }) | undefined>(entity.lane, undefined, isLaneState);
  if (lane) record.lane = { ...lane, at: new Date(lane.at) };
  const groups = parseJson<SnapshotGroupsPart | undefined>(entity.groups, undefined, isGroupsPart);
  if (groups) record.groups = groups;
  const groupsCheckpoint = parseJson<GroupsCheckpoint | undefined>(entity.groupsCheckpoint, undefined, isGroupsCheckpoint);
  if (groupsCheckpoint) record.groupsCheckpoint = groupsCheckpoint;
  return record;
}

export function encodeLaneState(lane: LaneRunState): string {
  return JSON.stringify(lane);
}

function isLaneState(value: unknown): boolean {
  const v = value as Partial<Record<keyof LaneRunState, unknown>> | null;
  return typeof v === "object" && v !== null && (v.status === "written" || v.status === "failed") && typeof v.at === "string" && typeof v.attempts === "number";
}

export function decodeLease(entity: LeaseEntity): LeaseInfo {
  return {
    owner: entity.owner,
    ...(entity.runId ? { runId: entity.runId } : {}),
    trigger: entity.trigger,
    host: entity.host,
    acquiredAt: new Date(entity.acquiredAt),
    expiresAt: new Date(entity.expiresAt),
  };
}

function isMirrorRound(value: unknown): boolean {
  const v = value as Partial<SnapshotMirrorRound> | null;
  return typeof v === "object" && v !== null && typeof v.round === "string" && typeof v.deltaLink === "string" && Array.isArray(v.select) && typeof v.reason === "string";
}
