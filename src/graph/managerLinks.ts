/**
 * A user's manager as the users' readers hand it out (USER_SYNC_GROUPS, docs/groups.md, "Managers"):
 * `/users?$expand=manager($select=id)` gives `manager: { "@odata.type", "id" }` on each user that
 * has one; `/users/delta?$select=…,manager` gives `manager@delta: [{ "@odata.type", "id" }]`, with
 * `"@removed"` on the manager a user lost. The manager is a relationship (stored as edges), never a
 * user property: the readers take it off the user before the canonical form.
 */
import type { GraphUser } from "./types.js";

/** The relationship's name in `$select` / `$expand` (Graph's navigation property). */
export const MANAGER_PROPERTY = "manager";
const MANAGER_DELTA = "manager@delta";
/** `$expand` on `/users`: the manager's id only (one more resource unit a page). */
export const MANAGER_EXPAND = "manager($select=id)";

/**
 * Graph's page size with `$expand` on directory objects: at most 100 objects whatever `$top`
 * (Graph's known issue 13635), so the users' reader asks for 100 a page with the manager.
 */
export const EXPAND_MAX_PAGE_SIZE = 100;

/** One user's manager as a page gives it: `managerId` null when the user has none (or lost it). */
export interface ManagerChange {
  userId: string;
  managerId: string | null;
}

/** `select` without the `manager` relationship: the properties a user is stored with. */
export function propertiesOf(select: readonly string[]): readonly string[] {
  return select.some(isManager) ? select.filter((name) => !isManager(name)) : select;
}

function isManager(name: string): boolean {
  return name.toLowerCase() === MANAGER_PROPERTY;
}

function idOf(link: unknown): string | undefined {
  const id = (link as { id?: unknown } | null)?.id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** A `/users` item with `$expand=manager`: its manager (null: none), and the user without it. */
export function takeExpandedManager(user: GraphUser): { user: GraphUser; change: ManagerChange } {
  const { [MANAGER_PROPERTY]: manager, ...rest } = user;
  return { user: rest as GraphUser, change: { userId: user.id, managerId: idOf(manager) ?? null } };
}

/**
 * A `/users/delta` item: its `manager@delta` (undefined when the page says nothing about the
 * manager; null when the only link is `@removed`), and the user without the annotation.
 */
export function takeManagerDelta(user: GraphUser): { user: GraphUser; change: ManagerChange | undefined } {
  if (!Object.prototype.hasOwnProperty.call(user, MANAGER_DELTA)) return { user, change: undefined };
  const { [MANAGER_DELTA]: links, ...rest } = user;
  const list = Array.isArray(links) ? links : [];
  const present = list.find((link) => (link as { "@removed"?: unknown } | null)?.["@removed"] === undefined && idOf(link) !== undefined);
  return { user: rest as GraphUser, change: { userId: user.id, managerId: present === undefined ? null : idOf(present)! } };
}
