/**
 * Where `export --groups` and `export --memberships` read group data: whether USER_SYNC_GROUPS
 * keeps it, and the tenant's group stores (the ports of src/kinds/membershipPorts.ts).
 */
import { settingsError } from "../configuration/settingsError.js";
import type { GroupDataSources } from "../kinds/membershipPorts.js";
import { UserSyncError } from "../shared/errors.js";

const GROUPS_SETTING = "USER_SYNC_GROUPS";
const GROUPS_FIX = "Set USER_SYNC_GROUPS=true (and grant GroupMember.Read.All: docs/groups.md), run a sync (entra-user-sync run --full), then export.";

/**
 * Whether the deployment keeps groups (USER_SYNC_GROUPS, default false). Throws the settings'
 * error (exit 2) when it does not, or when the value is neither true nor false, before anything
 * is read.
 */
export function assertGroupsKept(env: Record<string, string | undefined> = process.env): void {
  const value = env[GROUPS_SETTING]?.trim();
  if (value === undefined || value === "") {
    throw settingsError([`${GROUPS_SETTING} is missing: groups and memberships are kept only with ${GROUPS_SETTING}=true (default false). ${GROUPS_FIX}`], [GROUPS_SETTING]);
  }
  const lower = value.toLowerCase();
  if (lower === "true") return;
  if (lower === "false") {
    throw settingsError([`${GROUPS_SETTING} is false: this deployment keeps no groups or memberships. ${GROUPS_FIX}`], [GROUPS_SETTING]);
  }
  throw settingsError([`${GROUPS_SETTING} must be true or false (got "${value}").`], [GROUPS_SETTING]);
}

/**
 * The tenant's group stores, as the read ports. This build has no group storage yet (the GROUPS
 * kind's snapshot and mirror, and the edge tables, come with issue 29's storage work): there is
 * none to read, so none is returned and the command says so. The composition connects them here.
 */
export function groupSourcesFromEnvironment(tenant: string | undefined): GroupDataSources | undefined {
  void tenant;
  return undefined;
}

/** The error when no group data is stored where the command looked (exit 2): `why` says where and the fix. */
export function groupDataNotFound(why: string): UserSyncError {
  return new UserSyncError("group_data_not_found", why);
}

/** Why a snapshot or the mirror holds no group data, and the fix. */
export function noGroupDataIn(where: string): string {
  return `No groups or memberships are stored in ${where}: it was written with USER_SYNC_GROUPS off, or before groups were kept. Run a sync with USER_SYNC_GROUPS=true (entra-user-sync run --full), then export.`;
}

/** This version has no group storage to read. */
export const GROUP_STORAGE_MISSING =
  "No groups or memberships are stored: this version of entra-user-sync does not store groups yet (docs/groups.md says what is built). export --groups and --memberships read them once it does.";
