/**
 * The prefix of a store's table names (`<prefix>Snapshots`, `<prefix>GroupMirrorChanges`,
 * `<prefix>Tenants`...): one default and one check for every store, made when a store is built,
 * before any request. A table name is 3 to 63 letters and digits starting with a letter (Azure's
 * rule), so a prefix may be as long as the longest suffix of any table a store of it may create
 * leaves: derived here from the suffixes the kinds and tableNames.ts declare, never written down.
 */
import { DEFAULT_TABLE_PREFIX } from "../configuration/defaults.js";
import { UserSyncError } from "../shared/errors.js";
import { GROUPS } from "./groups.js";
import type { ObjectKind, Relationship } from "./objectKind.js";
import { RUNS_TABLE_SUFFIX, TENANTS_TABLE_SUFFIX } from "./tableNames.js";
import { MANAGER, USERS } from "./users.js";

/** Azure Table Storage's longest table name. */
export const MAX_TABLE_NAME_LENGTH = 63;

const KINDS: readonly ObjectKind[] = [USERS, GROUPS];
const RELATIONSHIPS: readonly Relationship[] = [MANAGER, ...KINDS.flatMap((kind) => kind.relationships)];

/** Every suffix a store's table may have: the run records, the tenant registry, each kind's tables and each relationship's edge tables. */
export const TABLE_SUFFIXES: readonly string[] = [
  RUNS_TABLE_SUFFIX,
  TENANTS_TABLE_SUFFIX,
  ...KINDS.flatMap((kind) => [kind.tables.snapshots, kind.tables.mirror, kind.tables.changes]),
  ...RELATIONSHIPS.flatMap((relationship) => [relationship.tables.forward, relationship.tables.reverse]),
];

/** The longest suffix (`GroupMirrorChanges`). */
export const LONGEST_TABLE_SUFFIX = TABLE_SUFFIXES.reduce((longest, suffix) => (suffix.length > longest.length ? suffix : longest));

/** The longest prefix whose every table name fits Azure's limit. */
export const MAX_TABLE_PREFIX_LENGTH = MAX_TABLE_NAME_LENGTH - LONGEST_TABLE_SUFFIX.length;

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]*$/;

/** The prefix to use (the default when none is given); throws `invalid_setting`, naming `tablePrefix`, for one no table name can start with or that makes a table name too long. */
export function checkedTablePrefix(prefix: string | undefined): string {
  const value = prefix ?? DEFAULT_TABLE_PREFIX;
  const fix = `use 1 to ${MAX_TABLE_PREFIX_LENGTH} letters and digits, starting with a letter`;
  if (!TABLE_PREFIX.test(value)) {
    throw new UserSyncError("invalid_setting", `The table prefix (tablePrefix) "${value}" is not valid: ${fix}.`, { details: { settings: "tablePrefix" } });
  }
  if (value.length > MAX_TABLE_PREFIX_LENGTH) {
    throw new UserSyncError(
      "invalid_setting",
      `The table prefix (tablePrefix) "${value}" is ${value.length} characters long, too long for its tables: ${fix} (at most ${MAX_TABLE_PREFIX_LENGTH}), so that its longest table name, ${value}${LONGEST_TABLE_SUFFIX}, stays within Azure's ${MAX_TABLE_NAME_LENGTH} characters.`,
      { details: { settings: "tablePrefix", maxLength: MAX_TABLE_PREFIX_LENGTH } },
    );
  }
  return value;
}
