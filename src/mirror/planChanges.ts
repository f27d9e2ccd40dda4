/**
 * What one delta page does to the mirror, decided from the page and the mirror's current entities
 * of the page's users: pure, so replaying a page against the mirror it produced decides nothing.
 */
import type { DeltaItem } from "../graph/userDeltaClient.js";
import { sameUserValues } from "../graph/canonicalUser.js";
import type { GraphUser } from "../graph/types.js";
import type { MirrorChangeKind, MirrorRemovedReason, MirrorUser, MirrorUserState } from "./mirrorEntity.js";

/** A write to the mirror: the whole user (Replace), or only its state columns (Merge). */
export type MirrorWrite = { mode: "Replace"; mirrorUser: MirrorUser } | { mode: "Merge"; id: string; state: Omit<MirrorUser, "user"> };

/** One line of a run's change set. */
export interface MirrorChange {
  id: string;
  change: MirrorChangeKind;
  /** For removals. */
  reason?: MirrorRemovedReason;
  /** The user after the change (for removals: the last known properties, or only the id). */
  user: GraphUser;
}

export interface PlanContext {
  runId: string;
  /** Whether two objects hold the same values: the mirror's kind's (ObjectKind.sameValues). Default: sameUser. */
  sameValues?: (a: GraphUser, b: GraphUser) => boolean;
  /** The mirror's current full round (the mark new writes carry). */
  round: string;
  now: Date;
}

export interface PagePlan {
  writes: MirrorWrite[];
  changes: MirrorChange[];
  /** Entries that changed nothing (a repeat, a replay). */
  unchanged: number;
}

/** Keeps the last entry of each id (Graph can repeat a user within a page). Order: last occurrence. */
export function lastPerId(items: readonly DeltaItem[]): DeltaItem[] {
  const byId = new Map<string, DeltaItem>();
  for (const item of items) {
    const id = item.kind === "user" ? item.user.id : item.id;
    byId.delete(id);
    byId.set(id, item);
  }
  return [...byId.values()];
}

/** Two changes to one user in one run read as one: added then updated is still added, and so on. */
function combine(previous: MirrorChangeKind | undefined, next: MirrorChangeKind): MirrorChangeKind {
  if (next === "updated" && (previous === "added" || previous === "restored")) return previous;
  return next;
}

/**
 * Whether a user from Graph says what the mirror already holds, by value (canonicalUser.ts): `null`
 * and absent are the same and key order does not matter, so a user stored from `/users` (every key,
 * nulls included) and the same user from `/users/delta` (unset properties left out) compare equal,
 * and only users whose selected values changed are counted and logged as updated.
 */
export const sameUser = (a: GraphUser, b: GraphUser): boolean => sameUserValues(a, b);

/**
 * Plans an incremental page. `existing` holds the mirror's entity of each id in `items` that has one.
 * Users whose entity already says the same thing are left alone, which makes replays no-ops.
 */
export function planDeltaPage(items: readonly DeltaItem[], existing: ReadonlyMap<string, MirrorUser>, context: PlanContext): PagePlan {
  const plan: PagePlan = { writes: [], changes: [], unchanged: 0 };
  const same = context.sameValues ?? sameUser;
  for (const item of lastPerId(items)) {
    if (item.kind === "user") {
      const previous = existing.get(item.user.id);
      let kind: MirrorChangeKind;
      if (previous === undefined) kind = "added";
      else if (previous.state !== "present") kind = "restored";
      else if (same(previous.user, item.user)) {
        plan.unchanged += 1;
        continue;
      } else kind = "updated";
      if (previous?.runId === context.runId) kind = combine(previous.change, kind);
      plan.writes.push({ mode: "Replace", mirrorUser: { user: item.user, state: "present", round: context.round, runId: context.runId, change: kind } });
      plan.changes.push({ id: item.user.id, change: kind, user: item.user });
      continue;
    }
    const state: MirrorUserState = item.reason === "changed" ? "softDeleted" : "deleted";
    const previous = existing.get(item.id);
    if (previous?.state === state) {
      plan.unchanged += 1;
      continue;
    }
    const stateColumns = { state, removedAt: context.now, round: previous?.round ?? context.round, runId: context.runId, change: "removed" as const };
    if (previous === undefined) {
      // Never seen (added and removed between runs): a tombstone with the id, so the removal is on record.
      plan.writes.push({ mode: "Replace", mirrorUser: { user: { id: item.id }, ...stateColumns } });
    } else {
      // Merge: the last known properties stay; nothing is silently erased.
      plan.writes.push({ mode: "Merge", id: item.id, state: stateColumns });
    }
    plan.changes.push({ id: item.id, change: "removed", reason: item.reason, user: previous?.user ?? { id: item.id } });
  }
  return plan;
}
