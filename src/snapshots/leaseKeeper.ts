/**
 * Keeps the writer lease renewed while a run works: every third of its duration, one renewal (an
 * If-Match write of the lease entity). The one place that renews the lease, for snapshot runs and
 * mirror rounds alike. A renewal that finds the lease taken over, or that comes after this process
 * was frozen past its safety margin, marks it lost: `lease.signal` aborts, and every later write
 * throws `lease_lost`.
 */
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/** What the keeper needs of a lease (WriterLease in production). */
export interface KeptLease {
  readonly durationInMs: number;
  readonly lost?: Error | undefined;
}

export interface LeaseRenewer<TLease extends KeptLease> {
  renewLease(lease: TLease): Promise<void>;
}

export interface LeaseKeeper {
  /** Stops renewing (waits for a renewal in flight). */
  stop(): Promise<void>;
}

export function keepLease<TLease extends KeptLease>(store: LeaseRenewer<TLease>, lease: TLease, logger: Logger): LeaseKeeper {
  let renewing: Promise<void> = Promise.resolve();
  const every = Math.max(250, Math.floor(lease.durationInMs / 3));
  const timer = setInterval(() => {
    renewing = renewing.then(async () => {
      if (lease.lost) return;
      try {
        await store.renewLease(lease);
      } catch (error) {
        // lease_lost is recorded on the lease itself (renewLease marks it); anything else is retried.
        if (!isUserSyncError(error, "lease_lost")) logger.warn(`Could not renew the writer lease (will retry): ${describeError(error)}`);
      }
    });
  }, every);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await renewing;
    },
  };
}
