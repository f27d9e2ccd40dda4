/**
 * One tenant's message, handled the same way by the queue-triggered function (`tenantSync`) and by
 * `worker`: run that tenant's due work (UserSyncService.runDue, under that tenant's writer lease),
 * keep its registry row up to date, and re-enqueue a continuation when the run paused at its
 * maximum duration. A failure stays with its tenant: nothing here touches another tenant.
 */
import type { TenantSyncServices } from "./tenantSyncServices.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { RunControl, SyncTrigger } from "../sync/snapshotPorts.js";
import { formatMirrorSummary, formatSnapshotSummary } from "../sync/runSummary.js";
import { errorType } from "../telemetry/errorTypes.js";
import { withRunTelemetry } from "../telemetry/runTelemetry.js";
import { isAbortError } from "../shared/abort.js";
import { createLeaseLostError } from "../tables/leaseErrors.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import type { LeaseInfo } from "../snapshots/runRecords.js";
import type { DueRunResult } from "../sync/userSyncService.js";
import { answerHeldLease } from "./heldLease.js";
import { healthFactsOfMirrorRound, readTenantHealthFacts, type TenantHealthFacts } from "./tenantHealth.js";
import { recordTenantRunOutcome, recordTenantRunStarted, type KnownTenantRow } from "./tenantRecords.js";
import type { TenantQueueClient, TenantSyncMessage } from "./tenantQueue.js";

export type TenantSyncOutcome =
  /** The run did what was due. */
  | "succeeded"
  /** The run paused at its maximum duration; a continuation message is queued. */
  | "paused"
  /** The run failed for a reason retrying will not fix (consent, permission, tenant): recorded, message completed. */
  | "failed"
  /**
   * Another run holds the tenant's writer lease, and it is a message's run that marked the tenant's
   * row (its own message stays queued for it): nothing done, this message completed.
   */
  | "skipped"
  /**
   * Another run holds the tenant's writer lease and this message may be the tenant's only one (it
   * reappeared after its worker died, or the holder did not mark the row): a copy of it is queued,
   * visible once that lease can expire, and this one completed (docs/tenants.md).
   */
  | "deferred"
  /** The tenant is no longer registered: message completed. */
  | "dropped"
  /**
   * Asked to stop (worker's Ctrl+C) before the run could pause at a checkpoint (e.g. during the
   * mirror's round): the caller leaves the message for the next worker, without counting a failure.
   */
  | "stopped";

export interface TenantSyncContext {
  services: TenantSyncServices;
  queue: TenantQueueClient;
  logger: Logger;
  trigger: SyncTrigger;
  /** This delivery's attempt number (1 for the first). */
  dequeueCount: number;
  /** After this many attempts the message goes to the poison queue. */
  maxDequeueCount: number;
  /** How long a continuation message stays invisible. */
  continuationDelayInSeconds: number;
  abortSignal?: AbortSignal;
  /** Overrides the settings' run control (tests, the command line). */
  runControl?: RunControl;
  /**
   * When the invocation started (the queue trigger's handler was called): the run's maximum
   * duration counts from it, registry bookkeeping and everything before the snapshot included
   * (RunDueOptions.invokedAt). Default: when this handler is called.
   */
  invokedAt?: Date;
}

/**
 * Errors retrying will not fix: the tenant's administrator (or the operator) must act. The
 * federated-credential mismatches (70021, 700211-700213, 700236) are the operator's to fix on the app
 * registration, and fail every tenant alike: retrying each tenant would only poison them all.
 */
const PERMANENT_AADSTS = new Set([7000229, 700016, 90002, 7000112, 70021, 700211, 700212, 700213, 700236]);

export function isPermanentTenantFailure(error: unknown): boolean {
  if (!isUserSyncError(error)) return false;
  if (["graph_forbidden", "invalid_tenant_id", "tenant_not_registered", "missing_setting", "invalid_setting", "conflicting_settings"].includes(error.code)) return true;
  const aadsts = error.details.aadsts;
  return error.code === "token_request_failed" && typeof aadsts === "number" && PERMANENT_AADSTS.has(aadsts);
}

/** A logger whose lines name the tenant (runs of several tenants share one log). */
export function tenantLogger(logger: Logger, tenantId: string): Logger {
  const prefix = `[tenant ${tenantId}] `;
  return { info: (m) => logger.info(prefix + m), warn: (m) => logger.warn(prefix + m), error: (m) => logger.error(prefix + m) };
}

/**
 * Handles one message. Resolves with the outcome when the message is done with (the caller
 * deletes it); throws when it should be retried (the caller leaves it to reappear, and poisons it
 * after maxDequeueCount attempts; the tenant's row already says why).
 */
export async function handleTenantSyncMessage(message: TenantSyncMessage, context: TenantSyncContext): Promise<TenantSyncOutcome> {
  const invokedAt = context.invokedAt ?? new Date();
  const { services, logger: baseLogger, abortSignal } = context;
  const signal = abortSignal ? { abortSignal } : {};
  const registry = services.registry;
  const tenantId = message.tenantId;
  const logger = tenantLogger(baseLogger, tenantId);
  /** When this run's writer lease was taken (the fence of its writes to the tenant's row); undefined until it holds one. */
  let leaseAcquiredAt: Date | undefined;
  // The tenant's row as this run last read or wrote it: its ETag fences the run's next write to it,
  // which then needs no read first (src/fanout/tenantRecords.ts).
  const known: KnownTenantRow = {};
  // The bookkeeping after the run is not aborted with it: a run stopped by Ctrl+C still records
  // its outcome and queues its continuation (each request is bounded by the SDK's own timeouts).
  // The tenant's health after its run (users, the mirror's last round), read before its service is let go.
  let health: TenantHealthFacts | undefined;
  const finish = async (outcome: string, error?: string, queued = false, errorCode?: string): Promise<void> => {
    const recorded = await recordTenantRunOutcome(
      registry,
      tenantId,
      { outcome, ...(error ? { error } : {}), ...(errorCode ? { errorCode } : {}), ...(health ? { health } : {}), queued },
      { consumesQueued: true, leaseAcquiredAt, known },
    );
    if (recorded === undefined && leaseAcquiredAt !== undefined) logger.info(`Its outcome (${outcome}) is not recorded on the tenant's row: a newer run of the tenant has marked it, or the tenant was removed.`);
  };
  let ran: { result: DueRunResult } | { held: LeaseInfo | undefined };
  try {
    // A message of a tenant removed meanwhile is dropped before anything is created.
    known.row = await registry.getTenant(tenantId, signal);
    if (known.row === undefined) {
      logger.warn("The tenant is no longer registered (tenants remove): its message is dropped.");
      return "dropped";
    }
    // The tenant's service lives for this run only (memory follows the tenants running).
    ran = await services.withTenantSyncService(tenantId, async (service) => {
      let result: DueRunResult | undefined;
      try {
        // Telemetry (when APPLICATIONINSIGHTS_CONNECTION_STRING is set) with the tenant as a dimension.
        result = await withRunTelemetry(service, { trigger: context.trigger, logger, tenantId }, () =>
          service.runDue(logger, {
            trigger: context.trigger,
            invokedAt,
            ...signal,
            ...(context.runControl ? { runControl: context.runControl } : {}),
            // Under the lease, before anything else is created: the tenant must still be registered,
            // and its row is marked running by this run (its lease the row's fence).
            underLease: async (lease, options) => {
              leaseAcquiredAt = lease.acquiredAt;
              const started = await recordTenantRunStarted(registry, tenantId, lease, { consumesQueued: true, known, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
              if (started === "removed") throw createTenantError("tenantRemoved", "", tenantId);
              if (started === "superseded") {
                lease.markLost(createLeaseLostError("takenOver", {}));
                throw lease.lost;
              }
            },
          }),
        );
        return { result };
      } catch (error) {
        if (!isUserSyncError(error, "run_in_progress")) throw error;
        // Another run holds the lease: who, and until when (undefined once it let go).
        return { held: await service.store.getLease(signal) };
      } finally {
        // Only after a run of its own (it held the lease): another run's tenant is that run's to report.
        // A round of the mirror alone (no snapshot) says it all: the tenant's users are as its latest snapshot said.
        if (leaseAcquiredAt !== undefined) health = healthFactsOfMirrorRound(result) ?? (await readTenantHealthFacts(service));
      }
      // Its last run succeeded: its tables exist, and are not checked again (a fresh worker process per tick).
    }, { tablesExist: known.row.lastOutcome === "succeeded" });
  } catch (error) {
    if (isUserSyncError(error, "tenant_removed")) {
      logger.warn(error.message);
      return "dropped";
    }
    if (abortSignal?.aborted && isAbortError(error)) {
      // Stopped before a checkpoint could pause it: not a failure; the message stays queued.
      logger.info("Stopped before the run reached a checkpoint; its message is left in the queue for the next worker.");
      await finish("stopped", undefined, true);
      return "stopped";
    }
    const reason = describeError(error);
    if (isPermanentTenantFailure(error)) {
      logger.error(`Sync failed (not retried: it needs the tenant's administrator or the operator): ${reason}`);
      await finish("failed", reason, false, errorType(error));
      return "failed";
    }
    const last = context.dequeueCount >= context.maxDequeueCount;
    logger.error(`Sync failed (attempt ${context.dequeueCount} of ${context.maxDequeueCount}): ${reason}`);
    await finish(last ? "poisoned" : "failed", last ? `Moved to the poison queue after ${context.dequeueCount} attempts. Last error: ${reason}` : reason, false, errorType(error)).catch((recordError: unknown) =>
      logger.warn(`Could not record the failure in the tenant registry: ${describeError(recordError)}`),
    );
    throw error;
  }
  if ("held" in ran) return answerHeldLease(message, ran.held, { registry, queue: context.queue, logger, dequeueCount: context.dequeueCount });
  const result = ran.result;
  if (result.snapshot) logger.info(formatSnapshotSummary(result.snapshot, result.snapshotElapsedInMs ?? 0));
  if (result.mirror) logger.info(formatMirrorSummary(result.mirror));
  if (result.snapshot?.outcome === "paused") {
    await context.queue.sendTenantMessage(
      { tenantId, kind: "continuation", enqueuedAt: new Date().toISOString() },
      { visibilityTimeoutInSeconds: context.continuationDelayInSeconds },
    );
    logger.info(`The snapshot paused at a checkpoint (its maximum run duration, or the worker is stopping); its continuation is queued (in ${context.continuationDelayInSeconds} s).`);
    await finish("paused", undefined, true);
    return "paused";
  }
  await finish("succeeded");
  return "succeeded";
}
