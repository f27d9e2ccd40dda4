/**
 * Multi-tenant mode: after each scheduler pass (the timer's tick, `worker`'s passes), the state of
 * the fan-out as gauges: messages in the tenant queue and in its poison queue, and the tenants the
 * pass found, queued and left alone (src/telemetry/metricNames.ts, SCHEDULER_METRICS). Like a run's
 * telemetry, it never fails the pass: a problem is logged as a warning.
 */
import { describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { SCHEDULER_METRICS } from "./metricNames.js";
import { runMeter } from "./runMetrics.js";
import { flushTelemetry } from "./runTelemetry.js";
import type { OperationOptions } from "../shared/abort.js";

export interface SchedulerPassFacts {
  registered: number;
  queued: number;
  skipped: number;
}

/** The two counts read from the queues (TenantQueueClient). */
export interface QueueDepths {
  approximateMessageCount(options: OperationOptions): Promise<number>;
  approximatePoisonMessageCount(options: OperationOptions): Promise<number>;
}

const READ_TIMEOUT_IN_MS = 10_000;
const FLUSH_TIMEOUT_IN_MS = 5_000;

export async function recordSchedulerPass(facts: SchedulerPassFacts, queue: QueueDepths, logger: Logger): Promise<void> {
  try {
    const meter = runMeter();
    const gauge = (d: (typeof SCHEDULER_METRICS)[keyof typeof SCHEDULER_METRICS], value: number) => meter.createGauge(d.name, { unit: d.unit, description: d.description }).record(value);
    gauge(SCHEDULER_METRICS.tenantsRegistered, facts.registered);
    gauge(SCHEDULER_METRICS.tenantsQueued, facts.queued);
    gauge(SCHEDULER_METRICS.tenantsSkipped, facts.skipped);
    const abortSignal = AbortSignal.timeout(READ_TIMEOUT_IN_MS);
    const [depth, poison] = await Promise.all([queue.approximateMessageCount({ abortSignal }), queue.approximatePoisonMessageCount({ abortSignal })]);
    gauge(SCHEDULER_METRICS.queueDepth, depth);
    gauge(SCHEDULER_METRICS.poisonDepth, poison);
  } catch (error) {
    logger.warn(`Could not record the scheduler pass's telemetry (the pass itself is not affected): ${describeError(error)}`);
  }
  // The timer's invocation ends here: the host may freeze the instance before the next periodic export.
  await flushTelemetry(FLUSH_TIMEOUT_IN_MS);
}
