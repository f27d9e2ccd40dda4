/** The tenant registry of the `tenants` commands, from the environment (multi-tenant mode only). */
import { consentState, tenantHealth } from "../fanout/tenantHealth.js";
import { composeRegistry } from "../app/compose.js";
import { loadStorageSettings, type TableStorageSettings } from "../configuration/settings.js";
import { loadTenantMode } from "../configuration/tenantModeSetting.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import type { TenantRecord, TenantRegistryClient } from "../tenants/tenantRegistryClient.js";

export function registryFromEnvironment(env: Record<string, string | undefined> = process.env): { registry: TenantRegistryClient; storage: TableStorageSettings } {
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

/** The record as `--json` prints it: every field, dates in ISO 8601, no ETag; and its health (src/fanout/tenantHealth.ts). */
export function tenantJson(record: TenantRecord, now: Date = new Date()): Record<string, unknown> {
  const { etag: _etag, ...fields } = record;
  const health = {
    health: tenantHealth(record, now),
    consent: consentState(record),
    ...(record.lastSuccessAt ? { lastSuccessAgeInHours: hoursSince(record.lastSuccessAt, now) } : {}),
    ...(record.mirrorRoundAt ? { mirrorAgeInHours: hoursSince(record.mirrorRoundAt, now) } : {}),
  };
  return { ...Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value instanceof Date ? value.toISOString() : value])), ...health };
}

const hoursSince = (at: Date, now: Date) => Math.round((Math.max(0, now.getTime() - at.getTime()) / 3_600_000) * 100) / 100;

/** `42m ago`, `5h ago`, `3d ago`. */
export function formatAge(at: Date, now: Date = new Date()): string {
  const minutes = Math.max(0, Math.floor((now.getTime() - at.getTime()) / 60_000));
  if (minutes < 60) return `${minutes}m ago`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)}h ago`;
  return `${Math.floor(minutes / 1440)}d ago`;
}
