/**
 * The fan-out's writes to a tenant's registry row: read, change, write with the row's ETag, again
 * on a lost race (a few times: the row is written by one scheduler and one worker at a time).
 */
import { createTenantError } from "../tenants/tenantErrors.js";
import type { TenantRecord, TenantRegistryClient } from "../tenants/tenantRegistryClient.js";

/** Reads and fenced writes of one change before it gives up (`tenant_record_contended`). */
export const TENANT_RECORD_ATTEMPTS = 5;

/**
 * Applies `change` to the tenant's current row. Returns the row written, or undefined when the
 * tenant is not (or no longer) registered, or `change` returned undefined (nothing to do). Throws
 * `tenant_record_contended` when the row changed between the read and the write on every attempt.
 */
export async function changeTenantRecord(
  registry: TenantRegistryClient,
  tenantId: string,
  change: (current: TenantRecord) => TenantRecord | undefined,
  options: { abortSignal?: AbortSignal } = {},
): Promise<TenantRecord | undefined> {
  for (let attempt = 1; attempt <= TENANT_RECORD_ATTEMPTS; attempt++) {
    const current = await registry.getTenant(tenantId, options);
    if (current === undefined) return undefined;
    const next = change(current);
    if (next === undefined) return undefined;
    const written = await registry.updateTenant(next, { ...options, ...(current.etag ? { etag: current.etag } : {}) });
    if (written !== undefined) return written;
  }
  throw createTenantError("tenantRecordContended", String(TENANT_RECORD_ATTEMPTS), tenantId);
}

/** The record without the fan-out's markers. */
export function withoutMarkers(record: TenantRecord): TenantRecord {
  const { queuedAt: _queued, runningSince: _running, ...rest } = record;
  return rest;
}
