/**
 * The Functions host's side of the fan-out (multi-tenant mode), over the process-wide
 * TenantServices (so it sits with the composition, on the top floor): the timer's scheduler pass,
 * and the queue-triggered `tenantSync` handler, which shares handleTenantSyncMessage with `worker`.
 * The host itself keeps a message invisible while it runs, retries it after host.json's
 * `visibilityTimeout`, and moves it to `<queue>-poison` after `maxDequeueCount` attempts.
 */
import type { InvocationContext } from "@azure/functions";
import { getTenantServices } from "./tenantServices.js";
import { redact } from "../shared/redact.js";
import { formatFailureSummary } from "../sync/runSummary.js";
import { FLUSH_TIMEOUT_IN_MS, flushTelemetry } from "../telemetry/runTelemetry.js";
import { scheduleDueTenants } from "../fanout/scheduler.js";
import { MAX_DEQUEUE_COUNT, parseTenantMessage } from "../fanout/tenantQueue.js";
import { handleTenantSyncMessage } from "../fanout/tenantSyncHandler.js";
import { DEFAULT_CONTINUATION_DELAY_IN_SECONDS } from "../configuration/defaults.js";

/** The timer in multi-tenant mode: queue every registered tenant that is not queued or running. */
export async function scheduleTenantsTimer(context: InvocationContext): Promise<void> {
  const services = getTenantServices();
  await services.registry.createTableIfNotExists();
  await services.queue.createQueuesIfNotExist();
  const result = await scheduleDueTenants({ registry: services.registry, queue: services.queue, logger: context });
  if (result.failedCount > 0) {
    const more = result.failedCount > result.failed.length ? ` and ${result.failedCount - result.failed.length} more` : "";
    throw new Error(`Could not queue ${result.failedCount} tenant(s): ${result.failed.map((f) => f.tenantId).join(", ")}${more}`);
  }
}

/** The queue trigger: one tenant's due work. Throwing makes the host retry the message (and poison it in the end). */
export async function tenantSyncQueueHandler(queueItem: unknown, context: InvocationContext): Promise<void> {
  // USER_SYNC_MAX_RUN_MINUTES counts from here, as functionTimeout does (docs/operations.md).
  const invokedAt = new Date();
  const message = parseTenantMessage(queueItem);
  if (message === undefined) {
    // Retrying cannot help: fail every attempt at once, so the host poisons it quickly.
    throw new Error("The message is not a tenant message ({ tenantId, kind, enqueuedAt }); it goes to the poison queue.");
  }
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
  try {
    await handleTenantSyncMessage(message, {
      services: getTenantServices(),
      queue: getTenantServices().queue,
      logger: context,
      trigger: "queue",
      invokedAt,
      dequeueCount,
      maxDequeueCount: MAX_DEQUEUE_COUNT,
      continuationDelayInSeconds: DEFAULT_CONTINUATION_DELAY_IN_SECONDS,
    });
  } catch (error) {
    const summary = formatFailureSummary(error);
    context.error(summary);
    // The host logs what it is thrown: only the redacted summary.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(redact(summary));
  } finally {
    // The lines logged after the run (its summary, the failure) leave with it, before the host may freeze the instance.
    await flushTelemetry(FLUSH_TIMEOUT_IN_MS);
  }
}
