/**
 * What started a run, as the run records, the writer lease, `runs` and telemetry's `trigger`
 * dimension say it: `timer` the timer function (single-tenant mode), `cli` a person or script
 * (`run`, `run --tenant`), `queue` a tenant message (the queue-triggered `tenantSync` or `worker`,
 * multi-tenant mode).
 */
export const SYNC_TRIGGERS = ["timer", "cli", "queue"] as const;

export type SyncTrigger = (typeof SYNC_TRIGGERS)[number];

export function isSyncTrigger(value: unknown): value is SyncTrigger {
  return typeof value === "string" && (SYNC_TRIGGERS as readonly string[]).includes(value);
}
