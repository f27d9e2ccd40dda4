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
import type { GraphUser } from "./types.js";

function setOwn(target: Record<string, unknown>, name: string, value: unknown): void {
  // A plain assignment of `__proto__` would set the prototype instead of a key.
  // Every other inherited name of a plain object is a writable data property: assigning it makes
  // an own property, and keeps the object's fast (shared) shape, which defineProperty does not.
  if (name === "__proto__") Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

const isAnnotation = (key: string) => key.startsWith("@odata.");

/** The canonical form of `user` for the selection `select` (which starts with `id`). */
export function canonicalUser(user: GraphUser, select: readonly string[]): GraphUser {
  const byLowerName = new Map<string, string>();
  for (const key of Object.keys(user)) if (!byLowerName.has(key.toLowerCase())) byLowerName.set(key.toLowerCase(), key);
  const result: Record<string, unknown> = {};
  const used = new Set<string>();
  setOwn(result, "id", user.id);
  used.add("id");
  for (const name of select) {
    if (name.toLowerCase() === "id") continue;
    const key = Object.prototype.hasOwnProperty.call(user, name) ? name : byLowerName.get(name.toLowerCase());
    const value = key === undefined ? undefined : user[key];
    if (key !== undefined) used.add(key);
    setOwn(result, name, value === undefined ? null : value);
  }
  for (const key of Object.keys(user)) {
    if (used.has(key) || isAnnotation(key)) continue;
    setOwn(result, key, user[key]);
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
