/**
 * The scheduler (the timer in multi-tenant mode, a singleton): one message per registered tenant
 * that has work due. Every tick has work for every tenant (the live mirror's incremental round;
 * runDue decides whether a snapshot is due too), so a tenant gets a message unless it is already
 * queued or running: its registry row's `queuedAt` / `runningSince` marker, set with the row's ETag
 * before the message is sent, so that two schedulers never both enqueue one tenant. `worker`'s
 * passes on USER_SYNC_SCHEDULE also name their occurrence: a tenant's row keeps the occurrence it
 * was queued for (`scheduledFor`, written with the same fenced write), so that several workers'
 * passes at one occurrence queue it once, even when its run ends between one pass and the next.
 */
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { recordSchedulerPass } from "../telemetry/schedulerTelemetry.js";
import type { TenantRecord, TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import type { TenantQueueClient } from "./tenantQueue.js";
import { busyReason, enqueueTenant } from "./enqueueTenant.js";
import type { OperationOptions } from "../shared/abort.js";

export { STALE_QUEUED_IN_MS, STALE_RUNNING_IN_MS } from "./enqueueTenant.js";

/**
 * Tenants a pass queues at once. Queueing one takes two storage round trips (the fenced marker,
 * written with the ETag of the row as the pass listed it, then the message), so a pass one at a time over 10,000 tenants would take minutes on Azure,
 * longer than a 5-minute schedule; 16 at once keeps it well inside a tick.
 */
export const SCHEDULE_CONCURRENCY = 16;

export interface ScheduleTenantsOptions extends OperationOptions {
  registry: TenantRegistryClient;
  queue: TenantQueueClient;
  logger: Logger;
  now?: Date;
  /** The schedule's occurrence this pass is for (`worker`'s schedule): a tenant is queued at most once per occurrence. */
  occurrence?: Date;
}

/**
 * Tenants a pass's result names, per list (the counts have them all): a pass over a million
 * tenants keeps a page of the registry and this many ids in memory, not the registry.
 */
export const MAX_LISTED_TENANTS = 1000;

export interface ScheduleResult {
  /** Tenants the pass found in the registry (all of them, unless it was stopped). */
  registered: number;
  /** The first MAX_LISTED_TENANTS tenants queued (`enqueuedCount` counts them all). */
  enqueued: string[];
  enqueuedCount: number;
  /** The first MAX_LISTED_TENANTS tenants passed by (already queued or running), and why. */
  skipped: Array<{ tenantId: string; reason: string }>;
  skippedCount: number;
  /** Tenants whose message could not be sent (they are tried again next tick); the first MAX_LISTED_TENANTS. */
  failed: Array<{ tenantId: string; error: string }>;
  failedCount: number;
}

export async function scheduleDueTenants(options: ScheduleTenantsOptions): Promise<ScheduleResult> {
  const { registry, queue, logger } = options;
  const now = options.now ?? new Date();
  const occurrence = options.occurrence;
  const signal = { abortSignal: options.abortSignal };
  const result: ScheduleResult = { registered: 0, enqueued: [], enqueuedCount: 0, skipped: [], skippedCount: 0, failed: [], failedCount: 0 };
  const listed = <T>(list: T[], item: T): void => {
    if (list.length < MAX_LISTED_TENANTS) list.push(item);
  };

  // A tenant's queueing, once started, is not aborted (src/fanout/enqueueTenant.ts).
  const queueTenant = async (tenantId: string, row: TenantRecord): Promise<void> => {
    try {
      // The listed row's ETag fences the marker: no read of the row first.
      const queued = await enqueueTenant(tenantId, { registry, queue, now, occurrence, listed: row });
      if (!queued.queued) {
        result.skippedCount += 1;
        listed(result.skipped, { tenantId, reason: queued.reason });
        return;
      }
      result.enqueuedCount += 1;
      listed(result.enqueued, tenantId);
    } catch (error) {
      logger.error(`Could not queue tenant ${tenantId}: ${describeError(error)}`);
      result.failedCount += 1;
      listed(result.failed, { tenantId, error: describeError(error) });
    }
  };

  // Up to SCHEDULE_CONCURRENCY tenants are queued at once while the registry is read on, one page
  // of it in memory at a time (a loop over the pages, no recursion: a million tenants are fine).
  const queueing = new Set<Promise<void>>();
  try {
    for await (const tenant of registry.listTenants(signal)) {
      if (options.abortSignal?.aborted) break; // stopped: no further tenant is started
      result.registered++;
      const busy = busyReason(tenant, now, occurrence);
      if (busy) {
        result.skippedCount += 1;
        listed(result.skipped, { tenantId: tenant.tenantId, reason: busy });
        continue;
      }
      const queued: Promise<void> = queueTenant(tenant.tenantId, tenant).finally(() => queueing.delete(queued));
      queueing.add(queued);
      if (queueing.size >= SCHEDULE_CONCURRENCY) await Promise.race(queueing);
    }
  } finally {
    // Nothing is left running behind the pass (queueTenant settles every outcome itself).
    await Promise.all(queueing);
  }
  // In registry order, whichever tenant's queueing finished first.
  result.enqueued.sort();
  result.skipped.sort(byTenantId);
  result.failed.sort(byTenantId);
  logger.info(
    `Queued ${result.enqueuedCount} tenant${result.enqueuedCount === 1 ? "" : "s"}${occurrence ? ` for the schedule's occurrence at ${occurrence.toISOString()}` : ""}; ${result.skippedCount} already queued or running` +
      (result.failedCount > 0 ? `; ${result.failedCount} could not be queued` : "") +
      ".",
  );
  // Telemetry (when it is on): queue and poison depth, tenants found, queued and skipped.
  await recordSchedulerPass({ registered: result.registered, queued: result.enqueuedCount, skipped: result.skippedCount }, queue, logger);
  return result;
}

function byTenantId(a: { tenantId: string }, b: { tenantId: string }): number {
  return a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0;
}
