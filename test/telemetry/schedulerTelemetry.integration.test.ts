/**
 * The scheduler pass's telemetry against Azurite's tables and queues, through OpenTelemetry's SDK
 * with an in-memory exporter: tenants found, queued and skipped, and the depth of the tenant queue
 * and of its poison queue, after each pass; a queue that cannot be read costs the gauges, not the pass.
 */
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { beforeAll, describe, expect, it } from "vitest";
import { scheduleDueTenants } from "../../src/fanout/scheduler.js";
import { encodeTenantMessage, TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { changeTenantRecord } from "../../src/fanout/tenantRecords.js";
import { SCHEDULER_METRICS } from "../../src/telemetry/metricNames.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { azuriteForTestFile, azuriteQueueStorage } from "../support/azuriteStorage.js";
import { capturingLogger } from "../support/syncEnvironment.js";

const azurite = azuriteForTestFile({ queue: true });
const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const id = (i: number) => `${String(i).padStart(8, "0")}-0000-4000-8000-00000000cafe`;

beforeAll(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

async function gauges(): Promise<Record<string, number>> {
  await reader.forceFlush();
  const values: Record<string, number> = {};
  for (const batch of exporter.getMetrics()) for (const scope of batch.scopeMetrics) for (const m of scope.metrics) for (const p of m.dataPoints) values[m.descriptor.name] = p.value as number;
  exporter.reset();
  return values;
}

describe("a scheduler pass's telemetry", () => {
  it("says how many tenants it found, queued and skipped, and how deep the queue and the poison queue are", async () => {
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "schedtel" });
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
    await registry.createTableIfNotExists();
    await queue.createQueuesIfNotExist();
    for (let i = 1; i <= 4; i++) await registry.addTenant(id(i));
    await changeTenantRecord(registry, id(4), (current) => ({ ...current, queuedAt: new Date() }));
    for (const i of [7, 8]) await queue.poison.sendMessage(encodeTenantMessage({ tenantId: id(i), kind: "due", enqueuedAt: new Date().toISOString() }));

    const log = capturingLogger();
    const result = await scheduleDueTenants({ registry, queue, logger: log.logger });
    expect(result.registered).toBe(4);
    expect(await gauges()).toEqual({
      [SCHEDULER_METRICS.tenantsRegistered.name]: 4,
      [SCHEDULER_METRICS.tenantsQueued.name]: 3,
      [SCHEDULER_METRICS.tenantsSkipped.name]: 1,
      [SCHEDULER_METRICS.queueDepth.name]: 3,
      [SCHEDULER_METRICS.poisonDepth.name]: 2,
    });
    expect(log.lines.filter((l) => l.includes("telemetry"))).toEqual([]);

    // The queues cannot be read: the pass still queues (nothing here: all are queued) and says why the depths are missing.
    const unreadable = Object.assign(Object.create(queue) as TenantQueueClient, {
      approximateMessageCount: () => queue.approximateMessageCount(),
      approximatePoisonMessageCount: () => Promise.reject(new Error("queue service unavailable")),
    });
    const second = await scheduleDueTenants({ registry, queue: unreadable, logger: log.logger });
    expect(second.skipped).toHaveLength(4);
    const values = await gauges();
    expect(values[SCHEDULER_METRICS.tenantsSkipped.name]).toBe(4);
    expect(values[SCHEDULER_METRICS.poisonDepth.name]).toBeUndefined();
    expect(log.lines.some((l) => l.includes("Could not record the scheduler pass's telemetry") && l.includes("queue service unavailable"))).toBe(true);
  });
});
