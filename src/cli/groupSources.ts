/**
 * Where `export --groups` and `export --memberships` read group data: whether USER_SYNC_GROUPS
 * keeps it, and the tenant's group stores (the ports of src/kinds/membershipPorts.ts).
 */
import { composeGroupStores, type GroupStores } from "../app/groupStores.js";
import { loadGroupsSetting } from "../configuration/groupsSetting.js";
import { loadStorageSettings } from "../configuration/settings.js";
import { settingsError } from "../configuration/settingsError.js";
import { createAzureCredential } from "../credentials/azureCredential.js";
import type { GroupDataSources } from "../kinds/membershipPorts.js";
import { UserSyncError } from "../shared/errors.js";
import { checkedTablePrefix } from "../kinds/tablePrefix.js";
import { tenantTablePrefix } from "../tenants/tenantId.js";
import { groupSourcesOf } from "./groupStoreSources.js";

const GROUPS_SETTING = "USER_SYNC_GROUPS";
const GROUPS_FIX = "Set USER_SYNC_GROUPS=true (and grant GroupMember.Read.All: docs/groups.md), run a sync (entra-user-sync run --full), then export.";

/**
 * Whether the deployment keeps groups (USER_SYNC_GROUPS through the settings' loader, default
 * false). Throws the settings' error (exit 2) when it does not, or when the value is neither true
 * nor false, before anything is read.
 */
export function assertGroupsKept(env: Record<string, string | undefined> = process.env): void {
  if (loadGroupsSetting(env)) return;
  const state = env[GROUPS_SETTING]?.trim() ? "false" : "missing";
  const why = state === "false" ? "this deployment keeps no groups, memberships or managers" : `groups, memberships and managers are kept only with ${GROUPS_SETTING}=true (default false)`;
  throw settingsError([`${GROUPS_SETTING} is ${state}: ${why}. ${GROUPS_FIX}`], [GROUPS_SETTING]);
}

/**
 * The tenant's group stores, as the read ports: `tenant` is what selectTenant returned (its own
 * table prefix in multi-tenant mode; undefined: the one tenant's tables).
 */
export function groupSourcesFromEnvironment(tenant: string | undefined, env: Record<string, string | undefined> = process.env): GroupDataSources {
  const { stores } = groupStoresOf(tenant, env);
  // The users' manager edges (USER_SYNC_GROUPS) of the same scope: `diff --groups` compares them.
  return groupSourcesOf(stores, (scope) => stores.managers.listManagers(scope));
}

/** The tenant's group stores themselves (the change logs of `export --changes`). */
export function groupStoresFromEnvironment(tenant: string | undefined, env: Record<string, string | undefined> = process.env): GroupStores {
  return groupStoresOf(tenant, env).stores;
}

function groupStoresOf(tenant: string | undefined, env: Record<string, string | undefined>) {
  const storage = loadStorageSettings(env);
  const credential = storage.kind === "identity" ? createAzureCredential() : undefined;
  const prefix = tenant === undefined ? checkedTablePrefix(undefined) : tenantTablePrefix(tenant);
  return { storage, credential, prefix, stores: composeGroupStores(storage, credential, prefix) };
}

/** The error when no group data is stored where the command looked (exit 2): `why` says where and the fix. */
export function groupDataNotFound(why: string): UserSyncError {
  return new UserSyncError("group_data_not_found", why);
}

/** Why a snapshot or the mirror holds no group data, and the fix. */
export function noGroupDataIn(where: string): string {
  return `No groups or memberships are stored in ${where}: it was written with USER_SYNC_GROUPS off or before groups were kept, or its groups part failed (entra-user-sync runs says why). Run a sync with USER_SYNC_GROUPS=true (entra-user-sync run --full), then export.`;
}
