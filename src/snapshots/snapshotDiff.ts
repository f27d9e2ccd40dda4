/**
 * Comparing two snapshots in bounded memory: a user's partition is a function of its id, and each
 * partition is stored sorted by RowKey (the id), so the same partition of two snapshots is
 * merge-joined one user at a time.
 */
import type { GraphUser } from "../graph/types.js";
import { UserSyncError } from "../shared/errors.js";
import { setOwnProperty } from "../shared/ownProperty.js";

export type SnapshotChange =
  | { change: "added"; id: string; user: GraphUser }
  | { change: "removed"; id: string; user: GraphUser }
  | { change: "changed"; id: string; properties: Record<string, PropertyChange> };

/** A property's value before and after; a side is absent when the property was not in that snapshot. */
export interface PropertyChange {
  from?: unknown;
  to?: unknown;
}

/** Deep equality of JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((value, i) => jsonEqual(value, other[i]));
  }
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  const br = b as Record<string, unknown>;
  return ak.every((key) => Object.hasOwn(br, key) && jsonEqual((a as Record<string, unknown>)[key], br[key]));
}

/** The properties that differ between two versions of one user, or undefined when none do. */
export function changedProperties(from: GraphUser, to: GraphUser): Record<string, PropertyChange> | undefined {
  const changes: Record<string, PropertyChange> = {};
  let any = false;
  const keys = new Set([...Object.keys(from), ...Object.keys(to)]);
  for (const key of keys) {
    const inFrom = Object.hasOwn(from, key);
    const inTo = Object.hasOwn(to, key);
    if (inFrom && inTo && jsonEqual(from[key], to[key])) continue;
    const change: PropertyChange = {};
    if (inFrom) change.from = from[key];
    if (inTo) change.to = to[key];
    setOwnProperty(changes, key, change);
    any = true;
  }
  return any ? changes : undefined;
}

async function* ordered(users: AsyncIterable<GraphUser>, side: string): AsyncIterableIterator<GraphUser> {
  let previous: string | undefined;
  for await (const user of users) {
    if (previous !== undefined && !(user.id > previous)) {
      // A merge-join on an unsorted input would report wrong changes; refuse instead.
      throw new UserSyncError(
        "storage_request_failed",
        `The ${side} snapshot's users are not in ascending id order (${previous} then ${user.id}), so they cannot be compared in bounded memory. Export both snapshots and compare the files instead.`,
      );
    }
    previous = user.id;
    yield user;
  }
}

/** Merge-joins two streams of users sorted by id (ascending, no duplicates). */
export async function* diffSortedUsers(from: AsyncIterable<GraphUser>, to: AsyncIterable<GraphUser>): AsyncIterableIterator<SnapshotChange> {
  const a = ordered(from, "older")[Symbol.asyncIterator]();
  const b = ordered(to, "newer")[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value.id < y.value.id)) {
      const user = x.value as GraphUser;
      yield { change: "removed", id: user.id, user };
      x = await a.next();
    } else if (x.done || y.value.id < x.value.id) {
      yield { change: "added", id: y.value.id, user: y.value };
      y = await b.next();
    } else {
      const properties = changedProperties(x.value, y.value);
      if (properties) yield { change: "changed", id: y.value.id, properties };
      x = await a.next();
      y = await b.next();
    }
  }
}
