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
import { isAbortError, type OperationOptions } from "../shared/abort.js";
import { createLeaseLostError } from "../tables/leaseErrors.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import type { LeaseInfo } from "../snapshots/runRecords.js";
import type { AppClients } from "../sync/syncClients.js";
import type { DueRunResult, UserSyncService } from "../sync/userSyncService.js";
import type { WriterLease } from "../snapshots/snapshotStoreClient.js";
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

export interface TenantSyncContext extends OperationOptions {
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
  return new TenantMessageRun(message, context).handle();
}

/** What the tenant's service did: its run's result, or (another run held the tenant's lease) who holds it. */
type Ran = { result: DueRunResult } | { held: LeaseInfo | undefined };

/** One message's handling, in steps: the registry check, the tenant's run, then its outcome on the tenant's row. */
class TenantMessageRun {
  readonly #message: TenantSyncMessage;
  readonly #context: TenantSyncContext;
  readonly #invokedAt: Date;
  readonly #signal: OperationOptions;
  readonly #tenantId: string;
  readonly #logger: Logger;
  /** When this run's writer lease was taken (the fence of its writes to the tenant's row); undefined until it holds one. */
  #leaseAcquiredAt: Date | undefined;
  /** The tenant's health after its run (users, the mirror's last round), read before its service is let go. */
  #health: TenantHealthFacts | undefined;
  /**
   * The tenant's row as this run last read or wrote it: its ETag fences the run's next write to it,
   * which then needs no read first (src/fanout/tenantRecords.ts).
   */
  readonly #known: KnownTenantRow = {};

  constructor(message: TenantSyncMessage, context: TenantSyncContext) {
    this.#message = message;
    this.#context = context;
    this.#invokedAt = context.invokedAt ?? new Date();
    this.#signal = { abortSignal: context.abortSignal };
    this.#tenantId = message.tenantId;
    this.#logger = tenantLogger(context.logger, message.tenantId);
  }

  async handle(): Promise<TenantSyncOutcome> {
    let ran: Ran;
    try {
      // The row the scheduler's marker wrote, carried in a first delivery of its message: the run's
      // start is written with its ETag (a row changed or removed meanwhile refuses it, and is read then).
      // Without it, a message of a tenant removed meanwhile is dropped before anything is created.
      this.#known.row = this.#carriedRow() ?? (await this.#context.services.registry.getTenant(this.#tenantId, this.#signal));
      if (this.#known.row === undefined) {
        this.#logger.warn("The tenant is no longer registered (tenants remove): its message is dropped.");
        return "dropped";
      }
      // The tenant's service lives for this run only (memory follows the tenants running).
      // Its last run succeeded: its tables exist, and are not checked again (a fresh worker process per tick).
      ran = await this.#context.services.withTenantSyncService(this.#tenantId, (service, clients) => this.#run(service, clients), { tablesExist: this.#known.row.lastOutcome === "succeeded" });
    } catch (error) {
      return this.#failed(error);
    }
    if ("held" in ran) {
      const { services, queue, dequeueCount } = this.#context;
      return answerHeldLease(this.#message, ran.held, { registry: services.registry, queue, logger: this.#logger, dequeueCount });
    }
    return this.#ended(ran.result);
  }

  /** The row carried in the message, on its first delivery only (a retry's row has changed since: the failure was recorded). */
  #carriedRow(): KnownTenantRow["row"] {
    return this.#context.dequeueCount <= 1 ? this.#message.row : undefined;
  }

  /** The tenant's due work under its lease, with telemetry (when APPLICATIONINSIGHTS_CONNECTION_STRING is set) with the tenant as a dimension. */
  async #run(service: UserSyncService, clients: AppClients): Promise<Ran> {
    const context = this.#context;
    let result: DueRunResult | undefined;
    try {
      result = await withRunTelemetry(clients, { trigger: context.trigger, logger: this.#logger, tenantId: this.#tenantId }, (reads) =>
        service.runDue(this.#logger, {
          trigger: context.trigger,
          reads,
          invokedAt: this.#invokedAt,
          ...this.#signal,
          ...(context.runControl ? { runControl: context.runControl } : {}),
          underLease: (lease, options) => this.#underLease(lease, options),
        }),
      );
      return { result };
    } catch (error) {
      if (!isUserSyncError(error, "run_in_progress")) throw error;
      // Another run holds the lease: who, and until when (undefined once it let go).
      return { held: await clients.store.getLease(this.#signal) };
    } finally {
      // Only after a run of its own (it held the lease): another run's tenant is that run's to report.
      // A round of the mirror alone (no snapshot) says it all: the tenant's users are as its latest snapshot said.
      if (this.#leaseAcquiredAt !== undefined) this.#health = healthFactsOfMirrorRound(result) ?? (await readTenantHealthFacts(clients));
    }
  }

  /**
   * Under the lease, before anything else is created: the tenant must still be registered, and its
   * row is marked running by this run (its lease the row's fence).
   */
  async #underLease(lease: WriterLease, options: OperationOptions): Promise<void> {
    this.#leaseAcquiredAt = lease.acquiredAt;
    const started = await recordTenantRunStarted(this.#context.services.registry, this.#tenantId, lease, { consumesQueued: true, known: this.#known, abortSignal: options.abortSignal });
    if (started === "removed") throw createTenantError("tenantRemoved", "", this.#tenantId);
    if (started === "superseded") {
      lease.markLost(createLeaseLostError("takenOver", {}));
      throw lease.lost;
    }
  }

  /** A run that threw: dropped, stopped, failed for good, or thrown again to be retried (and poisoned after the last attempt). */
  async #failed(error: unknown): Promise<TenantSyncOutcome> {
    const logger = this.#logger;
    const { dequeueCount, maxDequeueCount, abortSignal } = this.#context;
    if (isUserSyncError(error, "tenant_removed")) {
      logger.warn(error.message);
      return "dropped";
    }
    if (abortSignal?.aborted && isAbortError(error)) {
      // Stopped before a checkpoint could pause it: not a failure; the message stays queued.
      logger.info("Stopped before the run reached a checkpoint; its message is left in the queue for the next worker.");
      await this.#record("stopped", undefined, true);
      return "stopped";
    }
    const reason = describeError(error);
    if (isPermanentTenantFailure(error)) {
      logger.error(`Sync failed (not retried: it needs the tenant's administrator or the operator): ${reason}`);
      await this.#record("failed", reason, false, errorType(error));
      return "failed";
    }
    const last = dequeueCount >= maxDequeueCount;
    logger.error(`Sync failed (attempt ${dequeueCount} of ${maxDequeueCount}): ${reason}`);
    await this.#record(last ? "poisoned" : "failed", last ? `Moved to the poison queue after ${dequeueCount} attempts. Last error: ${reason}` : reason, false, errorType(error)).catch((recordError: unknown) =>
      logger.warn(`Could not record the failure in the tenant registry: ${describeError(recordError)}`),
    );
    throw error;
  }

  /** A run that returned: its summaries, and a continuation queued when its snapshot paused. */
  async #ended(result: DueRunResult): Promise<TenantSyncOutcome> {
    const logger = this.#logger;
    const { queue, continuationDelayInSeconds } = this.#context;
    if (result.snapshot) logger.info(formatSnapshotSummary(result.snapshot, result.snapshotElapsedInMs ?? 0));
    if (result.mirror) logger.info(formatMirrorSummary(result.mirror));
    if (result.snapshot?.outcome === "paused") {
      await queue.sendTenantMessage({ tenantId: this.#tenantId, kind: "continuation", enqueuedAt: new Date().toISOString() }, { visibilityTimeoutInSeconds: continuationDelayInSeconds });
      logger.info(`The snapshot paused at a checkpoint (its maximum run duration, or the worker is stopping); its continuation is queued (in ${continuationDelayInSeconds} s).`);
      await this.#record("paused", undefined, true);
      return "paused";
    }
    await this.#record("succeeded");
    return "succeeded";
  }

  /**
   * The run's outcome on the tenant's row, fenced by this run's lease. The bookkeeping after the run
   * is not aborted with it: a run stopped by Ctrl+C still records its outcome and queues its
   * continuation (each request is bounded by the SDK's own timeouts).
   */
  async #record(outcome: string, error?: string, queued = false, errorCode?: string): Promise<void> {
    const health = this.#health;
    const recorded = await recordTenantRunOutcome(
      this.#context.services.registry,
      this.#tenantId,
      { outcome, ...(error ? { error } : {}), ...(errorCode ? { errorCode } : {}), ...(health ? { health } : {}), queued },
      { consumesQueued: true, leaseAcquiredAt: this.#leaseAcquiredAt, known: this.#known },
    );
    if (recorded === undefined && this.#leaseAcquiredAt !== undefined) {
      this.#logger.info(`Its outcome (${outcome}) is not recorded on the tenant's row: a newer run of the tenant has marked it, or the tenant was removed.`);
    }
  }
}
