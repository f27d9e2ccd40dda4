/**
 * `worker`: the tenant queue processed outside the Functions host (locally, in tests, on a VM),
 * with the same handler as the queue-triggered function and the host's queue semantics: up to
 * `concurrency` messages at once, each kept invisible while its run lasts, deleted when handled,
 * left to reappear after a failure, and moved to `<queue>-poison` after MAX_DEQUEUE_COUNT attempts.
 * Without `once`, it is the timer too: the scheduler's pass at every occurrence of the timer's
 * schedule (USER_SYNC_SCHEDULE), fenced per occurrence so that several workers queue a tenant once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { TenantSyncServices } from "./tenantSyncServices.js";
import { linkedAbortController, type OperationOptions } from "../shared/abort.js";
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { RunControl } from "../sync/snapshotPorts.js";
import { nextOccurrence } from "../sync/dueWork.js";
import { scheduleDueTenants, type ScheduleResult } from "./scheduler.js";
import { MAX_DEQUEUE_COUNT, MAX_MESSAGES_PER_RECEIVE, type ReceivedTenantMessage } from "./tenantQueue.js";
import { handleTenantSyncMessage, tenantLogger, type TenantSyncOutcome } from "./tenantSyncHandler.js";
import { DEFAULT_CONTINUATION_DELAY_IN_SECONDS, MESSAGE_VISIBILITY_IN_SECONDS, RECEIVE_BATCH_WAIT_IN_MS, RETRY_DELAY_IN_SECONDS } from "../configuration/defaults.js";
import { ReceivePacing } from "./receivePacing.js";


/** `abortSignal`: when stopping, messages under way finish (or pause at their next checkpoint with this signal). */
export interface RunWorkerOptions extends OperationOptions {
  services: TenantSyncServices;
  logger: Logger;
  /** Messages handled at once (1–64). */
  concurrency: number;
  /** Drain the queue (invisible messages too, such as continuations) and return. */
  once: boolean;
  /** Queue the registered tenants first (the scheduler's pass); default true. */
  schedule?: boolean;
  /**
   * The timer's schedule (USER_SYNC_SCHEDULE, 6-field NCRONTAB, UTC). Without `once` (and unless
   * `schedule` is false), the scheduler's pass runs again at every occurrence of it while messages
   * are processed, until the abort signal.
   */
  scheduleExpression?: string;
  continuationDelayInSeconds?: number;
  /** How long a taken message stays invisible before the worker extends it. Default MESSAGE_VISIBILITY_IN_SECONDS. */
  messageVisibilityInSeconds?: number;
  /** How long a failed message stays invisible before its next attempt. Default RETRY_DELAY_IN_SECONDS. */
  retryDelayInSeconds?: number;
  runControl?: RunControl;
  /** The longest a free slot waits for others before the worker receives for it. Default RECEIVE_BATCH_WAIT_IN_MS. */
  receiveBatchWaitInMs?: number;
  /** Longest wait between polls of an empty queue. Default 10 s (1 s with `once`). */
  maxPollingIntervalInMs?: number;
  /** Called after each of the schedule's passes (scheduleExpression) with what it queued and skipped. */
  onScheduled?: (occurrence: Date, result: ScheduleResult) => void;
  /** Called with each handled message's outcome. */
  onOutcome?: (tenantId: string, outcome: TenantSyncOutcome | "poisoned" | "retry") => void;
}

export interface WorkerSummary {
  outcomes: Array<{ tenantId: string; outcome: TenantSyncOutcome | "poisoned" | "retry" }>;
  /** The schedule's occurrences this worker ran the scheduler's pass for. */
  scheduledOccurrences: Date[];
}

/** The longest single timer while waiting for an occurrence (Node's timers overflow past 24.8 days). */
const MAX_TIMER_IN_MS = 60 * 60_000;

export function runWorker(options: RunWorkerOptions): Promise<WorkerSummary> {
  return new TenantQueueWorker(options).run();
}

type MessageOutcome = TenantSyncOutcome | "poisoned" | "retry";
/** A taken message's id and its current pop receipt (each extension of its visibility gives a new one). */
type HeldMessage = { messageId: string; popReceipt: string };

/** The worker (runWorker): the scheduler's passes beside a loop that takes and handles the tenant queue's messages. */
export class TenantQueueWorker {
  readonly #options: RunWorkerOptions;
  readonly #queue: TenantSyncServices["queue"];
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #visibilityInSeconds: number;
  readonly #summary: WorkerSummary = { outcomes: [], scheduledOccurrences: [] };

  constructor(options: RunWorkerOptions) {
    this.#options = options;
    this.#queue = options.services.queue;
    this.#logger = options.logger;
    this.#signal = options.abortSignal;
    this.#visibilityInSeconds = options.messageVisibilityInSeconds ?? MESSAGE_VISIBILITY_IN_SECONDS;
  }

  async run(): Promise<WorkerSummary> {
    const options = this.#options;
    const signal = this.#signal;
    const registry = options.services.registry;
    await registry.createTableIfNotExists({ abortSignal: signal });
    await this.#queue.createQueuesIfNotExist({ abortSignal: signal });
    if (options.schedule !== false) await scheduleDueTenants({ registry, queue: this.#queue, logger: this.#logger, abortSignal: signal });
    // The timer's part: the scheduler's pass at each occurrence, beside the message loop; it stops with it.
    const stopScheduling = linkedAbortController(signal);
    const scheduling =
      options.schedule !== false && !options.once && options.scheduleExpression !== undefined ? this.#keepScheduling(options.scheduleExpression, stopScheduling.signal) : Promise.resolve();
    try {
      await this.#processMessages();
    } finally {
      stopScheduling.abort();
      stopScheduling.dispose();
      await scheduling;
    }
    return this.#summary;
  }

  #record(tenantId: string, outcome: MessageOutcome): void {
    this.#summary.outcomes.push({ tenantId, outcome });
    this.#options.onOutcome?.(tenantId, outcome);
  }

  async #keepScheduling(expression: string, stop: AbortSignal): Promise<void> {
    let after = new Date();
    while (!stop.aborted) {
      const occurrence = nextOccurrence(expression, after);
      if (occurrence === undefined) {
        this.#logger.warn(`USER_SYNC_SCHEDULE (${expression}) has no further occurrence: tenants are no longer queued on a schedule.`);
        return;
      }
      // In steps of at most an hour, so that a rare schedule never overflows a timer.
      while (!stop.aborted && Date.now() < occurrence.getTime()) {
        await sleep(Math.min(occurrence.getTime() - Date.now(), MAX_TIMER_IN_MS), undefined, { signal: stop }).catch(() => undefined);
      }
      if (stop.aborted) return;
      this.#summary.scheduledOccurrences.push(occurrence);
      await this.#schedulePass(occurrence, stop);
      // Occurrences missed while the pass ran are not caught up (the host's timer runs a late tick once, too).
      after = new Date(Math.max(occurrence.getTime(), Date.now()));
    }
  }

  /** The scheduler's pass for one occurrence; a failed pass is logged (the next occurrence tries again, as the timer's next tick would). */
  async #schedulePass(occurrence: Date, stop: AbortSignal): Promise<void> {
    try {
      const result = await scheduleDueTenants({ registry: this.#options.services.registry, queue: this.#queue, logger: this.#logger, occurrence, abortSignal: stop });
      this.#options.onScheduled?.(occurrence, result);
    } catch (error) {
      if (!stop.aborted) this.#logger.error(`The scheduler's pass for ${occurrence.toISOString()} failed: ${describeError(error)}`);
    }
  }

  async #processMessages(): Promise<void> {
    const options = this.#options;
    const signal = this.#signal;
    const active = new Set<Promise<void>>();
    const maxWait = options.maxPollingIntervalInMs ?? (options.once ? 1000 : 10_000);
    // Receives bring several messages: when half the slots are free, or a slot waited long enough.
    const pacing = new ReceivePacing({ concurrency: options.concurrency, batchWaitInMs: options.receiveBatchWaitInMs ?? RECEIVE_BATCH_WAIT_IN_MS, drainedPollInMs: maxWait });
    let wait = 100;
    while (!signal?.aborted) {
      const room = options.concurrency - active.size;
      const hold = pacing.waitInMs(active.size);
      if (room > 0 && hold > 0) {
        // A run's end may free the slots it waits for (or end the last run): woken by it, or after the wait.
        await Promise.race([...active, sleep(hold, undefined, signal ? { signal } : {}).catch(() => undefined)]);
        continue;
      }
      const received = room > 0 ? await this.#receive(room) : [];
      // Stopping: no new messages; the runs under way finish below.
      if (received === undefined) break;
      if (room > 0) pacing.received(Math.min(room, MAX_MESSAGES_PER_RECEIVE), received.length);
      for (const message of received) {
        const task = this.#handle(message).finally(() => active.delete(task));
        active.add(task);
      }
      if (received.length > 0) {
        wait = 100;
        continue;
      }
      if (room <= 0 || active.size > 0) {
        // Full, or waiting for runs under way: wake when one ends (or after a poll interval).
        await Promise.race([...active, sleep(Math.min(wait, maxWait))]);
        wait = Math.min(wait * 2, maxWait);
        continue;
      }
      if (options.once && (await this.#queueIsEmpty())) break;
      await sleep(Math.min(wait, maxWait), undefined, signal ? { signal } : {}).catch(() => undefined);
      wait = Math.min(wait * 2, maxWait);
    }
    await Promise.all(active);
  }

  /** Up to `room` messages; undefined when the worker is stopping. */
  async #receive(room: number): Promise<ReceivedTenantMessage[] | undefined> {
    const signal = this.#signal;
    try {
      return await this.#queue.receiveTenantMessages(room, this.#visibilityInSeconds, { abortSignal: signal });
    } catch (error) {
      if (signal?.aborted) return undefined;
      throw error;
    }
  }

  async #queueIsEmpty(): Promise<boolean> {
    const signal = this.#signal;
    const count = await this.#queue.approximateMessageCount({ abortSignal: signal }).catch((error: unknown) => (signal?.aborted ? 0 : Promise.reject(error)));
    return count === 0;
  }

  async #handle(received: ReceivedTenantMessage): Promise<void> {
    if (received.message === undefined) {
      this.#logger.error(`Message ${received.messageId} is not a tenant message: moved to the poison queue.`);
      await this.#queue.moveToPoison(received).catch((error: unknown) => this.#logger.error(`Could not move it: ${describeError(error)}`));
      this.#record("", "poisoned");
      return;
    }
    const tenantId = received.message.tenantId;
    // Every line about this tenant's message names the tenant, as the run's own lines do.
    const tenantLog = tenantLogger(this.#logger, tenantId);
    const current: HeldMessage = { messageId: received.messageId, popReceipt: received.popReceipt };
    const keeper = this.#keepInvisible(current, tenantLog);
    // The run's own signal, aborted with the worker's: the signals the run composes per request
    // go with the run (composed from the worker's signal, they stayed for the life of the process:
    // about 185 a tenant's run, measured with heap snapshots on Node 22).
    const run = linkedAbortController(this.#signal);
    try {
      const outcome = await this.#runTenant(received, received.message, run.signal);
      clearInterval(keeper);
      await this.#settle(current, tenantId, outcome, tenantLog);
      this.#record(tenantId, outcome);
    } catch {
      // The handler logged the failure and recorded it on the tenant's registry row.
      clearInterval(keeper);
      this.#record(tenantId, await this.#afterFailure(received, current, tenantLog));
    } finally {
      run.dispose();
    }
  }

  /** Keeps the message invisible while the run lasts (the host does the same for its functions). */
  #keepInvisible(current: HeldMessage, tenantLog: Logger): NodeJS.Timeout {
    const keeper = setInterval(() => {
      void this.#queue.extendVisibility(current, this.#visibilityInSeconds).then(
        (popReceipt) => (current.popReceipt = popReceipt),
        (error: unknown) => tenantLog.warn(`Could not extend the visibility of the tenant's message: ${describeError(error)}`),
      );
    }, (this.#visibilityInSeconds * 1000) / 3);
    keeper.unref();
    return keeper;
  }

  #runTenant(received: ReceivedTenantMessage, message: NonNullable<ReceivedTenantMessage["message"]>, runSignal: AbortSignal): Promise<TenantSyncOutcome> {
    const options = this.#options;
    return handleTenantSyncMessage(message, {
      services: options.services,
      queue: this.#queue,
      logger: this.#logger,
      trigger: "queue",
      dequeueCount: received.dequeueCount,
      maxDequeueCount: MAX_DEQUEUE_COUNT,
      continuationDelayInSeconds: options.continuationDelayInSeconds ?? DEFAULT_CONTINUATION_DELAY_IN_SECONDS,
      abortSignal: this.#signal && runSignal,
      ...(options.runControl ? { runControl: options.runControl } : {}),
    });
  }

  /** A handled message: released for the next worker when the run stopped, else deleted. */
  async #settle(current: HeldMessage, tenantId: string, outcome: TenantSyncOutcome, tenantLog: Logger): Promise<void> {
    if (outcome === "stopped") {
      // Left for the next worker, visible again at once; not a failed attempt.
      await this.#queue
        .extendVisibility(current, 0)
        .catch((error: unknown) => tenantLog.warn(`Could not release the tenant's message (it reappears within ${this.#visibilityInSeconds} s): ${describeError(error)}`));
      return;
    }
    // A message that reappeared while this run was frozen was taken by another worker (which
    // deferred or ran it): it is no longer this worker's to delete.
    await this.#queue
      .deleteTenantMessage(current)
      .catch((error: unknown) => this.#logger.warn(`Could not delete tenant ${tenantId}'s message (another worker took it meanwhile, or it is gone): ${describeError(error)}`));
  }

  /** A failed message: to the poison queue after MAX_DEQUEUE_COUNT attempts, else back after the retry delay. */
  async #afterFailure(received: ReceivedTenantMessage, current: HeldMessage, tenantLog: Logger): Promise<"poisoned" | "retry"> {
    if (received.dequeueCount >= MAX_DEQUEUE_COUNT) {
      await this.#queue.moveToPoison({ ...received, ...current }).catch((moveError: unknown) => tenantLog.error(`Could not move the tenant's message to the poison queue: ${describeError(moveError)}`));
      tenantLog.error(`The tenant's message failed ${received.dequeueCount} times: moved to the poison queue (see: entra-user-sync tenants show ${received.message!.tenantId}).`);
      return "poisoned";
    }
    // Reappears after the retry delay (host.json visibilityTimeout), as with the host.
    await this.#queue.extendVisibility(current, this.#options.retryDelayInSeconds ?? RETRY_DELAY_IN_SECONDS).catch(() => undefined);
    return "retry";
  }
}
