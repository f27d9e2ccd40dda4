/**
 * Comparing two snapshots' groups, memberships and managers (issue 29, item 6) in bounded memory,
 * as the users' diff does (snapshotDiff.ts): each side is a stream sorted by its key, merge-joined
 * one item at a time. Groups by id (added, removed, changed with the properties that differ);
 * memberships by (group id, member id) (joined, left); managers by user id (set, cleared, changed).
 * An input out of order is refused rather than compared wrongly.
 */
import type { ManagerLink, MembershipEdge } from "../kinds/membershipPorts.js";
import type { GraphObject } from "../kinds/objectKind.js";
import { UserSyncError } from "../shared/errors.js";
import { diffSortedUsers, type PropertyChange } from "./snapshotDiff.js";

export type GroupChange =
  | { change: "added"; id: string; group: GraphObject }
  | { change: "removed"; id: string; group: GraphObject }
  | { change: "changed"; id: string; properties: Record<string, PropertyChange> };

/** A member joined or left a group (directly); `memberType` as in the snapshot that has the edge. */
export interface MembershipChange extends MembershipEdge {
  change: "joined" | "left";
}

/** A user's manager: `from` absent when it had none (set), `to` absent when it has none now (cleared). */
export interface ManagerChange {
  change: "set" | "cleared" | "changed";
  userId: string;
  from?: string;
  to?: string;
}

/** Groups sorted by id (ascending, no duplicates): added, removed, and changed with their properties. */
export async function* diffSortedGroups(from: AsyncIterable<GraphObject>, to: AsyncIterable<GraphObject>): AsyncIterableIterator<GroupChange> {
  for await (const change of diffSortedUsers(from, to)) {
    if (change.change === "changed") yield change;
    else yield { change: change.change, id: change.id, group: change.user };
  }
}

function compareEdges(a: MembershipEdge, b: MembershipEdge): number {
  if (a.groupId !== b.groupId) return a.groupId < b.groupId ? -1 : 1;
  if (a.memberId !== b.memberId) return a.memberId < b.memberId ? -1 : 1;
  return 0;
}

function outOfOrder(what: string, side: string, previous: string, next: string): UserSyncError {
  // A merge-join on an unsorted input would report wrong changes; refuse instead.
  return new UserSyncError(
    "storage_request_failed",
    `The ${side} snapshot's ${what} are not in ascending order (${previous} then ${next}), so they cannot be compared in bounded memory. Export both snapshots and compare the files instead.`,
  );
}

async function* orderedBy<T>(items: AsyncIterable<T>, compare: (a: T, b: T) => number, name: (item: T) => string, what: string, side: string): AsyncIterableIterator<T> {
  let previous: T | undefined;
  for await (const item of items) {
    if (previous !== undefined && compare(previous, item) >= 0) throw outOfOrder(what, side, name(previous), name(item));
    previous = item;
    yield item;
  }
}

/** The same merge-join over two sorted streams: `only` for an item on one side, `both` for a key on both. */
async function* mergeJoin<T, C>(
  from: AsyncIterable<T>,
  to: AsyncIterable<T>,
  compare: (a: T, b: T) => number,
  only: (item: T, side: "from" | "to") => C | undefined,
  both: (a: T, b: T) => C | undefined,
): AsyncIterableIterator<C> {
  const a = from[Symbol.asyncIterator]();
  const b = to[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : compare(x.value, y.value);
    const change = order < 0 ? only(x.value as T, "from") : order > 0 ? only(y.value as T, "to") : both(x.value as T, y.value as T);
    if (change !== undefined) yield change;
    if (order <= 0) x = await a.next();
    if (order >= 0) y = await b.next();
  }
}

/** Direct memberships sorted by group id, then member id: who joined and who left which group. */
export function diffSortedMemberships(from: AsyncIterable<MembershipEdge>, to: AsyncIterable<MembershipEdge>): AsyncIterableIterator<MembershipChange> {
  const name = (e: MembershipEdge) => `${e.groupId}/${e.memberId}`;
  return mergeJoin(
    orderedBy(from, compareEdges, name, "memberships", "older"),
    orderedBy(to, compareEdges, name, "memberships", "newer"),
    compareEdges,
    (edge, side) => ({ change: side === "from" ? "left" : "joined", groupId: edge.groupId, memberId: edge.memberId, memberType: edge.memberType }),
    () => undefined,
  );
}

/** Managers sorted by user id (one per user): whose manager was set, cleared or changed. */
export function diffSortedManagers(from: AsyncIterable<ManagerLink>, to: AsyncIterable<ManagerLink>): AsyncIterableIterator<ManagerChange> {
  const compare = (a: ManagerLink, b: ManagerLink) => (a.userId === b.userId ? 0 : a.userId < b.userId ? -1 : 1);
  const name = (link: ManagerLink) => link.userId;
  return mergeJoin(
    orderedBy(from, compare, name, "managers", "older"),
    orderedBy(to, compare, name, "managers", "newer"),
    compare,
    (link, side): ManagerChange =>
      side === "from" ? { change: "cleared", userId: link.userId, from: link.managerId } : { change: "set", userId: link.userId, to: link.managerId },
    (a, b): ManagerChange | undefined => (a.managerId === b.managerId ? undefined : { change: "changed", userId: a.userId, from: a.managerId, to: b.managerId }),
  );
}
