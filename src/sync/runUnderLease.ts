/**
 * The lease lifecycle every kind of run goes through (docs/storage.md, "The writer lease"): the
 * writer lease is taken (or the run fails with `run_in_progress` having written nothing), one
 * keeper renews it while the run works, and it is released at the end unless it was lost. A lost
 * lease is translated once, here: an error that comes from losing it becomes the lease's own error
 * (`lease_lost`), the run writes nothing more, and the lease is not released (another run holds it).
 */
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { keepLease, type KeptLease, type LeaseKeeper, type LeaseRenewer } from "../snapshots/leaseKeeper.js";

/** What the lifecycle needs of a lease (WriterLease in production). */
export interface LifecycleLease extends KeptLease {
  /** Aborted when the lease is lost. */
  readonly signal: AbortSignal;
}

/** The store the lease lives in, as the lifecycle sees it (SnapshotStoreClient in production). */
export interface LeaseLifecycleStore<TLease extends LifecycleLease> extends LeaseRenewer<TLease> {
  releaseLease(lease: TLease): Promise<void>;
}

export interface BeginRunUnderLeaseOptions<TLease extends LifecycleLease> {
  store: LeaseLifecycleStore<TLease>;
  logger: Logger;
  /** Takes the lease (throws `run_in_progress` when another run holds it). */
  acquire: () => Promise<TLease>;
  /** A line logged (warn) once the lease is held, e.g. that it was taken over from a dead local holder. */
  heldLine?: (lease: TLease) => string | undefined;
}

export class RunUnderLease<TLease extends LifecycleLease> {
  readonly lease: TLease;
  readonly #store: LeaseLifecycleStore<TLease>;
  readonly #logger: Logger;
  readonly #keeper: LeaseKeeper;
  #lost = false;

  private constructor(store: LeaseLifecycleStore<TLease>, lease: TLease, logger: Logger) {
    this.#store = store;
    this.lease = lease;
    this.#logger = logger;
    // One keeper renews the lease for every part of the run; once it is lost, nothing more is written.
    this.#keeper = keepLease(store, lease, logger);
  }

  /** Takes the lease and starts keeping it. */
  static async begin<TLease extends LifecycleLease>(options: BeginRunUnderLeaseOptions<TLease>): Promise<RunUnderLease<TLease>> {
    const lease = await options.acquire();
    const line = options.heldLine?.(lease);
    if (line) options.logger.warn(line);
    return new RunUnderLease(options.store, lease, options.logger);
  }

  /** Takes the lease, runs `work` under it, and ends the lifecycle (whatever `work` does). */
  static async run<TLease extends LifecycleLease, T>(options: BeginRunUnderLeaseOptions<TLease>, work: (held: RunUnderLease<TLease>) => Promise<T>): Promise<T> {
    const held = await RunUnderLease.begin(options);
    try {
      return await work(held);
    } finally {
      await held.end();
    }
  }

  /** Whether `error` comes from losing the lease (or the lease is lost anyway). */
  isLoss(error: unknown): boolean {
    return isUserSyncError(error, "lease_lost") || this.lease.lost !== undefined;
  }

  /**
   * The lost-lease translation: when `error` comes from losing the lease, the run is marked lost
   * (the lease is not released) and the lease's own error is returned; else `error` as it is.
   */
  translate(error: unknown): unknown {
    if (!this.isLoss(error)) return error;
    this.markLost();
    return this.lease.lost ?? error;
  }

  /** The run stops on a lost lease (found by its own means): the lease is not released at the end. */
  markLost(): void {
    this.#lost = true;
  }

  /** Throws (and marks the run lost) when the lease is no longer held; `check`: the lease's own check (WriterLease.assertHeld). */
  assertHeld(check: () => void = () => {
    if (this.lease.lost) throw this.lease.lost;
  }): void {
    try {
      check();
    } catch (error) {
      this.markLost();
      throw error;
    }
  }

  /** Stops keeping the lease, and releases it unless it was lost (a release that fails is logged: the lease expires by itself). */
  async end(): Promise<void> {
    await this.#keeper.stop();
    if (this.#lost || this.lease.lost) return;
    try {
      await this.#store.releaseLease(this.lease);
    } catch (error) {
      this.#logger.warn(`Could not release the writer lease (it expires by itself): ${describeError(error)}`);
    }
  }
}
