/**
 * When the worker receives tenant messages (src/fanout/worker.ts). Receiving for every slot that
 * frees up costs one queue request per run that ends, often for a single message (about 0.9 a
 * tenant in a tick of 1,000 idle tenants). The worker receives instead:
 * - at once when no run is under way (a worker that has nothing to do waits for nothing);
 * - when at least half its slots are free (a receive brings up to that many messages);
 * - else once a slot has been free for `batchWaitInMs` (the bound a message waits for a free slot
 *   beyond what it waited before);
 * - after a receive that found fewer messages than it asked for (the queue was drained, as far as
 *   this worker can see), not again before `drainedPollInMs` have passed, however many runs end
 *   meanwhile, unless none is left under way (the worker's polling interval of an empty queue).
 */
export interface ReceivePacingOptions {
  /** Messages handled at once. */
  concurrency: number;
  /** The longest a free slot waits for others to free up (RECEIVE_BATCH_WAIT_IN_MS). */
  batchWaitInMs: number;
  /** The wait after a receive that drained the queue, while runs are under way. */
  drainedPollInMs: number;
}

export class ReceivePacing {
  readonly #options: ReceivePacingOptions;
  /** When a slot was first seen free since the last receive. */
  #freeSince: number | undefined;
  /** When the last receive found the queue drained (undefined: it did not). */
  #drainedAt: number | undefined;

  constructor(options: ReceivePacingOptions) {
    this.#options = options;
  }

  /** How long to wait before receiving, with `active` runs under way: 0 to receive now (Infinity: no slot is free). */
  waitInMs(active: number, now: number = Date.now()): number {
    const { concurrency, batchWaitInMs, drainedPollInMs } = this.#options;
    const room = concurrency - active;
    if (room <= 0) return Number.POSITIVE_INFINITY;
    if (active === 0) return 0;
    if (this.#drainedAt !== undefined) return Math.max(0, this.#drainedAt + drainedPollInMs - now);
    if (room >= Math.ceil(concurrency / 2)) return 0;
    this.#freeSince ??= now;
    return Math.max(0, this.#freeSince + batchWaitInMs - now);
  }

  /** A receive asked for `asked` messages and got `got`. */
  received(asked: number, got: number, now: number = Date.now()): void {
    this.#freeSince = undefined;
    this.#drainedAt = got < asked ? now : undefined;
  }
}
