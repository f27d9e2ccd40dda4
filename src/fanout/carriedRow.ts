/**
 * The tenant's registry row carried in its queue message (`TenantSyncMessage.row`): the row as the
 * scheduler's fenced marker wrote it, with the ETag that write returned. The message's run starts
 * from it instead of reading the row again: its first write to the row (the run's start, under its
 * writer lease) is fenced by that ETag, so a row changed or removed meanwhile refuses the write
 * (412/404) and the run reads the row afresh (src/fanout/tenantRecords.ts, changeTenantRecord).
 * The row is only a starting point: nothing is concluded from it that the fenced write does not
 * confirm, except that the tenant's tables exist when its last run succeeded (they are created
 * again when they do not: UserSyncService).
 */
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { tenantTablePrefix } from "../tenants/tenantId.js";

const DATE_FIELDS = ["queuedAt", "runningSince", "scheduledFor", "leaseAcquiredAt", "lastOutcomeAt", "lastSuccessAt", "mirrorRoundAt"] as const;
const TEXT_FIELDS = ["name", "domain", "lastOutcome", "lastError", "lastErrorCode"] as const;

/**
 * The carried row read back from a message's JSON (dates are ISO strings there), or undefined when
 * it is absent or not a row of this tenant with an ETag (the run then reads the row).
 */
export function parseCarriedRow(value: unknown, tenantId: string): TenantRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  if (raw.tenantId !== tenantId || raw.tablePrefix !== tenantTablePrefix(tenantId)) return undefined;
  if (typeof raw.etag !== "string" || raw.etag === "") return undefined;
  const addedAt = asDate(raw.addedAt);
  if (addedAt === undefined) return undefined;
  const row: TenantRecord = { tenantId, tablePrefix: raw.tablePrefix, addedAt, etag: raw.etag };
  for (const field of DATE_FIELDS) {
    if (raw[field] === undefined) continue;
    const date = asDate(raw[field]);
    if (date === undefined) return undefined;
    row[field] = date;
  }
  for (const field of TEXT_FIELDS) {
    if (raw[field] === undefined) continue;
    if (typeof raw[field] !== "string") return undefined;
    row[field] = raw[field];
  }
  if (raw.userCount !== undefined) {
    if (typeof raw.userCount !== "number" || !Number.isSafeInteger(raw.userCount) || raw.userCount < 0) return undefined;
    row.userCount = raw.userCount;
  }
  return row;
}

function asDate(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
