/**
 * The fan-out's writes to a tenant's registry row: read, change, write with the row's ETag, again
 * on a lost race (a few times: the row is written by one scheduler and one worker at a time).
 * The start and the outcome of a tenant's run are written here, the same way for a tenant message
 * (the queue-triggered `tenantSync`, `worker`) and for `run --tenant`.
 */
import { createTenantError } from "../tenants/tenantErrors.js";
import type { TenantHealthFacts } from "./tenantHealth.js";
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

export interface TenantRunRecordOptions {
  /**
   * Whether this run consumes the tenant's `queuedAt` marker: true for a tenant message (the
   * message was what was queued); false for `run --tenant`, which leaves a queued message's marker
   * to the worker that takes it.
   */
  consumesQueued: boolean;
  abortSignal?: AbortSignal;
}

/** Marks the tenant as running (`runningSince`). Undefined when it is not (or no longer) registered. */
export async function recordTenantRunStarted(registry: TenantRegistryClient, tenantId: string, options: TenantRunRecordOptions): Promise<TenantRecord | undefined> {
  return changeTenantRecord(
    registry,
    tenantId,
    (current) => ({ ...(options.consumesQueued ? withoutMarkers(current) : current), runningSince: new Date() }),
    options.abortSignal ? { abortSignal: options.abortSignal } : {},
  );
}

export interface TenantRunOutcome {
  /** succeeded, paused, failed, poisoned or stopped (see TenantSyncOutcome). */
  outcome: string;
  /** Why it failed (one line, no secrets); cleared otherwise. */
  error?: string;
  /** A message for the tenant is (again) in the queue: a continuation, or the message of a stopped run. */
  queued?: boolean;
  /** The failure's error code (src/telemetry/errorTypes.ts); cleared otherwise. */
  errorCode?: string;
  /** The tenant's stores after the run (src/fanout/tenantHealth.ts); what is absent keeps its previous value. */
  health?: TenantHealthFacts;
}

/**
 * Records the run's outcome and clears `runningSince` (and `queuedAt`, for a run that consumed it,
 * unless a message was queued again). Not aborted with the run: a run stopped by Ctrl+C still
 * records how it ended (each request is bounded by the SDK's own timeouts).
 */
export async function recordTenantRunOutcome(registry: TenantRegistryClient, tenantId: string, result: TenantRunOutcome, options: Omit<TenantRunRecordOptions, "abortSignal">): Promise<TenantRecord | undefined> {
  return changeTenantRecord(registry, tenantId, (current) => {
    const { runningSince: _running, ...rest } = options.consumesQueued ? withoutMarkers(current) : current;
    return {
      ...rest,
      ...(result.queued ? { queuedAt: new Date() } : {}),
      lastOutcome: result.outcome,
      lastOutcomeAt: new Date(),
      ...(result.error ? { lastError: result.error } : { lastError: undefined }),
      ...(result.errorCode ? { lastErrorCode: result.errorCode } : { lastErrorCode: undefined }),
      ...(result.outcome === "succeeded" ? { lastSuccessAt: new Date() } : {}),
      ...(result.health?.userCount !== undefined ? { userCount: result.health.userCount } : {}),
      ...(result.health?.mirrorRoundAt ? { mirrorRoundAt: result.health.mirrorRoundAt } : {}),
    };
  });
}
