/**
 * The writer lease as the holder sees it: the lease entity's ETag and expiry, and this process's
 * own view of whether it still holds it. A run writes only while `assertHeld()` passes: the lease
 * must have been renewed, by this process's monotonic clock, less than its duration minus a
 * safety margin ago, and its expiry (wall clock) must be more than that margin away. A process that
 * was frozen (SIGSTOP, a GC pause, a VM live-migration, a suspended laptop) therefore sees its lease
 * as lost as soon as it wakes, before it sends anything. Writes that were already past the check
 * are stopped by the storage-side fences (docs/storage.md, "Fencing").
 */
import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { createLeaseLostError } from "../tables/leaseErrors.js";

export type LeaseTrigger = SyncTrigger;

export interface TookOverFrom {
  owner: string;
  runId?: string;
  /** When its lease expired (or would have: a dead local holder's is taken before). */
  expiredAt: Date;
  /** `expired`: it stopped renewing and the lease ran out; `holderGone`: a process of this machine that no longer exists. */
  reason: "expired" | "holderGone";
  /** `<host> (pid <pid>)` of the holder. */
  host: string;
}

/** The log line of a lease taken from a dead local holder before it expired, else undefined. */
export function deadHolderTakeoverLine(lease: Pick<WriterLease, "tookOverFrom">): string | undefined {
  const from = lease.tookOverFrom;
  if (from?.reason !== "holderGone") return undefined;
  return (
    `Took the writer lease over at once from ${from.runId ? `run ${from.runId}` : "a run"} on ${from.host}: that process no longer exists on this machine, ` +
    `so its lease (until ${from.expiredAt.toISOString()}) was not waited for.`
  );
}

export interface WriterLeaseInit {
  owner: string;
  trigger: LeaseTrigger;
  durationInMs: number;
  acquiredAt: Date;
  tookOverFrom?: TookOverFrom;
}

/** The safety margin: a third of the lease, at most a minute. */
export function leaseSafetyMarginInMs(durationInMs: number): number {
  return Math.min(Math.floor(durationInMs / 3), 60_000);
}

export class WriterLease implements LosableLeaseGuard {
  readonly owner: string;
  readonly trigger: LeaseTrigger;
  readonly durationInMs: number;
  readonly safetyMarginInMs: number;
  readonly acquiredAt: Date;
  /** The holder this lease was taken over from, when its lease had expired. */
  readonly tookOverFrom?: TookOverFrom;
  /** The lease entity's ETag after our last write of it. */
  etag = "";
  /** When the lease expires (as written in the lease entity). */
  expiresAt: Date;
  /** The run the holder is writing, once known. */
  runId?: string;
  #validUntil = Number.NEGATIVE_INFINITY;
  #renewedAt = 0;
  #lost: Error | undefined;
  readonly #stopped = new AbortController();
  #chain: Promise<unknown> = Promise.resolve();

  constructor(init: WriterLeaseInit) {
    this.owner = init.owner;
    this.trigger = init.trigger;
    this.durationInMs = init.durationInMs;
    this.safetyMarginInMs = leaseSafetyMarginInMs(init.durationInMs);
    this.acquiredAt = init.acquiredAt;
    this.expiresAt = new Date(init.acquiredAt.getTime() + init.durationInMs);
    if (init.tookOverFrom) this.tookOverFrom = init.tookOverFrom;
  }

  /** Aborted once the lease is known to be lost. */
  get signal(): AbortSignal {
    return this.#stopped.signal;
  }

  /** Why the lease is lost, once it is. */
  get lost(): Error | undefined {
    return this.#lost;
  }

  assertHeld(): void {
    if (this.#lost) throw this.#lost;
    const now = performance.now();
    if (now > this.#validUntil || Date.now() > this.expiresAt.getTime() - this.safetyMarginInMs) {
      const since = Math.round((now - this.#renewedAt) / 1000);
      this.markLost(createLeaseLostError("lapsed", { runId: this.runId, sinceRenewalInSeconds: since, leaseSeconds: Math.round(this.durationInMs / 1000) }));
      throw this.#lost!;
    }
  }

  markLost(error: Error): void {
    if (this.#lost) return;
    this.#lost = error;
    this.#stopped.abort(error);
  }

  /**
   * Records a successful write of the lease entity that was sent at `sentAt` (performance.now())
   * with this expiry: the lease is held, by our clock, until `sentAt + duration - margin`.
   */
  renewed(etag: string, expiresAt: Date, sentAt: number): void {
    this.etag = etag;
    this.expiresAt = expiresAt;
    this.#renewedAt = sentAt;
    this.#validUntil = sentAt + this.durationInMs - this.safetyMarginInMs;
  }

  /** Runs writes of the lease entity one at a time: each needs the ETag the previous one returned. */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(operation);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
