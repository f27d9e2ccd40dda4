/**
 * The storage clients of the read-only commands (runs, export, diff), from the environment's
 * settings, for the tenant the command names (`--tenant`, multi-tenant mode) or the one tenant.
 */
import { composeRegistry, composeStorage, composeTenantStorage, type StorageClients } from "../app/compose.js";
import { loadStorageSettings } from "../configuration/settings.js";
import { loadTenantMode } from "../configuration/tenantModeSetting.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import type { UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { assertTenantGuid } from "../tenants/tenantId.js";

/**
 * Checks `--tenant` against USER_SYNC_TENANT_MODE, before anything is read: required in multi
 * mode (and the tenant must be registered), refused in single mode (there is one tenant; a
 * --tenant that named another would read nothing of it). Returns the tenant's GUID, if any: the
 * command passes it on to storeFromEnvironment and mirrorFromEnvironment.
 */
export async function selectTenant(tenant: string | undefined, env: Record<string, string | undefined> = process.env): Promise<string | undefined> {
  const mode = loadTenantMode(env);
  if (mode === "single") {
    if (tenant !== undefined) {
      throw createTenantError("tenantModeMismatch", "--tenant is for USER_SYNC_TENANT_MODE=multi; this deployment has one tenant (GRAPH_TENANT_ID). Leave --tenant out.");
    }
    return undefined;
  }
  if (tenant === undefined) {
    throw createTenantError("tenantModeMismatch", "USER_SYNC_TENANT_MODE is multi: name the tenant with --tenant <tenantId> (see: entra-user-sync tenants list).");
  }
  const id = assertTenantGuid(tenant);
  const storage = loadStorageSettings(env);
  const registry = composeRegistry(storage);
  if ((await registry.getTenant(id)) === undefined) throw createTenantError("tenantNotRegistered", id, id);
  return id;
}

/** `tenant`: what selectTenant returned (undefined: single-tenant mode's tables); `kind`: the objects (default the users). */
function storageFromEnvironment(tenant: string | undefined, kind?: ObjectKind): StorageClients {
  const storage = loadStorageSettings(process.env);
  return tenant === undefined ? composeStorage(storage, undefined, undefined, kind) : composeTenantStorage(storage, tenant, undefined, kind);
}

export function storeFromEnvironment(tenant: string | undefined, kind?: ObjectKind): SnapshotStoreClient {
  return storageFromEnvironment(tenant, kind).store;
}

export function mirrorFromEnvironment(tenant: string | undefined, kind?: ObjectKind): UserMirrorClient {
  return storageFromEnvironment(tenant, kind).mirror;
}
