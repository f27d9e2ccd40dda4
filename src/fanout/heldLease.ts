/**
 * What a tenant message does when another run holds the tenant's writer lease. A message that may
 * be the only one left for the tenant is never completed while that lease holds: it comes back when
 * the lease can expire, and its run then takes the lease over and continues from the checkpoint.
 * Only a fresh duplicate (a continuation racing a tick) is completed as `skipped`, when the holder
 * is a message's run that marked the tenant's row: that run's own message stays queued for it, and
 * comes back by itself if its worker dies.
 */
import type { Logger } from "../shared/logger.js";
import type { LeaseInfo } from "../snapshots/runRecords.js";
import type { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import type { TenantQueueClient, TenantSyncMessage } from "./tenantQueue.js";
import { changeTenantRecord } from "./tenantRecords.js";

/** Added to the wait for the holder's lease to expire (the holder's clock may run a little behind). */
export const LEASE_EXPIRY_SLACK_IN_SECONDS = 2;

export interface HeldLeaseContext {
  registry: TenantRegistryClient;
  queue: TenantQueueClient;
  logger: Logger;
  /** This delivery's attempt number (1 for the first). */
  dequeueCount: number;
}

/**
 * `skipped`: the message is done (the holder's own message does the work); `deferred`: a copy of it
 * is queued, visible once the holder's lease can expire (the caller completes this one); `dropped`:
 * the tenant is no longer registered.
 */
export async function answerHeldLease(message: TenantSyncMessage, held: LeaseInfo | undefined, context: HeldLeaseContext): Promise<"skipped" | "deferred" | "dropped"> {
  const { registry, logger } = context;
  const tenantId = message.tenantId;
  const row = await registry.getTenant(tenantId);
  if (row === undefined) {
    logger.warn("The tenant is no longer registered (tenants remove): its message is dropped.");
    return "dropped";
  }
  // A message that reappeared (its worker died, or it failed before) or that already waited for a
  // lease may be the tenant's only one; so may any message while the holder has not marked the row
  // (a `run --tenant`, or a run that died before marking it).
  const fresh = message.waitsForLeaseUntil === undefined && context.dequeueCount <= 1;
  const holderMarkedRow = held !== undefined && row.runningSince !== undefined && row.leaseAcquiredAt?.getTime() === held.acquiredAt.getTime();
  if (fresh && holderMarkedRow) {
    // This message's own marker (the scheduler's queuedAt, sent with it) is consumed with it.
    if (row.queuedAt?.toISOString() === message.enqueuedAt) {
      await changeTenantRecord(registry, tenantId, (current) =>
        current.queuedAt?.toISOString() === message.enqueuedAt ? { ...current, queuedAt: undefined } : undefined,
      ).catch(() => undefined);
    }
    logger.info(`Another run of this tenant (${describeHolder(held)}) holds its writer lease, and that run's own message stays queued for it: this message is done (skipped).`);
    return "skipped";
  }
  const waitInSeconds = held === undefined ? 1 : Math.max(1, Math.ceil((held.expiresAt.getTime() - Date.now()) / 1000) + LEASE_EXPIRY_SLACK_IN_SECONDS);
  await context.queue.sendTenantMessage(
    { tenantId, kind: message.kind, enqueuedAt: message.enqueuedAt, waitsForLeaseUntil: (held?.expiresAt ?? new Date()).toISOString() },
    { visibilityTimeoutInSeconds: waitInSeconds },
  );
  logger.info(
    `${held ? `Another run of this tenant (${describeHolder(held)}) holds its writer lease` : "The tenant's writer lease was held a moment ago"}, and this message may be the tenant's only one: ` +
      `it comes back in ${waitInSeconds} s, when that lease can expire; a run that no longer renews it is then taken over, and its snapshot continues from its checkpoint.`,
  );
  return "deferred";
}

function describeHolder(held: LeaseInfo): string {
  return `a ${held.trigger} run${held.runId ? ` (run ${held.runId})` : ""} on ${held.host}, lease until ${held.expiresAt.toISOString()}`;
}
