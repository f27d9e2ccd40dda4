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
import { linkedAbortController } from "../shared/abort.js";
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { RunControl } from "../sync/snapshotPorts.js";
import { nextOccurrence } from "../sync/dueWork.js";
import { scheduleDueTenants, type ScheduleResult } from "./scheduler.js";
import { MAX_DEQUEUE_COUNT, type ReceivedTenantMessage } from "./tenantQueue.js";
import { handleTenantSyncMessage, tenantLogger, type TenantSyncOutcome } from "./tenantSyncHandler.js";

/** host.json `extensions.queues.visibilityTimeout` (the wait before a failed message reappears). */
export const RETRY_DELAY_IN_SECONDS = 30;
/**
 * How long a received message stays invisible before its keeper extends it (every third of it):
 * also how long the message of a worker that died waits before another worker sees it.
 */
export const MESSAGE_VISIBILITY_IN_SECONDS = 120;
/** The continuation of a paused run is queued with this delay. */
export const DEFAULT_CONTINUATION_DELAY_IN_SECONDS = 30;

export interface RunWorkerOptions {
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
  /** When stopping, messages under way finish (or pause at their next checkpoint with this signal). */
  abortSignal?: AbortSignal;
  runControl?: RunControl;
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

export async function runWorker(options: RunWorkerOptions): Promise<WorkerSummary> {
  const { services, logger } = options;
  const queue = services.queue;
  const signal = options.abortSignal;
  const visibilityInSeconds = options.messageVisibilityInSeconds ?? MESSAGE_VISIBILITY_IN_SECONDS;
  const summary: WorkerSummary = { outcomes: [], scheduledOccurrences: [] };
  const record = (tenantId: string, outcome: TenantSyncOutcome | "poisoned" | "retry") => {
    summary.outcomes.push({ tenantId, outcome });
    options.onOutcome?.(tenantId, outcome);
  };
  await services.registry.createTableIfNotExists(signal ? { abortSignal: signal } : {});
  await queue.createQueuesIfNotExist(signal ? { abortSignal: signal } : {});
  if (options.schedule !== false) await scheduleDueTenants({ registry: services.registry, queue, logger, ...(signal ? { abortSignal: signal } : {}) });

  // The timer's part: the scheduler's pass at each occurrence, beside the message loop; it stops with it.
  const stopScheduling = linkedAbortController(signal);
  const scheduling =
    options.schedule !== false && !options.once && options.scheduleExpression !== undefined ? keepScheduling(options.scheduleExpression, stopScheduling.signal) : Promise.resolve();
  try {
    await processMessages();
  } finally {
    stopScheduling.abort();
    stopScheduling.dispose();
    await scheduling;
  }
  return summary;

  async function keepScheduling(expression: string, stop: AbortSignal): Promise<void> {
    let after = new Date();
    while (!stop.aborted) {
      const occurrence = nextOccurrence(expression, after);
      if (occurrence === undefined) {
        logger.warn(`USER_SYNC_SCHEDULE (${expression}) has no further occurrence: tenants are no longer queued on a schedule.`);
        return;
      }
      // In steps of at most an hour, so that a rare schedule never overflows a timer.
      while (!stop.aborted && Date.now() < occurrence.getTime()) {
        await sleep(Math.min(occurrence.getTime() - Date.now(), MAX_TIMER_IN_MS), undefined, { signal: stop }).catch(() => undefined);
      }
      if (stop.aborted) return;
      summary.scheduledOccurrences.push(occurrence);
      try {
        const result = await scheduleDueTenants({ registry: services.registry, queue, logger, occurrence, abortSignal: stop });
        options.onScheduled?.(occurrence, result);
      } catch (error) {
        // The next occurrence tries again (as the timer's next tick would).
        if (!stop.aborted) logger.error(`The scheduler's pass for ${occurrence.toISOString()} failed: ${describeError(error)}`);
      }
      // Occurrences missed while the pass ran are not caught up (the host's timer runs a late tick once, too).
      after = new Date(Math.max(occurrence.getTime(), Date.now()));
    }
  }

  async function processMessages(): Promise<void> {
    const active = new Set<Promise<void>>();
    const maxWait = options.maxPollingIntervalInMs ?? (options.once ? 1000 : 10_000);
    let wait = 100;
    while (!signal?.aborted) {
      const room = options.concurrency - active.size;
      let received: ReceivedTenantMessage[] = [];
      if (room > 0) {
        try {
          received = await queue.receiveTenantMessages(room, visibilityInSeconds, signal ? { abortSignal: signal } : {});
        } catch (error) {
          // Stopping: no new messages; the runs under way finish below.
          if (signal?.aborted) break;
          throw error;
        }
      }
      for (const message of received) {
        const task = handle(message).finally(() => active.delete(task));
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
      if (options.once && (await queue.approximateMessageCount(signal ? { abortSignal: signal } : {}).catch((error: unknown) => (signal?.aborted ? 0 : Promise.reject(error)))) === 0) break;
      await sleep(Math.min(wait, maxWait), undefined, signal ? { signal } : {}).catch(() => undefined);
      wait = Math.min(wait * 2, maxWait);
    }
    await Promise.all(active);
  }

  async function handle(received: ReceivedTenantMessage): Promise<void> {
    const current = { messageId: received.messageId, popReceipt: received.popReceipt };
    if (received.message === undefined) {
      logger.error(`Message ${received.messageId} is not a tenant message: moved to the poison queue.`);
      await queue.moveToPoison(received).catch((error: unknown) => logger.error(`Could not move it: ${describeError(error)}`));
      record("", "poisoned");
      return;
    }
    const tenantId = received.message.tenantId;
    // Every line about this tenant's message names the tenant, as the run's own lines do.
    const tenantLog = tenantLogger(logger, tenantId);
    // Keep the message invisible while the run lasts (the host does the same for its functions).
    const keeper = setInterval(() => {
      void queue.extendVisibility(current, visibilityInSeconds).then(
        (popReceipt) => (current.popReceipt = popReceipt),
        (error: unknown) => tenantLog.warn(`Could not extend the visibility of the tenant's message: ${describeError(error)}`),
      );
    }, (visibilityInSeconds * 1000) / 3);
    keeper.unref();
    // The run's own signal, aborted with the worker's: the signals the run composes per request
    // go with the run (composed from the worker's signal, they stayed for the life of the process:
    // about 185 a tenant's run, measured with heap snapshots on Node 22).
    const run = linkedAbortController(signal);
    try {
      const outcome = await handleTenantSyncMessage(received.message, {
        services,
        queue,
        logger,
        trigger: "queue",
        dequeueCount: received.dequeueCount,
        maxDequeueCount: MAX_DEQUEUE_COUNT,
        continuationDelayInSeconds: options.continuationDelayInSeconds ?? DEFAULT_CONTINUATION_DELAY_IN_SECONDS,
        ...(signal ? { abortSignal: run.signal } : {}),
        ...(options.runControl ? { runControl: options.runControl } : {}),
      });
      clearInterval(keeper);
      if (outcome === "stopped") {
        // Left for the next worker, visible again at once; not a failed attempt.
        await queue.extendVisibility(current, 0).catch((error: unknown) => tenantLog.warn(`Could not release the tenant's message (it reappears within ${visibilityInSeconds} s): ${describeError(error)}`));
      } else {
        // A message that reappeared while this run was frozen was taken by another worker (which
        // deferred or ran it): it is no longer this worker's to delete.
        await queue.deleteTenantMessage(current).catch((error: unknown) => logger.warn(`Could not delete tenant ${tenantId}'s message (another worker took it meanwhile, or it is gone): ${describeError(error)}`));
      }
      record(tenantId, outcome);
    } catch {
      // The handler logged the failure and recorded it on the tenant's registry row.
      clearInterval(keeper);
      if (received.dequeueCount >= MAX_DEQUEUE_COUNT) {
        await queue.moveToPoison({ ...received, ...current }).catch((moveError: unknown) => tenantLog.error(`Could not move the tenant's message to the poison queue: ${describeError(moveError)}`));
        tenantLog.error(`The tenant's message failed ${received.dequeueCount} times: moved to the poison queue (see: entra-user-sync tenants show ${tenantId}).`);
        record(tenantId, "poisoned");
      } else {
        // Reappears after the retry delay (host.json visibilityTimeout), as with the host.
        await queue.extendVisibility(current, options.retryDelayInSeconds ?? RETRY_DELAY_IN_SECONDS).catch(() => undefined);
        record(tenantId, "retry");
      }
    } finally {
      run.dispose();
    }
  }
}
