/**
 * One form for a user, whatever the endpoint that returned it. `/users` returns every selected
 * property (`null` when unset); `/users/delta` leaves out properties that were never set, and
 * either may spell a property in another case than USER_SYNC_SELECT or order keys its own way.
 * The readers hand out users in the canonical form, so snapshots, the mirror, the change log and
 * exports hold the same thing for the same user:
 * - `id` first, then every selected property in USER_SYNC_SELECT order, under its selected
 *   spelling; a property Graph left out is `null` (Graph's own value for "not set");
 * - keys Graph sent beyond the selection follow, as sent, except OData annotations (`@odata.*`),
 *   which describe the response, not the user.
 * `sameUserValues` compares two users by value: `null` and absent are the same, key order does not
 * matter (at any depth); array order does.
 */
import { setOwnProperty } from "../shared/ownProperty.js";
import type { GraphUser } from "./types.js";

const isAnnotation = (key: string) => key.startsWith("@odata.");
const hasOwn = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

interface Selection {
  /** The selected names but `id`, in order. */
  names: string[];
  /** The same, to look up. */
  nameSet: Set<string>;
}

/** What a selection gives every user of a pass: worked out once per selection array, not per user. */
const selections = new WeakMap<readonly string[], Selection>();

function selectionOf(select: readonly string[]): Selection {
  let selection = selections.get(select);
  if (selection === undefined) {
    const names = select.filter((name) => name.toLowerCase() !== "id");
    selection = { names, nameSet: new Set(names) };
    selections.set(select, selection);
  }
  return selection;
}

/**
 * True when `user` already is its canonical form: a plain object whose keys are `id`, then the
 * selected names in order, and nothing else, none of them undefined (what `/users` returns for a
 * `$select` in that order, and what a copy in that order is).
 */
function isCanonical(user: GraphUser, names: readonly string[]): boolean {
  if (Object.getPrototypeOf(user) !== Object.prototype) return false;
  let at = -1;
  for (const key in user) {
    if (!hasOwn(user, key) || key !== (at === -1 ? "id" : names[at]) || user[key] === undefined) return false;
    at += 1;
  }
  return at === names.length;
}

/**
 * The canonical form of `user` for the selection `select` (which starts with `id`). A user that
 * already is in that form is returned as it is, not copied (two copies a user in a full round).
 */
export function canonicalUser(user: GraphUser, select: readonly string[]): GraphUser {
  const { names, nameSet } = selectionOf(select);
  if (isCanonical(user, names)) return user;
  const result: Record<string, unknown> = {};
  setOwnProperty(result, "id", user.id);
  // Built only when Graph spells a selected property another way.
  let byLowerName: Map<string, string> | undefined;
  let takenUnderOtherSpelling: Set<string> | undefined;
  for (const name of names) {
    let value: unknown;
    if (hasOwn(user, name)) value = user[name];
    else {
      if (byLowerName === undefined) {
        byLowerName = new Map();
        for (const key of Object.keys(user)) if (!byLowerName.has(key.toLowerCase())) byLowerName.set(key.toLowerCase(), key);
      }
      const key = byLowerName.get(name.toLowerCase());
      if (key !== undefined) {
        value = user[key];
        (takenUnderOtherSpelling ??= new Set()).add(key);
      }
    }
    setOwnProperty(result, name, value === undefined ? null : value);
  }
  for (const key of Object.keys(user)) {
    if (key === "id" || nameSet.has(key) || takenUnderOtherSpelling?.has(key) || isAnnotation(key)) continue;
    setOwnProperty(result, key, user[key]);
  }
  return result as GraphUser;
}

/** Two JSON values say the same thing: `null` equals absent in objects, key order is ignored, array order is not. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => sameValue(item, b[index]));
  }
  if (typeof a === "object" && typeof b === "object") {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
    for (const key of keys) {
      if (isAnnotation(key)) continue;
      const own = (o: Record<string, unknown>) => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);
      if (!sameValue(own(left), own(right))) return false;
    }
    return true;
  }
  return false;
}

/** Two users hold the same values (see sameValue); used by change detection. */
export function sameUserValues(a: GraphUser, b: GraphUser): boolean {
  return sameValue(a, b);
}
