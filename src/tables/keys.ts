import { randomBytes } from "node:crypto";

/**
 * Snapshot and run ids: `20261121T023300123Z-a1b2c3` (UTC start time to the millisecond, then 6
 * random hex digits). They sort by time, are valid in table keys and in OData string literals, and
 * all have the same length, so no id is a prefix of another.
 */
const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-([0-9a-f]{6})$/;

export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function isRunId(value: string): boolean {
  return timeOfRunId(value) !== undefined;
}

/** The time encoded in an id, or undefined for a value that is not an id. */
export function timeOfRunId(value: string): Date | undefined {
  const m = ID.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  const time = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
  // Date.UTC rolls over (month 13, February 30): accept only a time that reads back the same.
  if (Number.isNaN(time.getTime()) || time.toISOString().replace(/[-:.]/g, "") !== value.slice(0, 19)) return undefined;
  return time;
}

/** Larger than any millisecond timestamp before the year 2286; inverted times keep 13 digits. */
const INVERSION_BASE = 9_999_999_999_999;

/** RowKey of a run: inverted start time, so that a plain query lists the newest first. */
export function runRowKey(runId: string): string | undefined {
  const time = timeOfRunId(runId);
  if (!time) return undefined;
  const inverted = String(INVERSION_BASE - time.getTime()).padStart(13, "0");
  return `${inverted}-${runId.slice(-6)}`;
}

/**
 * Shard of a user within a snapshot: FNV-1a (32-bit) of the object id, modulo the partition count,
 * as 2 hex digits. Stable across processes and versions: the same user always lands in the same shard.
 */
export function shardOf(objectId: string, partitionCount: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < objectId.length; i++) {
    hash ^= objectId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % partitionCount).toString(16).padStart(2, "0");
}

/** PartitionKey of a user in a snapshot. */
export function snapshotPartitionKey(snapshotId: string, objectId: string, partitionCount: number): string {
  return `${snapshotId}-${shardOf(objectId, partitionCount)}`;
}
