/**
 * Queueing one tenant's round: its registry row's `queuedAt` marker (and, for a pass of `worker`'s
 * schedule, the occurrence it is queued for: `scheduledFor`) is set with the row's ETag first, then
 * the message is sent. Of two callers, one wins the fenced marker; the other sees it and passes the
 * tenant by. A message that cannot be sent clears the marker again, so that the next try queues it.
 * Used by the scheduler's pass (src/fanout/scheduler.ts), and by anything that asks for a tenant's
 * round.
 */
import type { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import type { TenantQueueClient } from "./tenantQueue.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { changeTenantRecord } from "./tenantRecords.js";

/** A `queuedAt` older than this is taken for a lost message (e.g. deleted by hand): the tenant is queued again. */
export const STALE_QUEUED_IN_MS = 60 * 60_000;
/** A `runningSince` older than this is taken for a dead worker (its lease expired long ago). */
export const STALE_RUNNING_IN_MS = 2 * 60 * 60_000;

export interface EnqueueTenantOptions {
  registry: TenantRegistryClient;
  queue: Pick<TenantQueueClient, "sendTenantMessage">;
  /** "Now": the marker's time and the message's `enqueuedAt`. */
  now: Date;
  /** The schedule's occurrence the tenant is queued for (`worker`'s schedule): at most once per occurrence. */
  occurrence?: Date | undefined;
  /**
   * The tenant's row as the caller read it (the scheduler's listing of the registry): the marker is
   * written with its ETag without reading the row again; a row changed meanwhile is read and tried again.
   */
  listed?: TenantRecord;
}

/** Queued, or passed by (already queued or running, or removed meanwhile) and why. */
export type EnqueueTenantResult = { queued: true } | { queued: false; reason: string };

/**
 * Marks the tenant queued (fenced), then sends its message. Once started it is not aborted (each
 * request is bounded by its timeout): stopped between its marker and its message, it would leave
 * the tenant marked queued with no message, passed by for STALE_QUEUED_IN_MS. Throws when the
 * message cannot be sent (the marker is cleared first).
 */
export async function enqueueTenant(tenantId: string, options: EnqueueTenantOptions): Promise<EnqueueTenantResult> {
  const { registry, queue, now, occurrence } = options;
  // The marker first (fenced): of two schedulers, one wins; the other sees it and skips.
  let busy: string | undefined;
  let previousOccurrence: Date | undefined;
  const marked = await changeTenantRecord(
    registry,
    tenantId,
    (current) => {
      busy = busyReason(current, now, occurrence);
      previousOccurrence = current.scheduledFor;
      return busy ? undefined : { ...current, queuedAt: now, ...(occurrence ? { scheduledFor: occurrence } : {}) };
    },
    options.listed ? { known: { row: options.listed } } : {},
  );
  if (marked === undefined) return { queued: false, reason: busy ?? "removed meanwhile" };
  try {
    // The row as the marker wrote it, with its new ETag: the run starts from it without reading it (src/fanout/carriedRow.ts).
    await queue.sendTenantMessage({ tenantId, kind: "due", enqueuedAt: now.toISOString(), row: marked });
  } catch (error) {
    // Not queued after all: clear the marker so that the next try queues it.
    await changeTenantRecord(registry, tenantId, (current) => {
      const { queuedAt: _queued, scheduledFor: _scheduled, ...rest } = current;
      return { ...rest, ...(previousOccurrence ? { scheduledFor: previousOccurrence } : {}) };
    }).catch(() => undefined);
    throw error;
  }
  return { queued: true };
}

/** Why a tenant is not queued now (already queued for the occurrence, running, or queued), or undefined. */
export function busyReason(tenant: { queuedAt?: Date; runningSince?: Date; scheduledFor?: Date }, now: Date, occurrence?: Date): string | undefined {
  if (occurrence && tenant.scheduledFor && tenant.scheduledFor.getTime() >= occurrence.getTime()) return `queued for the occurrence at ${tenant.scheduledFor.toISOString()}`;
  if (tenant.runningSince && now.getTime() - tenant.runningSince.getTime() < STALE_RUNNING_IN_MS) return `running since ${tenant.runningSince.toISOString()}`;
  if (tenant.queuedAt && now.getTime() - tenant.queuedAt.getTime() < STALE_QUEUED_IN_MS) return `queued at ${tenant.queuedAt.toISOString()}`;
  return undefined;
}
