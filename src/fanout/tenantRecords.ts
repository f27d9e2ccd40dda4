/**
 * The fan-out's writes to a tenant's registry row: read, change, write with the row's ETag, again
 * on a lost race (a few times: the row is written by one scheduler and one worker at a time).
 * The start and the outcome of a tenant's run are written here, the same way for a tenant message
 * (the queue-triggered `tenantSync`, `worker`) and for `run --tenant`.
 */
import { createTenantError } from "../tenants/tenantErrors.js";
import type { TenantHealthFacts } from "./tenantHealth.js";
import type { TenantRecord, TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import type { OperationOptions } from "../shared/abort.js";

/** Reads and fenced writes of one change before it gives up (`tenant_record_contended`). */
export const TENANT_RECORD_ATTEMPTS = 5;

/**
 * The tenant's row as this caller last read or wrote it (with its ETag). Given to
 * changeTenantRecord, it is the first attempt's row, so that a change needs no read first: the
 * write is fenced by the row's ETag all the same, and a row that changed meanwhile costs a read and
 * a retry (412). Each write the caller makes through it keeps it up to date.
 */
export interface KnownTenantRow {
  row?: TenantRecord | undefined;
}

export interface ChangeTenantRecordOptions extends OperationOptions {
  /** The row as last read or written: the first attempt uses it instead of reading (when it has an ETag). */
  known?: KnownTenantRow;
}

/**
 * Applies `change` to the tenant's current row. Returns the row written, or undefined when the
 * tenant is not (or no longer) registered, or `change` returned undefined (nothing to do). Throws
 * `tenant_record_contended` when the row changed between the read and the write on every attempt.
 * With `known`, the first attempt applies `change` to the known row (a write fenced by its ETag);
 * "nothing to do" or a refused write is only concluded from a row read afresh.
 */
export async function changeTenantRecord(
  registry: TenantRegistryClient,
  tenantId: string,
  change: (current: TenantRecord) => TenantRecord | undefined,
  options: ChangeTenantRecordOptions = {},
): Promise<TenantRecord | undefined> {
  const signal = { abortSignal: options.abortSignal };
  const known = options.known?.row?.etag !== undefined && options.known.row.tenantId === tenantId ? options.known.row : undefined;
  if (known !== undefined) {
    const next = change(known);
    const written = next === undefined ? undefined : await registry.updateTenant(next, { ...signal, etag: known.etag! });
    if (written !== undefined) {
      options.known!.row = written;
      return written;
    }
  }
  for (let attempt = known === undefined ? 1 : 2; attempt <= TENANT_RECORD_ATTEMPTS; attempt++) {
    const current = await registry.getTenant(tenantId, signal);
    if (current === undefined) return undefined;
    const next = change(current);
    if (next === undefined) return undefined;
    const written = await registry.updateTenant(next, { ...signal, ...(current.etag ? { etag: current.etag } : {}) });
    if (written !== undefined) {
      if (options.known) options.known.row = written;
      return written;
    }
  }
  throw createTenantError("tenantRecordContended", String(TENANT_RECORD_ATTEMPTS), tenantId);
}

/** The record without the fan-out's markers. */
export function withoutMarkers(record: TenantRecord): TenantRecord {
  const { queuedAt: _queued, runningSince: _running, ...rest } = record;
  return rest;
}

export interface TenantRunRecordOptions extends OperationOptions {
  /**
   * Whether this run consumes the tenant's `queuedAt` marker: true for a tenant message (the
   * message was what was queued); false for `run --tenant`, which leaves a queued message's marker
   * to the worker that takes it.
   */
  consumesQueued: boolean;
  /** The tenant's row as the caller last read or wrote it (see KnownTenantRow); kept up to date. */
  known?: KnownTenantRow;
}

/** What recording a run's start found. */
export type TenantRunStart =
  /** The row is marked running by this run (`runningSince`, fenced by its lease). */
  | "started"
  /** The tenant is not (or no longer) registered. */
  | "removed"
  /** A run with a newer writer lease has already marked the row: this run lost its lease. */
  | "superseded";

/**
 * Marks the tenant as running (`runningSince`) under the run's writer lease, whose acquisition
 * time becomes the row's fence (`leaseAcquiredAt`): the mark of an older run (one that died with
 * its lease) is replaced; a newer run's is left alone. Called once the lease is held.
 */
export async function recordTenantRunStarted(
  registry: TenantRegistryClient,
  tenantId: string,
  lease: { acquiredAt: Date },
  options: TenantRunRecordOptions,
): Promise<TenantRunStart> {
  let superseded = false;
  const written = await changeTenantRecord(
    registry,
    tenantId,
    (current) => {
      superseded = isNewerFence(current, lease.acquiredAt);
      if (superseded) return undefined;
      return { ...(options.consumesQueued ? withoutMarkers(current) : current), runningSince: new Date(), leaseAcquiredAt: lease.acquiredAt };
    },
    { abortSignal: options.abortSignal, ...(options.known ? { known: options.known } : {}) },
  );
  if (written !== undefined) return "started";
  return superseded ? "superseded" : "removed";
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

export interface TenantRunOutcomeOptions extends Omit<TenantRunRecordOptions, "abortSignal"> {
  /**
   * When the run's writer lease was taken; undefined when the run ended before it held one. A run
   * that held a lease records nothing once a run with a newer lease has marked the row (it lost its
   * lease to that run), and clears the running mark (its own, or an older run's that died); a run
   * that never held a lease records its outcome but leaves the mark and the fence alone.
   */
  leaseAcquiredAt: Date | undefined;
}

/**
 * Records the run's outcome and clears `runningSince` (and `queuedAt`, for a run that consumed it,
 * unless a message was queued again). Not aborted with the run: a run stopped by Ctrl+C still
 * records how it ended (each request is bounded by the SDK's own timeouts). Returns undefined when
 * nothing was recorded (the tenant is gone, or a newer run has marked its row).
 */
export async function recordTenantRunOutcome(
  registry: TenantRegistryClient,
  tenantId: string,
  result: TenantRunOutcome,
  options: TenantRunOutcomeOptions,
): Promise<TenantRecord | undefined> {
  const fence = options.leaseAcquiredAt;
  return changeTenantRecord(
    registry,
    tenantId,
    (current) => {
      if (fence !== undefined && isNewerFence(current, fence)) return undefined;
      const base = options.consumesQueued ? { ...current, queuedAt: undefined } : current;
      const { runningSince, leaseAcquiredAt, ...rest } = base;
      return {
        ...rest,
        // A run without a lease leaves the running mark and the fence to the run that set them.
        ...(fence === undefined ? { ...(runningSince ? { runningSince } : {}), ...(leaseAcquiredAt ? { leaseAcquiredAt } : {}) } : { leaseAcquiredAt: fence }),
        ...(result.queued ? { queuedAt: new Date() } : {}),
        lastOutcome: result.outcome,
        lastOutcomeAt: new Date(),
        ...(result.error ? { lastError: result.error } : { lastError: undefined }),
        ...(result.errorCode ? { lastErrorCode: result.errorCode } : { lastErrorCode: undefined }),
        ...(result.outcome === "succeeded" ? { lastSuccessAt: new Date() } : {}),
        ...(result.health?.userCount !== undefined ? { userCount: result.health.userCount } : {}),
        ...(result.health?.mirrorRoundAt ? { mirrorRoundAt: result.health.mirrorRoundAt } : {}),
      };
    },
    options.known ? { known: options.known } : {},
  );
}

/**
 * True when the row's run state was written by a run whose writer lease is newer than one taken
 * at `acquiredAt`. A lease is taken over only after it expired, by the taker's clock, so the
 * taker's acquisition time is always later than the expired lease's.
 */
function isNewerFence(current: TenantRecord, acquiredAt: Date): boolean {
  return current.leaseAcquiredAt !== undefined && current.leaseAcquiredAt.getTime() > acquiredAt.getTime();
}
