/**
 * The prefix of a store's table names (`<prefix>Snapshots`, `<prefix>Mirror`, `<prefix>Tenants`...):
 * one default and one check for every store. A table name is 3 to 63 letters and digits starting
 * with a letter; the longest suffix (`MirrorChanges`) leaves 50 characters after the first.
 */
import { UserSyncError } from "../shared/errors.js";
import { DEFAULT_TABLE_PREFIX } from "../configuration/defaults.js";

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,50}$/;

/** The prefix to use (the default when none is given); throws `invalid_setting` for one no table name can start with. */
export function checkedTablePrefix(prefix: string | undefined): string {
  const value = prefix ?? DEFAULT_TABLE_PREFIX;
  if (!TABLE_PREFIX.test(value)) {
    throw new UserSyncError("invalid_setting", `The table prefix "${value}" is not valid: use 1 to 51 letters and digits, starting with a letter.`);
  }
  return value;
}
