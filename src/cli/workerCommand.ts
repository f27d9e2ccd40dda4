/**
 * `entra-user-sync worker [--concurrency N] [--once]`: queues the registered tenants (the
 * scheduler's pass), then processes the tenant queue with the queue-triggered function's handler.
 * `--once` drains the queue (continuations included) and exits; otherwise it keeps processing
 * messages until Ctrl+C and, as the Functions timer does, runs the scheduler's pass again at every
 * occurrence of USER_SYNC_SCHEDULE (several workers queue a tenant once per occurrence;
 * docs/tenants.md). Ctrl+C stops the schedule and stops taking messages; runs under way pause at
 * their next checkpoint and their messages are left for the next worker. Exit 0, 1 when a tenant
 * failed, 4 when Ctrl+C stopped `--once` before the queue was drained.
 */
import { TenantServices } from "../app/tenantServices.js";
import { redactingLogger, runLoggerOr } from "../shared/logger.js";
import { runWorker } from "../fanout/worker.js";
import { startTelemetry, stopTelemetry } from "../telemetry/telemetrySetup.js";
import { settingsError } from "../configuration/settingsError.js";
import { EXIT_FAILURE, EXIT_PAUSED, ExitCode } from "../shared/exitCodes.js";
import { handleInterrupts } from "./interrupt.js";
import { write, writeError } from "./output.js";

export interface WorkerCommandOptions {
  concurrency: number;
  once: boolean;
  schedule: boolean;
  continuationDelay?: number;
  retryDelay?: number;
  messageVisibility?: number;
  maxMinutes?: number;
}

export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const logger = redactingLogger({
    info: (m) => writeError(`${m}\n`),
    warn: (m) => writeError(`warning: ${m}\n`),
    error: (m) => writeError(`error: ${m}\n`),
  });
  // The process's clients log through the run they work for (its lines prefixed with the tenant),
  // and outside any run to stderr, not to the console's stdout: stdout is the summary only.
  const services = new TenantServices(process.env, runLoggerOr(logger));
  // The queue's settings are checked now, before any request.
  void services.queue;
  const scheduleExpression = options.once || !options.schedule ? undefined : workerSchedule(services.process.settings.schedule);
  // Each tenant's run is reported with its tenant_id, when APPLICATIONINSIGHTS_CONNECTION_STRING is set (docs/operations.md).
  await startTelemetry(process.env);
  const interrupts = handleInterrupts({
    onFirst: () =>
      logger.info(
        `Stopping: ${scheduleExpression ? "no more tenants are queued on the schedule, " : ""}no new messages are taken; runs under way stop at their next checkpoint and their messages are left for the next worker (Ctrl+C again stops at once)…`,
      ),
    onSecond: () => undefined,
  });
  try {
    const summary = await runWorker({
      services,
      logger,
      concurrency: options.concurrency,
      once: options.once,
      schedule: options.schedule,
      ...(scheduleExpression ? { scheduleExpression } : {}),
      abortSignal: interrupts.signal,
      ...(options.continuationDelay !== undefined ? { continuationDelayInSeconds: options.continuationDelay } : {}),
      ...(options.retryDelay !== undefined ? { retryDelayInSeconds: options.retryDelay } : {}),
      ...(options.messageVisibility !== undefined ? { messageVisibilityInSeconds: options.messageVisibility } : {}),
      ...(options.maxMinutes !== undefined ? { runControl: { maxRunDurationInMs: options.maxMinutes * 60_000 } } : {}),
    });
    const counts = new Map<string, number>();
    for (const { outcome } of summary.outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    const parts = [...counts].map(([outcome, n]) => `${n} ${outcome}`);
    await write(`Worker handled ${summary.outcomes.length} message${summary.outcomes.length === 1 ? "" : "s"}${parts.length > 0 ? `: ${parts.join(", ")}` : ""}.\n`);
    for (const { tenantId, outcome } of summary.outcomes) await write(`${tenantId || "(not a tenant message)"}  ${outcome}\n`);
    if (summary.outcomes.some((o) => o.outcome === "failed" || o.outcome === "poisoned")) throw new ExitCode(EXIT_FAILURE);
    // `--once` promised a drained queue: stopped before that, it says so (without --once, Ctrl+C is how a worker ends).
    if (options.once && interrupts.signal.aborted) throw new ExitCode(EXIT_PAUSED);
  } finally {
    interrupts.dispose();
    await stopTelemetry();
  }
}

/**
 * The timer's schedule, for a worker that keeps running: required (the worker would otherwise
 * queue the tenants only once), and a real expression, not the host's %NAME% indirection.
 */
function workerSchedule(schedule: string | undefined): string {
  const fix = 'Set it to the timer\'s schedule (6-field NCRONTAB, UTC, e.g. "0 */15 * * * *"), or use worker --once (from a scheduler of your own) or --no-schedule (only process what is queued).';
  if (schedule === undefined || schedule.trim() === "") {
    throw settingsError([`USER_SYNC_SCHEDULE is missing: worker (without --once) queues every tenant at each of its occurrences, as the timer does. ${fix}`], ["USER_SYNC_SCHEDULE"]);
  }
  if (/^%[A-Za-z0-9_]+%$/.test(schedule.trim())) {
    throw settingsError([`USER_SYNC_SCHEDULE is "${schedule}", an app-setting reference only the Functions host resolves. ${fix}`], ["USER_SYNC_SCHEDULE"]);
  }
  return schedule.trim();
}
