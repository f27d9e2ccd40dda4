/**
 * A fleet of twenty simulated tenants, through the worker in-process against Azurite and the
 * simulated cloud, with OpenTelemetry's SDK and an in-memory exporter. After a first round in which
 * every tenant succeeds, three go wrong: one administrator revokes the consent, one tenant's Graph
 * keeps failing until its message lands in the poison queue, and one tenant's mirror last completed
 * a round five hours ago (its state is aged to say so, and a stuck run holds its writer lease, so
 * that its later messages are skipped for lease contention). Then:
 *  - the registry's health (what `tenants list` shows) names exactly those three, worst first;
 *  - the telemetry of those runs holds what each alert's query filters on, per tenant: failed runs
 *    with their error code (consent named), the mirror's age, the poison queue's depth, and no
 *    skipped users; each alert's query (infra/modules/monitoring.bicep, parsed and bound by the Kusto
 *    language service in test/infra/kql.test.ts) reads exactly these metric names and dimensions.
 */
import { join } from "node:path";
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { scheduleDueTenants } from "../../src/fanout/scheduler.js";
import { isUnhealthy, tenantHealth, worstFirst } from "../../src/fanout/tenantHealth.js";
import { changeTenantRecord } from "../../src/fanout/tenantRecords.js";
import { runWorker } from "../../src/fanout/worker.js";
import { DIMENSIONS, METRICS, SCHEDULER_METRICS, SKIP_METRICS, STATE_METRICS } from "../../src/telemetry/metricNames.js";
import type { TenantRecord } from "../../src/tenants/tenantRegistryClient.js";
import { kqlQueries } from "../support/bicepKql.js";
import { parseBicepFile } from "../support/bicepSyntax.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { registerTenants, useMultiTenantInProcess } from "../support/multiTenantEnvironment.js";

const TENANTS = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(7, "0")}-0000-4000-8000-${String(i).padStart(12, "0")}`);
const REVOKED = TENANTS[3]!;
const POISONED = TENANTS[8]!;
const STALE = TENANTS[15]!;
const HOUR = 3_600_000;

let world: SyncEnvironment;
let env: Record<string, string>;
const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  world = await startSyncEnvironment({ userCount: 3, customerTenants: TENANTS.map((tenantId, i) => ({ tenantId, userCount: 5 + i })) }, { queue: true });
  env = useMultiTenantInProcess(world, { GRAPH_MAX_RETRIES: "0" });
}, 120_000);
afterAll(async () => world?.close());

interface Point {
  name: string;
  attributes: Record<string, unknown>;
  value: number;
}
async function exported(): Promise<Point[]> {
  await reader.forceFlush();
  const points = exporter.getMetrics().flatMap((b) =>
    b.scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) => m.dataPoints.map((p) => ({ name: m.descriptor.name, attributes: p.attributes, value: typeof p.value === "number" ? p.value : (p.value as { sum: number }).sum }))),
    ),
  );
  exporter.reset();
  return points;
}
const tenantsWhere = (points: Point[], name: string, where: (p: Point) => boolean) => [...new Set(points.filter((p) => p.name === name && where(p)).map((p) => p.attributes[DIMENSIONS.tenantId] as string))].sort();

describe("a fleet of twenty tenants, three of them unhealthy", () => {
  let rows: TenantRecord[];
  let points: Point[];
  const now = () => new Date();

  it("first, every tenant syncs", async () => {
    const services = new TenantServices(env);
    await registerTenants(services, TENANTS);
    const summary = await runWorker({ services, logger: capturingLogger().logger, concurrency: 4, once: true });
    expect(summary.outcomes.filter((o) => o.outcome === "succeeded").map((o) => o.tenantId).sort()).toEqual([...TENANTS].sort());
    await exported();
  }, 240_000);

  it("then one consent is revoked, one tenant is poisoned and one mirror goes stale: exactly those three are unhealthy, worst first", async () => {
    // The stale mirror: its last round five hours ago, and a stuck run holding its writer lease.
    const before = new TenantServices(env);
    const stale = before.getTenantSync(STALE).clients;
    const state = (await stale.mirror.getDeltaState())!;
    const fiveHoursAgo = new Date(Date.now() - 5 * HOUR);
    await stale.mirror.saveDeltaState({ ...state.state, savedAt: fiveHoursAgo }, state);
    await changeTenantRecord(before.registry, STALE, (current) => ({ ...current, mirrorRoundAt: fiveHoursAgo }));
    const stuck = await stale.store.acquireLease({ trigger: "cli", leaseDurationInMs: 10 * 60_000 });
    // The tick's pass queues every tenant (the stuck run's tenant too: its row was not marked yet);
    // then the stuck run marks its row as a message's run does, so that the tick's fresh message is
    // skipped (a message that may be the tenant's only one is deferred to the lease's expiry instead).
    await scheduleDueTenants({ registry: before.registry, queue: before.queue, logger: capturingLogger().logger });
    await changeTenantRecord(before.registry, STALE, (current) => ({ ...current, runningSince: stuck.acquiredAt, leaseAcquiredAt: stuck.acquiredAt }));
    world.tenant.customers.get(REVOKED)!.setConsent("none");
    const outage = world.tenant.customers.get(POISONED)!.interceptGraph((request) => ({
      status: 500,
      headers: {},
      body: { error: { code: "InternalServerError", message: "simulated outage", innerError: { "request-id": request.requestId } } },
    }));
    try {
      // A new process: its MSAL cache holds no token from before the revocation.
      const services = new TenantServices(env);
      const summary = await runWorker({ services, logger: capturingLogger().logger, concurrency: 4, once: true, schedule: false, retryDelayInSeconds: 1 });
      const last = new Map(summary.outcomes.map((o) => [o.tenantId, o.outcome]));
      expect([last.get(REVOKED), last.get(POISONED), last.get(STALE)]).toEqual(["failed", "poisoned", "skipped"]);
      expect(TENANTS.filter((t) => ![REVOKED, POISONED, STALE].includes(t)).every((t) => last.get(t) === "succeeded")).toBe(true);
      // The next tick's scheduler pass sees the poison queue.
      await scheduleDueTenants({ registry: services.registry, queue: services.queue, logger: capturingLogger().logger });
      points = await exported();
      rows = [];
      for await (const row of services.registry.listTenants()) rows.push(row);
    } finally {
      outage();
      await stale.store.releaseLease(stuck);
    }
    const unhealthy = rows.filter((r) => isUnhealthy(tenantHealth(r, now()))).sort((a, b) => worstFirst(a, b, now()));
    expect(unhealthy.map((r) => [r.tenantId, tenantHealth(r, now())])).toEqual([
      [POISONED, "poisoned"],
      [REVOKED, "failing"],
      [STALE, "stale"],
    ]);
    expect(rows.find((r) => r.tenantId === REVOKED)).toMatchObject({ lastErrorCode: "tenant_not_consented" });
  }, 300_000);

  it("the telemetry holds, per tenant, what each alert filters on, and only those tenants match", () => {
    // Tenant sync run failed: failed runs, by tenant, with the error code; consent named.
    const failed = (p: Point) => p.attributes[DIMENSIONS.outcome] === "failed";
    expect(tenantsWhere(points, METRICS.runs.name, failed)).toEqual([REVOKED, POISONED].sort());
    const codes = (tenantId: string) => [...new Set(points.filter((p) => p.name === METRICS.runs.name && failed(p) && p.attributes[DIMENSIONS.tenantId] === tenantId).map((p) => p.attributes[DIMENSIONS.errorType]))];
    expect(codes(REVOKED)).toEqual(["tenant_not_consented"]);
    expect(codes(POISONED)).toHaveLength(1);
    expect(codes(POISONED)[0]).not.toBe("tenant_not_consented");
    // Tenant mirror or snapshot is stale: the mirror's age over 3 hours, for the stale tenant only.
    expect(tenantsWhere(points, STATE_METRICS.mirrorAge.name, (p) => p.value > 3)).toEqual([STALE]);
    expect(tenantsWhere(points, STATE_METRICS.snapshotAge.name, (p) => p.value > 30)).toEqual([]);
    expect(tenantsWhere(points, SKIP_METRICS.leaseContention.name, (p) => p.value > 0)).toEqual([STALE]);
    // Messages in the poison queue: none at the worker's pass before the runs, one at the next tick's (the latest, which the alert reads).
    expect(points.filter((p) => p.name === SCHEDULER_METRICS.poisonDepth.name).map((p) => p.value)).toEqual([0, 1]);
    // Users skipped as unstorable: none. No run at all: there were runs.
    expect(tenantsWhere(points, METRICS.usersSkipped.name, (p) => p.value > 0)).toEqual([]);
    expect(points.filter((p) => p.name === METRICS.runs.name).length).toBeGreaterThan(17);
  });

  it("each alert's query reads those metrics and dimensions, by the names the telemetry carries", async () => {
    const doc = await parseBicepFile(join(import.meta.dirname, "..", "..", "infra", "modules", "monitoring.bicep"));
    const text = (rule: string) => kqlQueries(doc).find((q) => q.name.endsWith(` ${rule}`))!.text;
    const failedRun = points.find((p) => p.name === METRICS.runs.name && p.attributes[DIMENSIONS.tenantId] === REVOKED && p.attributes[DIMENSIONS.outcome] === "failed")!;
    for (const key of [DIMENSIONS.tenantId, DIMENSIONS.outcome, DIMENSIONS.errorType]) expect(Object.keys(failedRun.attributes)).toContain(key);
    expect(text("tenantRunFailedAlert")).toContain('name == "usersync.runs" and tostring(customDimensions.outcome) == "failed"');
    expect(text("tenantRunFailedAlert")).toContain('customDimensions["error.type"]');
    expect(text("tenantRunFailedAlert")).toContain('error_type == "tenant_not_consented", "consent"');
    expect(text("tenantStaleAlert")).toContain('"usersync.mirror.age"');
    expect(text("tenantStaleAlert")).toContain('iff(data == "mirror", 3, 30)');
    expect(text("poisonQueueAlert")).toContain(`name == "${SCHEDULER_METRICS.poisonDepth.name}"`);
    expect(text("skippedUsersAlert")).toContain(`name == "${METRICS.usersSkipped.name}"`);
    expect(text("heartbeatAlert")).toContain(`"${METRICS.runs.name}", "${SKIP_METRICS.leaseContention.name}"`);
    for (const rule of ["tenantRunFailedAlert", "tenantStaleAlert", "skippedUsersAlert"]) expect(text(rule)).toContain("coalesce(tostring(customDimensions.tenant_id)");
  });
});
