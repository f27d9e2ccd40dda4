/**
 * Records of the live mirror: its delta state (what the next round continues from) and its runs,
 * and how each is kept in the mirror table (the `state` and `runs` partitions). Pure: no I/O.
 * Layout: docs/mirror.md.
 */
import { redact } from "../shared/redact.js";
import { isSyncTrigger, type SyncTrigger } from "../shared/syncTrigger.js";
import { runRowKey } from "../tables/keys.js";
import type { MirrorChange } from "./planChanges.js";

/** The delta state: what the next run continues from. */
export interface MirrorDeltaState {
  /** The saved `@odata.deltaLink`; absent until a first round completes. */
  deltaLink?: string;
  /** The `$select` the token is bound to. */
  select: string[];
  /** The full round whose marks the mirror carries. */
  round: string;
  /** When the last full round completed. */
  fullRoundAt?: Date;
  savedAt: Date;
  /** The run that saved it. */
  runId: string;
}

/** Read with its ETag: saving it again fails if another run saved in between. */
export interface VersionedDeltaState {
  state: MirrorDeltaState;
  etag: string;
  /**
   * Read from where versions before issue 31 kept it (`state`/`delta`): the next save creates it in
   * the runs partition (an insert: a second run migrating it too is refused) and removes the old row.
   */
  legacy?: true;
}

/** The state a save replaces: its ETag as read (undefined: there was none), and where it was read. */
export type SavedDeltaStateVersion = Pick<VersionedDeltaState, "etag" | "legacy"> | undefined;

export type MirrorRunMode = "full" | "incremental";
/**
 * Why a run was full: the first round, a forced run (`run --full`), the full-round schedule, a
 * `$select` change, or a token Graph refused: expired (400 syncStateNotFound), invalid (400
 * SyncStateInvalid), to be resynchronized (400 resyncRequired), badly formed (400), or one it can
 * no longer serve (410 Gone). Incremental runs say `deltaLink`.
 */
export type MirrorRunReason =
  | "firstRound"
  | "forced"
  | "scheduled"
  | "selectChanged"
  | "tokenExpired"
  | "tokenInvalid"
  | "tokenResyncRequired"
  | "tokenMalformed"
  | "tokenGone"
  | "deltaLink";

export interface MirrorChangeCounts {
  added: number;
  updated: number;
  restored: number;
  removed: number;
  /** Entries that changed nothing (repeats, replays). */
  unchanged: number;
}

/** A user the mirror could not hold (over 1 MiB, over 255 properties, an id that is not a key). */
export interface MirrorSkippedUser {
  id: string;
  reason: string;
}

/** Skipped users listed in a mirror run record (`counters.skippedUsers` counts all). */
export const MAX_MIRROR_SKIPPED_RECORDED = 40;
const MAX_ERROR_LENGTH = 2000;

export interface MirrorRunRecord {
  runId: string;
  /** `paused`: a full round riding on a snapshot run that paused at a checkpoint (the next run continues the round). */
  status: "running" | "paused" | "succeeded" | "failed";
  mode: MirrorRunMode;
  reason: MirrorRunReason;
  /** What started the run, when known (absent in records written before it was recorded). */
  trigger?: SyncTrigger;
  startedAt: Date;
  endedAt?: Date;
  select: string[];
  pages: number;
  itemsRead: number;
  /** Users written by a full round. */
  usersWritten: number;
  changes: MirrorChangeCounts;
  /** Users marked `missing` by the sweep of a full round. */
  swept: number;
  counters: Record<string, number>;
  /** The first users the mirror could not store (the count is `counters.skippedUsers`). */
  skipped?: MirrorSkippedUser[];
  error?: string;
  /** The round's mark, for a full round that rides on a snapshot run (its round outlives one invocation). */
  round?: string;
  /** Something the operator should know about the run (e.g. a full round restarted because Graph refused a saved page link). */
  note?: string;
  /** The record's ETag after our last write of it: later writes are conditional on it. */
  etag?: string;
}

/** The counts of a mirror run that has read and written nothing yet (a new record's). */
export function noMirrorRunCounts(): Pick<MirrorRunRecord, "pages" | "itemsRead" | "usersWritten" | "changes" | "swept" | "counters"> {
  return { pages: 0, itemsRead: 0, usersWritten: 0, changes: { added: 0, updated: 0, restored: 0, removed: 0, unchanged: 0 }, swept: 0, counters: {} };
}

export interface MirrorChangeRecord extends MirrorChange {
  /** When the run saw the change. */
  at: Date;
}

export const RUNS_PARTITION = "runs";
/**
 * The delta state's row, in the runs partition: the round's end writes it and the run's record in
 * one entity group transaction, and what is due reads it with the runs left running in one query.
 * It sorts after every run's row (those start with digits).
 */
export const STATE_ROW = "delta";
/** Where versions before issue 31 kept the delta state (`state`/`delta`): read when the runs partition has none. */
export const LEGACY_STATE_PARTITION = "state";

type Keyed = Record<string, unknown> & { partitionKey: string; rowKey: string };

const double = (value: number) => ({ value, type: "Double" as const });
const numberOf = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));

export function encodeDeltaState(state: MirrorDeltaState): Keyed {
  const entity: Keyed = {
    partitionKey: RUNS_PARTITION,
    rowKey: STATE_ROW,
    select: state.select.join(","),
    round: state.round,
    savedAt: state.savedAt,
    runId: state.runId,
    deltaLink: state.deltaLink ?? "",
  };
  if (state.fullRoundAt) entity.fullRoundAt = state.fullRoundAt;
  return entity;
}

export function decodeDeltaState(entity: Record<string, unknown>): MirrorDeltaState {
  const state: MirrorDeltaState = {
    select: String(entity.select ?? "").split(",").filter((s) => s !== ""),
    round: String(entity.round ?? ""),
    savedAt: new Date(entity.savedAt as string),
    runId: String(entity.runId ?? ""),
  };
  if (typeof entity.deltaLink === "string" && entity.deltaLink !== "") state.deltaLink = entity.deltaLink;
  if (entity.fullRoundAt) state.fullRoundAt = new Date(entity.fullRoundAt as string);
  return state;
}

export function encodeMirrorRun(run: MirrorRunRecord): Keyed {
  const entity: Keyed = {
    partitionKey: RUNS_PARTITION,
    rowKey: runRowKey(run.runId)!,
    runId: run.runId,
    status: run.status,
    mode: run.mode,
    reason: run.reason,
    ...(run.trigger ? { trigger: run.trigger } : {}),
    startedAt: run.startedAt,
    select: run.select.join(","),
    pages: double(run.pages),
    itemsRead: double(run.itemsRead),
    usersWritten: double(run.usersWritten),
    added: double(run.changes.added),
    updated: double(run.changes.updated),
    restored: double(run.changes.restored),
    removed: double(run.changes.removed),
    unchanged: double(run.changes.unchanged),
    swept: double(run.swept),
    counters: JSON.stringify(run.counters),
  };
  if (run.skipped && run.skipped.length > 0) entity.skipped = JSON.stringify(run.skipped.slice(0, MAX_MIRROR_SKIPPED_RECORDED));
  if (run.endedAt) entity.endedAt = run.endedAt;
  if (run.round !== undefined) entity.round = run.round;
  if (run.note !== undefined) entity.note = redact(run.note).slice(0, MAX_ERROR_LENGTH);
  if (run.error !== undefined) {
    const safe = redact(run.error);
    entity.error = safe.length <= MAX_ERROR_LENGTH ? safe : `${safe.slice(0, MAX_ERROR_LENGTH - 1)}…`;
  }
  return entity;
}

function parseJson<T>(text: unknown, fallback: T, accept: (value: unknown) => boolean): T {
  try {
    const parsed = JSON.parse(String(text ?? "")) as unknown;
    return accept(parsed) ? (parsed as T) : fallback;
  } catch {
    return fallback;
  }
}

export function decodeMirrorRun(e: Record<string, unknown>): MirrorRunRecord {
  const record: MirrorRunRecord = {
    runId: String(e.runId),
    status: e.status as MirrorRunRecord["status"],
    mode: e.mode as MirrorRunMode,
    reason: e.reason as MirrorRunReason,
    startedAt: new Date(e.startedAt as string),
    select: String(e.select ?? "").split(",").filter((s) => s !== ""),
    pages: numberOf(e.pages),
    itemsRead: numberOf(e.itemsRead),
    usersWritten: numberOf(e.usersWritten),
    changes: { added: numberOf(e.added), updated: numberOf(e.updated), restored: numberOf(e.restored), removed: numberOf(e.removed), unchanged: numberOf(e.unchanged) },
    swept: numberOf(e.swept),
    counters: parseJson<Record<string, number>>(e.counters ?? "{}", {}, (v) => typeof v === "object" && v !== null),
  };
  if (isSyncTrigger(e.trigger)) record.trigger = e.trigger;
  if (e.endedAt) record.endedAt = new Date(e.endedAt as string);
  if (typeof e.error === "string") record.error = e.error;
  if (typeof e.round === "string") record.round = e.round;
  if (typeof e.note === "string") record.note = e.note;
  if (typeof e.etag === "string") record.etag = e.etag;
  if (typeof e.skipped === "string") {
    const skipped = parseJson<MirrorSkippedUser[] | undefined>(e.skipped, undefined, Array.isArray);
    if (skipped) record.skipped = skipped;
  }
  return record;
}
