/**
 * The writer lease's errors, in one place (msal-node style: messages keyed by what happened, one
 * factory). `run_in_progress`: another run holds the lease, this one did nothing. `lease_lost`: this
 * run held the lease and lost it, and wrote nothing more.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

const RAISE = "If this happens often, raise USER_SYNC_LEASE_SECONDS.";

export type LeaseLostReason =
  /** Its renewal (or a write carrying the lease) found the lease taken over. */
  | "takenOver"
  /** By this process's own clocks it went too long without renewing (frozen, suspended, starved). */
  | "lapsed"
  /** A partition's fence row had moved on: another run took the partition over. */
  | "partitionTakenOver"
  /** Another run saved the mirror's delta state meanwhile. */
  | "deltaStateSaved"
  /** A later run marked this mirror run failed. */
  | "runMarkedFailed";

export interface LeaseLostContext {
  runId?: string | undefined;
  /** For `lapsed`: seconds since the last renewal, and the lease's length. */
  sinceRenewalInSeconds?: number;
  leaseSeconds?: number;
  /** For `partitionTakenOver`: the partition and table. */
  partitionKey?: string;
  table?: string;
}

/** Each way of losing the lease: its code (always `lease_lost`) and message. */
export const LeaseLostFailures: Record<LeaseLostReason, { code: UserSyncErrorCode; message: (c: LeaseLostContext) => string }> = {
  takenOver: {
    code: "lease_lost",
    message: (c) =>
      `Run ${c.runId ?? "(starting)"} lost its writer lease: it was not renewed in time and another run took it over. This run stopped writing; the other run continues the work. ${RAISE}`,
  },
  lapsed: {
    code: "lease_lost",
    message: (c) =>
      `Run ${c.runId ?? "(starting)"} stopped: its writer lease was last renewed ${c.sinceRenewalInSeconds ?? "?"} s ago, too long for a ${c.leaseSeconds ?? "?"} s lease (this process was paused, suspended or too slow to renew it), so another run may have taken over. It wrote nothing more. ${RAISE}`,
  },
  partitionTakenOver: {
    code: "lease_lost",
    message: (c) =>
      `Another run took over partition ${c.partitionKey ?? "?"} of table ${c.table ?? "?"} after this run's writer lease expired (this process was paused or too slow to renew it). This run stopped writing; the other run continues the work. ${RAISE}`,
  },
  deltaStateSaved: {
    code: "lease_lost",
    message: (c) =>
      `Another run saved the mirror's delta state while run ${c.runId ?? "?"} was running (this run's writer lease had expired and was taken over); this run's delta link was not saved and it wrote nothing more. The other run keeps the mirror up to date.`,
  },
  runMarkedFailed: {
    code: "lease_lost",
    message: (c) => `Mirror run ${c.runId ?? "?"} was marked failed by a later run (this run's writer lease had expired); it wrote nothing more.`,
  },
};

export function createLeaseLostError(reason: LeaseLostReason, context: LeaseLostContext = {}): UserSyncError {
  const entry = LeaseLostFailures[reason];
  return new UserSyncError(entry.code, entry.message(context), { details: { reason, ...(context.runId ? { runId: context.runId } : {}) } });
}
