/**
 * What a run exports, through the real clients (simulated tenant, Azurite) and OpenTelemetry's SDK
 * with in-memory exporters: the metric set, names, units and dimensions, the run's trace with the
 * Azure SDK's spans under it, and that no user data and no secret is in any of it.
 */
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { instrumentAzureSdk } from "../../src/telemetry/azureMonitor.js";
import { DIMENSIONS, METRIC_NAMES, METRICS, RUN_METRIC_NAMES, SKIP_METRICS, STATE_METRICS } from "../../src/telemetry/metricNames.js";
import { SPAN_NAMES, withRunTelemetry } from "../../src/telemetry/runTelemetry.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 450;
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const spanExporter = new InMemorySpanExporter();
const log = capturingLogger();

beforeAll(async () => {
  // As useAzureMonitor does: spans started inside the run's span are its children.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] }));
  instrumentAzureSdk();
  world = await startSyncEnvironment({ userCount: USERS, seed: 17 });
  world.useInProcess();
  ({ service, clients } = composeUserSync({ ...world.env }));
});
afterAll(async () => world?.close());

/** What was exported since the last call (each run flushes at its end). */
async function exported(): Promise<ResourceMetrics[]> {
  await reader.forceFlush();
  const batches = metricExporter.getMetrics();
  metricExporter.reset();
  return batches;
}

const points = (batches: ResourceMetrics[]) =>
  batches.flatMap((b) => b.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.map((p) => ({ name: m.descriptor.name, unit: m.descriptor.unit, attributes: p.attributes, value: p.value })))));

const sum = (ps: ReturnType<typeof points>, name: string, where: Record<string, string> = {}) =>
  ps.filter((p) => p.name === name && Object.entries(where).every(([k, v]) => p.attributes[k] === v)).reduce((total, p) => total + (typeof p.value === "number" ? p.value : (p.value as { sum: number }).sum), 0);

describe("run telemetry", () => {
  let first: ReturnType<typeof points>;

  it("a first run: every metric, with mode, trigger and outcome, and the end-of-run state", async () => {
    spanExporter.reset();
    const result = await withRunTelemetry(clients, { trigger: "cli", logger: log.logger }, (reads) => service.runDue(log.logger, { trigger: "cli", reads }));
    // The run flushed at its end (the reader's own interval is an hour): an idle host may freeze right after.
    expect(metricExporter.getMetrics().length).toBeGreaterThan(0);
    first = points(await exported());
    const names = new Set(first.map((p) => p.name));
    expect([...names].sort()).toEqual([...RUN_METRIC_NAMES].sort());
    for (const p of first) expect(METRIC_NAMES.has(p.name)).toBe(true);
    const runPoints = first.filter((p) => Object.values(METRICS).some((m) => m.name === p.name));
    for (const p of runPoints) {
      expect(Object.keys(p.attributes).sort()).toEqual(p.name === METRICS.changes.name ? [DIMENSIONS.changeKind, DIMENSIONS.mode, DIMENSIONS.outcome, DIMENSIONS.trigger].sort() : [DIMENSIONS.mode, DIMENSIONS.outcome, DIMENSIONS.trigger].sort());
    }
    expect(sum(first, METRICS.runs.name, { mode: "snapshot", outcome: "succeeded", trigger: "cli" })).toBe(1);
    expect(sum(first, METRICS.runs.name, { mode: "full", outcome: "succeeded" })).toBe(1);
    expect(sum(first, METRICS.usersRead.name, { mode: "snapshot" })).toBe(USERS);
    expect(sum(first, METRICS.usersWritten.name, { mode: "full" })).toBe(result.mirror!.usersWritten);
    expect(result.mirror!.usersWritten).toBeGreaterThanOrEqual(USERS);
    expect(sum(first, METRICS.graphRequests.name, { mode: "snapshot" })).toBeGreaterThanOrEqual(1);
    expect(sum(first, METRICS.tableTransactions.name, { mode: "snapshot" })).toBeGreaterThanOrEqual(Math.ceil(USERS / 100));
    expect(first.find((p) => p.name === METRICS.runDuration.name)?.unit).toBe("s");
    const days = first.find((p) => p.name === STATE_METRICS.certificateDaysToExpiry.name);
    expect(days?.value).toBeGreaterThan(1);
    expect(first.find((p) => p.name === STATE_METRICS.snapshotAge.name)?.value).toBeLessThan(0.1);
    expect(first.find((p) => p.name === STATE_METRICS.mirrorAge.name)?.value).toBeLessThan(0.1);
    expect(first.find((p) => p.name === STATE_METRICS.snapshotUsers.name)?.value).toBe(USERS);
    expect(first.find((p) => p.name === STATE_METRICS.deltaTokenAge.name)?.value).toBeLessThan(0.01);
    expect(first.find((p) => p.name === STATE_METRICS.deltaTokenAge.name)?.unit).toBe("d");
    // Nothing failed: no error.type anywhere.
    for (const p of first) expect(p.attributes[DIMENSIONS.errorType], p.name).toBeUndefined();
  });

  it("an incremental round counts changes by kind", async () => {
    world.tenant.changes.changeUser(3, { displayName: "Telemetry Moved" });
    await withRunTelemetry(clients, { trigger: "timer", logger: log.logger }, (reads) => service.runDue(log.logger, { trigger: "timer", reads }));
    const ps = points(await exported());
    expect(sum(ps, METRICS.runs.name, { mode: "incremental", trigger: "timer", outcome: "succeeded" })).toBe(1);
    expect(sum(ps, METRICS.changes.name, { change_kind: "updated" })).toBe(1);
    expect(sum(ps, METRICS.changes.name, { change_kind: "added" })).toBe(0);
  });

  it("an idle run's state figures come from what the run read under its lease: the telemetry reads none of it again", async () => {
    const calls = {
      latest: vi.spyOn(clients.store, "getLatestSnapshot"),
      unfinished: vi.spyOn(clients.store, "listUnfinishedRuns"),
      dueRecords: vi.spyOn(clients.store, "readDueRecords"),
      snapshotRun: vi.spyOn(clients.store, "getRun"),
      state: vi.spyOn(clients.mirror, "getDeltaState"),
      roundStart: vi.spyOn(clients.mirror, "readRoundStart"),
    };
    const end = new Date(Date.now() + 2 * 3_600_000);
    const before = (await clients.mirror.getDeltaState())!;
    try {
      for (const spy of Object.values(calls)) spy.mockClear();
      await withRunTelemetry(clients, { trigger: "timer", logger: log.logger, now: () => end }, (reads) => service.runDue(log.logger, { trigger: "timer", reads }));
      // Once each, by what is due, under the lease (before: 2, 2, 3 and the snapshot's run 1); the
      // pointer and the unfinished runs in one query (readDueRecords), not read apart; the mirror's
      // state with its runs left running in one query (readRoundStart).
      expect({
        latest: calls.latest.mock.calls.length,
        unfinished: calls.unfinished.mock.calls.length,
        dueRecords: calls.dueRecords.mock.calls.length,
        state: calls.state.mock.calls.length,
        roundStart: calls.roundStart.mock.calls.length,
        snapshotRun: calls.snapshotRun.mock.calls.length,
      }).toEqual({
        latest: 0,
        unfinished: 0,
        dueRecords: 1,
        state: 0,
        roundStart: 1,
        snapshotRun: 0,
      });
    } finally {
      for (const spy of Object.values(calls)) spy.mockRestore();
    }
    // The figures are those a read after the run gives: the state the round saved (not the one read before it).
    const ps = points(await exported());
    const latest = (await clients.store.getLatestSnapshot())!;
    const state = (await clients.mirror.getDeltaState())!;
    const value = (name: string) => ps.find((p) => p.name === name)?.value as number;
    expect(sum(ps, METRICS.runs.name, { mode: "incremental", outcome: "succeeded" })).toBe(1);
    expect(state.state.savedAt.getTime()).toBeGreaterThan(before.state.savedAt.getTime());
    expect(value(STATE_METRICS.mirrorAge.name)).toBeCloseTo((end.getTime() - state.state.savedAt.getTime()) / 3_600_000, 9);
    expect(value(STATE_METRICS.deltaTokenAge.name)).toBeCloseTo((end.getTime() - state.state.savedAt.getTime()) / 86_400_000, 9);
    expect(value(STATE_METRICS.snapshotAge.name)).toBeCloseTo((end.getTime() - latest.completedAt.getTime()) / 3_600_000, 9);
    expect(value(STATE_METRICS.snapshotUsers.name)).toBe(latest.userCount);
    expect(latest.startedAt).toBeInstanceOf(Date);
  });

  it("a trace per run: the run's span, with the token, Key Vault, Graph and table spans under it", () => {
    const spans = spanExporter.getFinishedSpans();
    const runs = spans.filter((s) => s.name === SPAN_NAMES.run);
    expect(runs).toHaveLength(3); // the first run and the incremental ones
    const traceId = runs[1]!.spanContext().traceId;
    const inRun = spans.filter((s) => s.spanContext().traceId === traceId);
    const names = inRun.map((s) => s.name);
    expect(names).toContain(SPAN_NAMES.graphToken);
    expect(names).toContain("HTTP GET"); // the Graph delta page, through the Azure pipeline
    expect(names).toContain("TableTransaction.submitTransaction"); // the mirror's table batch
    const parents = new Set(inRun.map((s) => s.parentSpanContext?.spanId));
    expect(parents.has(runs[1]!.spanContext().spanId)).toBe(true);
    // The first run read the certificate from Key Vault (later runs use the cached one).
    expect(spans.some((s) => s.name.startsWith("CertificateClient.") || s.name.startsWith("SecretClient."))).toBe(true);
  });

  it("a run that throws still counts: the failed snapshot from its run record, the mirror's round that followed", async () => {
    world.tenant.faults.graph.script([{ status: 403 }]);
    const run = withRunTelemetry(clients, { trigger: "timer", logger: log.logger }, (reads) => service.runDue(log.logger, { trigger: "timer", full: true, reads }));
    await expect(run).rejects.toThrow();
    const ps = points(await exported());
    expect(sum(ps, METRICS.runs.name, { mode: "snapshot", outcome: "failed", trigger: "timer" })).toBe(1);
    expect(sum(ps, METRICS.runs.name, { mode: "full", outcome: "succeeded" })).toBe(1);
    // The failed part names its error code (Graph's 403: a permission the tenant has not granted); the succeeded one none.
    expect(sum(ps, METRICS.runs.name, { mode: "snapshot", outcome: "failed", [DIMENSIONS.errorType]: "graph_forbidden" })).toBe(1);
    expect(ps.filter((p) => p.attributes[DIMENSIONS.outcome] === "succeeded" && DIMENSIONS.errorType in p.attributes)).toEqual([]);
    expect(sum(ps, METRICS.graphRequests.name, { mode: "snapshot" })).toBeGreaterThanOrEqual(1);
  });

  it("a run that finds the writer lease held does nothing and counts a lease-contention skip, not a run", async () => {
    const lease = await clients.store.acquireLease({ trigger: "timer" });
    try {
      await expect(withRunTelemetry(clients, { trigger: "cli", logger: log.logger }, (reads) => service.runDue(log.logger, { trigger: "cli", reads }))).rejects.toThrow();
    } finally {
      await clients.store.releaseLease(lease);
    }
    const ps = points(await exported());
    expect(sum(ps, SKIP_METRICS.leaseContention.name, { trigger: "cli" })).toBe(1);
    expect(sum(ps, METRICS.runs.name)).toBe(0);
    expect(ps.filter((p) => DIMENSIONS.errorType in p.attributes)).toEqual([]);
  });

  it("no user data and no secret in what is exported", async () => {
    spanExporter.reset();
    await withRunTelemetry(clients, { trigger: "cli", logger: log.logger }, (reads) => service.runDue(log.logger, { trigger: "cli", full: true, reads }));
    const spans = spanExporter.getFinishedSpans();
    expect(spans.some((s) => s.name === SPAN_NAMES.graphToken) || spans.some((s) => /CertificateClient|SecretClient/.test(s.name))).toBe(true);
    const text = JSON.stringify({
      metrics: [...first, ...points(await exported())],
      spans: spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, resource: s.resource.attributes })),
    });
    const directory = world.tenant.directory;
    for (let i = 0; i < USERS; i += 7) {
      const user = directory.userAt(i) as Record<string, unknown>;
      for (const key of ["userPrincipalName", "mail", "displayName", "givenName", "surname"]) {
        const value = user[key];
        if (typeof value === "string" && value.length >= 4) expect(text.includes(value), `${key} of user ${i}`).toBe(false);
      }
    }
    expect(text.includes(world.tenant.tenantDomain)).toBe(false);
    expectNoSecrets(text, [world.tenant.identityHeader]);
    expect(log.lines.filter((l) => l.includes("telemetry"))).toEqual([]);
  });

  it("a tenant's run (multi-tenant mode: worker, tenantSync) carries its tenant_id on every metric and on the run's span", async () => {
    const tenantId = "8f0c2a4e-1b3d-4c5e-9f60-718293a4b5c6";
    spanExporter.reset();
    // A tenant message's run (tenantSync, worker) has the trigger `queue`.
    await withRunTelemetry(clients, { trigger: "queue", logger: log.logger, tenantId }, (reads) => service.runDue(log.logger, { trigger: "queue", reads }));
    const ps = points(await exported());
    expect(ps.length).toBeGreaterThan(0);
    for (const p of ps) expect(p.attributes[DIMENSIONS.tenantId], p.name).toBe(tenantId);
    for (const p of ps.filter((q) => DIMENSIONS.trigger in q.attributes)) expect(p.attributes[DIMENSIONS.trigger], p.name).toBe("queue");
    expect(sum(ps, METRICS.runs.name, { mode: "incremental", trigger: "queue", outcome: "succeeded", [DIMENSIONS.tenantId]: tenantId })).toBe(1);
    const [run] = spanExporter.getFinishedSpans().filter((s) => s.name === SPAN_NAMES.run);
    expect(run?.attributes["usersync.tenant_id"]).toBe(tenantId);
    expect(run?.attributes["usersync.trigger"]).toBe("queue");
  });
});
