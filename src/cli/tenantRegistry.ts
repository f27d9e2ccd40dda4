/** The tenant registry of the `tenants` commands, from the environment (multi-tenant mode only). */
import { composeRegistry } from "../app/compose.js";
import { loadStorageSettings, type SnapshotStorageSettings } from "../configuration/settings.js";
import { loadTenantMode } from "../configuration/tenantModeSetting.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import type { TenantRecord, TenantRegistryClient } from "../tenants/tenantRegistryClient.js";

export function registryFromEnvironment(env: Record<string, string | undefined> = process.env): { registry: TenantRegistryClient; storage: SnapshotStorageSettings } {
  if (loadTenantMode(env) !== "multi") {
    throw createTenantError("tenantModeMismatch", "The tenant registry is used only when USER_SYNC_TENANT_MODE=multi; this deployment syncs GRAPH_TENANT_ID alone.");
  }
  const storage = loadStorageSettings(env);
  return { registry: composeRegistry(storage), storage };
}

/** What the fan-out is doing with the tenant now. */
export function tenantState(record: TenantRecord): string {
  if (record.runningSince) return `running since ${record.runningSince.toISOString()}`;
  if (record.queuedAt) return `queued at ${record.queuedAt.toISOString()}`;
  return "idle";
}

/** The record as `--json` prints it: every field, dates in ISO 8601, no ETag. */
export function tenantJson(record: TenantRecord): Record<string, unknown> {
  const { etag: _etag, ...fields } = record;
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value instanceof Date ? value.toISOString() : value]));
}
