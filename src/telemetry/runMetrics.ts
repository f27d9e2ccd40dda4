/**
 * Records a run's facts as OpenTelemetry metrics through the global meter provider: a no-op until
 * telemetry is started (src/telemetry/telemetrySetup.ts), an in-memory reader in the tests.
 */
import { metrics, type Attributes, type Meter } from "@opentelemetry/api";
import { CHANGE_KINDS, DIMENSIONS, INSTRUMENTATION_SCOPE, METRICS, SKIP_METRICS, STATE_METRICS, type MetricDefinition } from "./metricNames.js";
import type { RunFacts } from "./runFacts.js";

interface Instruments {
  counter(definition: MetricDefinition): { add(value: number, attributes: Attributes): void };
  histogram(definition: MetricDefinition): { record(value: number, attributes: Attributes): void };
  gauge(definition: MetricDefinition): { record(value: number, attributes: Attributes): void };
}

/** Instruments are made once per meter (the SDK returns the same instrument for the same name anyway). */
const cache = new WeakMap<Meter, Map<string, unknown>>();
function instruments(meter: Meter): Instruments {
  let made = cache.get(meter);
  if (!made) cache.set(meter, (made = new Map()));
  const once = <T>(definition: MetricDefinition, make: () => T): T => {
    if (!made.has(definition.name)) made.set(definition.name, make());
    return made.get(definition.name) as T;
  };
  const options = (d: MetricDefinition) => ({ unit: d.unit, description: d.description });
  return {
    counter: (d) => once(d, () => meter.createCounter(d.name, options(d))),
    histogram: (d) => once(d, () => meter.createHistogram(d.name, options(d))),
    gauge: (d) => once(d, () => meter.createGauge(d.name, options(d))),
  };
}

export function runMeter(): Meter {
  return metrics.getMeter(INSTRUMENTATION_SCOPE);
}

/** One data point per part (snapshot, mirror round) and metric, and the state gauges. */
export function recordRunMetrics(facts: RunFacts, meter: Meter = runMeter()): void {
  const make = instruments(meter);
  const tenant: Attributes = facts.tenantId !== undefined ? { [DIMENSIONS.tenantId]: facts.tenantId } : {};
  for (const part of facts.parts) {
    const failure: Attributes = part.outcome === "failed" && facts.errorType !== undefined ? { [DIMENSIONS.errorType]: facts.errorType } : {};
    const dims: Attributes = { [DIMENSIONS.mode]: part.mode, [DIMENSIONS.trigger]: facts.trigger, [DIMENSIONS.outcome]: part.outcome, ...tenant, ...failure };
    make.counter(METRICS.runs).add(1, dims);
    make.histogram(METRICS.runDuration).record(part.durationInSeconds, dims);
    make.counter(METRICS.usersRead).add(part.usersRead, dims);
    make.counter(METRICS.usersWritten).add(part.usersWritten, dims);
    make.counter(METRICS.usersSkipped).add(part.usersSkipped, dims);
    if (part.changes) {
      for (const kind of CHANGE_KINDS) make.counter(METRICS.changes).add(part.changes[kind], { ...dims, [DIMENSIONS.changeKind]: kind });
    }
    make.counter(METRICS.graphRequests).add(part.graphRequests, dims);
    make.counter(METRICS.graphThrottled).add(part.graphThrottled, dims);
    make.counter(METRICS.graphWaited).add(part.graphWaitedInSeconds, dims);
    make.counter(METRICS.tableTransactions).add(part.tableTransactions, dims);
  }
  const state: Attributes = { [DIMENSIONS.trigger]: facts.trigger, ...tenant };
  if (facts.leaseContended) make.counter(SKIP_METRICS.leaseContention).add(1, state);
  if (facts.snapshotAgeInHours !== undefined) make.gauge(STATE_METRICS.snapshotAge).record(facts.snapshotAgeInHours, state);
  if (facts.mirrorAgeInHours !== undefined) make.gauge(STATE_METRICS.mirrorAge).record(facts.mirrorAgeInHours, state);
  if (facts.certificateDaysToExpiry !== undefined) make.gauge(STATE_METRICS.certificateDaysToExpiry).record(facts.certificateDaysToExpiry, state);
  if (facts.snapshotUsers !== undefined) make.gauge(STATE_METRICS.snapshotUsers).record(facts.snapshotUsers, state);
  if (facts.deltaTokenAgeInDays !== undefined) make.gauge(STATE_METRICS.deltaTokenAge).record(facts.deltaTokenAgeInDays, state);
}
