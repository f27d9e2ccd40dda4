/**
 * What a store needs of the writer lease before it writes: a run writes only while it holds the
 * lease. The snapshot store's `WriterLease` implements it; the mirror only sees this interface.
 */
export interface LeaseGuard {
  /**
   * Throws `lease_lost` unless the lease is still held by this process's own clocks (monotonic time
   * since its last successful renewal, with a safety margin, and wall time against its expiry).
   * Called before every write; once it has thrown, it always throws.
   */
  assertHeld(): void;
  /** Aborted when the lease is known to be lost: readers stop too. */
  readonly signal: AbortSignal;
  /** Random id of the holder, written into the fence rows it claims. */
  readonly owner: string;
  /**
   * Set when the lease was taken over from a holder that did not release it (it expired, or its
   * process is gone): that holder may still have writes on the wire, so every partition is claimed
   * at once. A lease created after its last holder released it sets nothing: partitions are then
   * claimed at their first write (PartitionFence.claimOnFirstWrite).
   */
  readonly tookOverFrom?: unknown;
}

/** Stops a guard for good (a fence row or the lease entity showed that another run took over). */
export interface LosableLeaseGuard extends LeaseGuard {
  markLost(error: Error): void;
}
