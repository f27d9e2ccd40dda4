/**
 * `entra-user-sync worker [--concurrency N] [--once]`: queues the registered tenants (the
 * scheduler's pass), then processes the tenant queue with the queue-triggered function's handler.
 * `--once` drains the queue (continuations included) and exits; otherwise it keeps processing
 * messages until Ctrl+C (it queues the tenants only at start: run `worker --once` on a schedule, or
 * let the Functions timer queue them; docs/tenants.md). Ctrl+C stops taking messages; runs under
 * way pause at their next checkpoint.
 */
import { TenantServices } from "../app/tenantServices.js";
import { redactingLogger } from "../shared/logger.js";
import { runWorker } from "../fanout/worker.js";
import { startTelemetry, stopTelemetry } from "../telemetry/telemetrySetup.js";
import { EXIT_FAILURE, ExitCode } from "./exitCodes.js";
import { handleInterrupts } from "./interrupt.js";
import { write } from "./output.js";

export interface WorkerCommandOptions {
  concurrency: number;
  once: boolean;
  schedule: boolean;
  continuationDelay?: number;
  retryDelay?: number;
  maxMinutes?: number;
}

export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const services = new TenantServices(process.env);
  // The queue's settings are checked now, before any request.
  void services.queue;
  // Each tenant's run is reported with its tenant_id, when APPLICATIONINSIGHTS_CONNECTION_STRING is set (docs/operations.md).
  await startTelemetry(process.env);
  const logger = redactingLogger({
    info: (m) => process.stderr.write(`${m}\n`),
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
  });
  const interrupts = handleInterrupts({
    onFirst: () => logger.info("Stopping: no new messages are taken; runs under way stop at their next checkpoint (Ctrl+C again stops at once)…"),
    onSecond: () => undefined,
  });
  try {
    const summary = await runWorker({
      services,
      logger,
      concurrency: options.concurrency,
      once: options.once,
      schedule: options.schedule,
      abortSignal: interrupts.signal,
      ...(options.continuationDelay !== undefined ? { continuationDelayInSeconds: options.continuationDelay } : {}),
      ...(options.retryDelay !== undefined ? { retryDelayInSeconds: options.retryDelay } : {}),
      ...(options.maxMinutes !== undefined ? { runControl: { maxRunDurationInMs: options.maxMinutes * 60_000 } } : {}),
    });
    const counts = new Map<string, number>();
    for (const { outcome } of summary.outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    const parts = [...counts].map(([outcome, n]) => `${n} ${outcome}`);
    await write(`Worker handled ${summary.outcomes.length} message${summary.outcomes.length === 1 ? "" : "s"}${parts.length > 0 ? `: ${parts.join(", ")}` : ""}.\n`);
    for (const { tenantId, outcome } of summary.outcomes) await write(`${tenantId || "(not a tenant message)"}  ${outcome}\n`);
    if (summary.outcomes.some((o) => o.outcome === "failed" || o.outcome === "poisoned")) throw new ExitCode(EXIT_FAILURE);
  } finally {
    interrupts.dispose();
    await stopTelemetry();
  }
}
