/**
 * A tenant's health as its registry row says it (multi-tenant mode): what `tenants list` shows and
 * the fleet view sorts by. The queue handler and `run --tenant` record the facts with each run's
 * outcome (recordTenantRunOutcome): when the tenant last succeeded, the last failure's error code,
 * the users in its latest complete snapshot and when its mirror last completed a round. One registry
 * read serves the whole fleet: nothing here reads a tenant's own tables.
 */
import { STALE_MIRROR_AFTER_IN_MS } from "../configuration/defaults.js";
import type { StorageClients } from "../sync/syncClients.js";
import type { DueRunResult } from "../sync/userSyncService.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { ERROR_TYPE_PROBLEMS } from "../telemetry/errorTypes.js";

/** What a run leaves behind, read from the tenant's stores after it (see readTenantHealthFacts). */
export interface TenantHealthFacts {
  /** Users in the latest complete snapshot. */
  userCount?: number;
  /** When the mirror last completed a round (its delta link was saved). */
  mirrorRoundAt?: Date;
}

/** Worst first: a tenant whose messages were poisoned, one whose last run failed, a stale mirror, not run yet, healthy. */
export const TENANT_HEALTH = ["poisoned", "failing", "stale", "pending", "healthy"] as const;
export type TenantHealth = (typeof TENANT_HEALTH)[number];

/** granted: the last run reached Graph; missing: no consent (or revoked); permission missing: Graph answered 403. */
export type ConsentState = "granted" | "missing" | "permission missing" | "unknown";

const READ_TIMEOUT_IN_MS = 10_000;

/** The latest complete snapshot's size and the mirror's last round, bounded; what cannot be read is left out. */
export async function readTenantHealthFacts(stores: Pick<StorageClients, "store" | "mirror">): Promise<TenantHealthFacts> {
  const abortSignal = AbortSignal.timeout(READ_TIMEOUT_IN_MS);
  const [latest, state] = await Promise.all([stores.store.getLatestSnapshot({ abortSignal }).catch(() => undefined), stores.mirror.getDeltaState({ abortSignal }).catch(() => undefined)]);
  return {
    ...(latest ? { userCount: latest.userCount } : {}),
    ...(state?.state.deltaLink ? { mirrorRoundAt: state.state.savedAt } : {}),
  };
}

/**
 * The facts of a run that made a round of the mirror and no snapshot (most runs: the incremental
 * round of every tick), without reading the stores again: the mirror's round completed when its run
 * ended, and the latest snapshot (its user count) is the one before. Undefined for any other run
 * (a snapshot, a failure): its facts are read (readTenantHealthFacts).
 */
export function healthFactsOfMirrorRound(result: Pick<DueRunResult, "snapshot" | "mirror"> | undefined): TenantHealthFacts | undefined {
  if (result === undefined || result.snapshot !== undefined || result.mirror?.status !== "succeeded" || result.mirror.endedAt === undefined) return undefined;
  return { mirrorRoundAt: result.mirror.endedAt };
}

const failed = (record: TenantRecord) => record.lastOutcome === "failed" || record.lastOutcome === "poisoned";

export function consentState(record: TenantRecord): ConsentState {
  const code = failed(record) ? record.lastErrorCode : undefined;
  if (code !== undefined && (ERROR_TYPE_PROBLEMS.consent as readonly string[]).includes(code)) return "missing";
  if (code !== undefined && (ERROR_TYPE_PROBLEMS.permission as readonly string[]).includes(code)) return "permission missing";
  if (record.lastSuccessAt) return "granted";
  return "unknown";
}

export function tenantHealth(record: TenantRecord, now: Date = new Date()): TenantHealth {
  if (record.lastOutcome === "poisoned") return "poisoned";
  if (failed(record)) return "failing";
  if (record.mirrorRoundAt && now.getTime() - record.mirrorRoundAt.getTime() > STALE_MIRROR_AFTER_IN_MS) return "stale";
  if (!record.lastSuccessAt) return "pending";
  return "healthy";
}

export function isUnhealthy(health: TenantHealth): boolean {
  return health === "poisoned" || health === "failing" || health === "stale";
}

/** Sort order: worst health first, then the longest since a success (never first), then tenant id. */
export function worstFirst(a: TenantRecord, b: TenantRecord, now: Date = new Date()): number {
  const rank = TENANT_HEALTH.indexOf(tenantHealth(a, now)) - TENANT_HEALTH.indexOf(tenantHealth(b, now));
  if (rank !== 0) return rank;
  const since = (a.lastSuccessAt?.getTime() ?? 0) - (b.lastSuccessAt?.getTime() ?? 0);
  if (since !== 0) return since;
  return a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0;
}
