/**
 * What a fleet costs per tenant (issue 31, item 3): N registered customer tenants of 50 to 500
 * users each (the simulated tenant), already synced, with no changes since, then one tick of the
 * compiled `worker --once --concurrency 16` — the scheduler's pass, then the queue drained. Every
 * storage request of the tick goes through a counting proxy in front of Azurite (storageProxy.ts)
 * and is classified by what it is for (storageRequestKinds.ts); the simulated tenant counts each
 * tenant's Graph requests. Reported: the pass's time, the tick's time, storage requests per tenant
 * by kind and one by one, Graph requests per tenant, the worker's peak RSS, and CPU time.
 *
 *   npm run bench:fleet                           # 1,000 tenants (the issue's configuration)
 *   npm run bench:fleet -- --tenants 50           # a quick look
 *
 * The seed (not measured): the tenants are registered through the registry client (one request
 * each, 32 at once), and synced by one unmeasured `worker --once` straight to Azurite (their first
 * snapshot and mirror round). Graph answers every request after `--latency` ms (default 300).
 */
import "../../src/shared/requireSupportedNode.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadStorageSettings } from "../../src/configuration/storageSettings.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { startAzurite } from "../azurite.js";
import { startSimulatedTenant } from "../simulated-tenant/index.js";
import { CLI, cpuSecondsOf, runCli } from "./cliRun.js";
import { productRevision } from "./revision.js";
import { classifyStorageRequest, STORAGE_KINDS, type StorageKind } from "./storageRequestKinds.js";
import { startCountingProxy, throughProxy, type StorageRequest } from "./storageProxy.js";

export interface FleetOptions {
  tenants: number;
  minUsers: number;
  maxUsers: number;
  /** The measured worker's --concurrency. */
  concurrency: number;
  /** Added by the simulated Graph to every answer. */
  latencyInMs: number;
  /** Same seed, same tenant sizes. */
  seed: number;
  /** The compiled CLI (default: dist/src/cli/main.js next to this file). */
  cli?: string;
}

/** The issue's configuration (issue 31, item 3): the targets apply to it. */
export const FLEET_CONFIGURATION: Readonly<FleetOptions> = { tenants: 1000, minUsers: 50, maxUsers: 500, concurrency: 16, latencyInMs: 300, seed: 1 };

/** Targets of issue 31, item 3. */
export const FLEET_TARGETS = { storageRequestsPerIdleTenant: 12, graphRequestsPerIdleTenant: 1, tickSecondsAt1000: 300 } as const;

export interface OperationCount {
  kind: StorageKind;
  operation: string;
  count: number;
  perTenant: number;
}

export interface FleetResult {
  options: FleetOptions;
  revision: string;
  startedAt: string;
  cpuCount: number;
  users: number;
  registerSeconds: number;
  seedSeconds: number;
  /** The scheduler's pass: its first registry request to the worker's first receive of the queue. */
  passSeconds: number;
  /** The worker's process, start to exit (Node's start-up and module loading included). */
  tickSeconds: number;
  /** The tick's first storage request to its last answer. */
  tickStorageSeconds: number;
  /** The worker's summary line ("Worker handled N messages: …"). */
  workerSummary: string;
  storage: {
    total: number;
    perTenant: number;
    byKind: Record<StorageKind, { count: number; perTenant: number }>;
    byOperation: OperationCount[];
    /** Tenants whose own tables the tick touched. */
    tenantsTouched: number;
    failed: number;
  };
  graph: { total: number; perTenant: number; min: number; max: number };
  tokenRequestsPerTenant: number;
  peakRssMb: number;
  cpuSeconds: { worker: number; azuriteTables: number; bench: number };
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

/** Tenant i's user count: spread over [min, max] by a small deterministic generator (same seed, same sizes). */
export function tenantSizes(options: Pick<FleetOptions, "tenants" | "minUsers" | "maxUsers" | "seed">): number[] {
  let state = (options.seed * 0x9e3779b1) >>> 0;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: options.tenants }, () => options.minUsers + Math.floor(next() * (options.maxUsers - options.minUsers + 1)));
}

function tenantIdOf(index: number): string {
  return `f1ee0000-0000-4000-8000-${index.toString(16).padStart(12, "0")}`;
}

/** Runs `work` over `items`, `limit` at once. */
async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export function countStorageRequests(requests: readonly StorageRequest[], tenants: number): FleetResult["storage"] {
  const byKind = Object.fromEntries(STORAGE_KINDS.map((kind) => [kind, { count: 0, perTenant: 0 }])) as FleetResult["storage"]["byKind"];
  const byOperation = new Map<string, OperationCount>();
  const touched = new Set<string>();
  let failed = 0;
  for (const request of requests) {
    const classified = classifyStorageRequest(request);
    byKind[classified.kind].count += 1;
    const entry = byOperation.get(classified.operation) ?? { kind: classified.kind, operation: classified.operation, count: 0, perTenant: 0 };
    entry.count += 1;
    byOperation.set(classified.operation, entry);
    if (classified.tenantTables) touched.add(classified.tenantTables);
    if (request.status >= 500 || request.status === 0) failed += 1;
  }
  for (const kind of STORAGE_KINDS) byKind[kind].perTenant = byKind[kind].count / tenants;
  const operations = [...byOperation.values()].map((o) => ({ ...o, perTenant: o.count / tenants }));
  operations.sort((a, b) => STORAGE_KINDS.indexOf(a.kind) - STORAGE_KINDS.indexOf(b.kind) || b.count - a.count || (a.operation < b.operation ? -1 : 1));
  return { total: requests.length, perTenant: requests.length / tenants, byKind, byOperation: operations, tenantsTouched: touched.size, failed };
}

export async function benchFleet(options: FleetOptions, progress: (line: string) => void = (line) => console.error(line)): Promise<FleetResult> {
  const startedAt = new Date().toISOString();
  // The commit the compiled CLI was built from, read now (a long seed must not pick up a later commit).
  const revision = productRevision();
  const sizes = tenantSizes(options);
  const tenantIds = sizes.map((_, i) => tenantIdOf(i));
  const cli = options.cli ?? CLI;
  const cloud = await startSimulatedTenant({
    userCount: 1,
    customerTenants: tenantIds.map((tenantId, i) => ({ tenantId, userCount: sizes[i]!, seed: options.seed * 100_000 + i, graphLatencyInMs: options.latencyInMs })),
  });
  try {
    const azurite = await startAzurite({ queue: true });
    try {
      const proxy = await startCountingProxy({ tableEndpoint: azurite.tableEndpoint, queueEndpoint: azurite.queueEndpoint });
      try {
        const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...cloud.settingsEnv(), USER_SYNC_TENANT_MODE: "multi", NODE_EXTRA_CA_CERTS: cloud.caCertificatePath };
        delete base.GRAPH_TENANT_ID;
        const direct = { ...base, SNAPSHOT_STORAGE: azurite.connectionString, USER_SYNC_QUEUE: azurite.connectionString };
        const proxied = throughProxy(azurite.connectionString, azurite, proxy);
        const counted = { ...base, SNAPSHOT_STORAGE: proxied, USER_SYNC_QUEUE: proxied };

        // The seed: registered (the registry client, as `tenants add` does), then synced once, not measured.
        let started = performance.now();
        const registry = new TenantRegistryClient({ storage: loadStorageSettings(direct) });
        await registry.createTableIfNotExists();
        await inBatches(tenantIds, 32, async (tenantId) => void (await registry.addTenant(tenantId)));
        const registerSeconds = (performance.now() - started) / 1000;
        progress(`registered ${options.tenants} tenants in ${registerSeconds.toFixed(1)} s; seeding (their first sync, ${sizes.reduce((a, b) => a + b, 0).toLocaleString("en-US")} users)…`);
        // Graph answers at once while seeding (the seed is not measured), then after --latency ms.
        for (const customer of cloud.customers.values()) customer.setGraphLatency(0);
        started = performance.now();
        const seed = await runCli(["worker", "--once", "--concurrency", "16"], direct, { cli, keepStdout: true });
        const seedSeconds = (performance.now() - started) / 1000;
        if (seed.code !== 0) throw new Error(`the seeding worker failed (exit ${seed.code}): ${seed.stderr}`);
        progress(`seeded in ${seedSeconds.toFixed(1)} s (${seed.stdout.split("\n")[0]}); the tick…`);

        // The tick, measured.
        for (const customer of cloud.customers.values()) customer.setGraphLatency(options.latencyInMs);
        const graphBefore = tenantIds.map((id) => cloud.customers.get(id)!.graphRequestCount());
        const tokensBefore = cloud.requests.count("token");
        const loadAverageBefore = loadavg();
        const azuriteCpuBefore = cpuSecondsOf(azurite.pid);
        const ownCpuBefore = process.cpuUsage();
        proxy.reset();
        started = performance.now();
        const tick = await runCli(["worker", "--once", "--concurrency", String(options.concurrency)], counted, { cli, measure: true, keepStdout: true });
        const tickSeconds = (performance.now() - started) / 1000;
        const ownCpu = process.cpuUsage(ownCpuBefore);
        const azuriteCpu = cpuSecondsOf(azurite.pid) - azuriteCpuBefore;
        const loadAverageAfter = loadavg();
        if (tick.code !== 0) throw new Error(`the worker failed (exit ${tick.code}): ${tick.stderr}`);
        const requests = proxy.requests();
        const graphCounts = tenantIds.map((id, i) => cloud.customers.get(id)!.graphRequestCount() - graphBefore[i]!);
        const passStart = requests.find((r) => r.service === "table" && /Tenants\(\)$/.test(r.path))?.startedAt;
        const passEnd = requests.find((r) => r.service === "queue" && r.method === "GET" && r.path.endsWith("/messages"))?.startedAt;
        const graphTotal = graphCounts.reduce((a, b) => a + b, 0);
        const result: FleetResult = {
          options,
          revision,
          startedAt,
          cpuCount: cpus().length,
          users: sizes.reduce((a, b) => a + b, 0),
          registerSeconds,
          seedSeconds,
          passSeconds: passStart !== undefined && passEnd !== undefined ? (passEnd - passStart) / 1000 : Number.NaN,
          tickSeconds,
          tickStorageSeconds: requests.length > 0 ? (Math.max(...requests.map((r) => r.endedAt)) - requests[0]!.startedAt) / 1000 : 0,
          workerSummary: tick.stdout.split("\n")[0] ?? "",
          storage: countStorageRequests(requests, options.tenants),
          graph: { total: graphTotal, perTenant: graphTotal / options.tenants, min: Math.min(...graphCounts), max: Math.max(...graphCounts) },
          tokenRequestsPerTenant: (cloud.requests.count("token") - tokensBefore) / options.tenants,
          peakRssMb: tick.peakRssKb / 1024,
          cpuSeconds: { worker: tick.cpuSeconds, azuriteTables: azuriteCpu, bench: (ownCpu.user + ownCpu.system) / 1e6 },
          loadAverageBefore,
          loadAverageAfter,
        };
        return result;
      } finally {
        await proxy.close();
      }
    } finally {
      await azurite.close();
    }
  } finally {
    await cloud.close();
  }
}

const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

export function formatFleet(result: FleetResult): string {
  const { options, storage } = result;
  const issue = options.tenants === FLEET_CONFIGURATION.tenants && options.concurrency === FLEET_CONFIGURATION.concurrency;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const lines = [
    `Fleet: ${options.tenants.toLocaleString("en-US")} idle tenants of ${options.minUsers}–${options.maxUsers} users (${result.users.toLocaleString("en-US")} in all), Graph answers after ${options.latencyInMs} ms, worker --once --concurrency ${options.concurrency}`,
    `Product ${result.revision}, ${result.startedAt}, ${result.cpuCount} cores, load average ${result.loadAverageBefore.map((l) => l.toFixed(2)).join(" / ")} before, ${result.loadAverageAfter.map((l) => l.toFixed(2)).join(" / ")} after`,
    `Seed (not measured): registered in ${fixed(result.registerSeconds, 1)} s, first sync in ${fixed(result.seedSeconds, 1)} s`,
    `Tick: ${fixed(result.tickSeconds, 1)} s (the worker process, start to exit); storage busy ${fixed(result.tickStorageSeconds, 1)} s (first request to last answer); the scheduler's pass ${fixed(result.passSeconds, 2)} s`,
    `Worker: ${result.workerSummary}`,
    `Peak RSS ${fixed(result.peakRssMb, 0)} MB; CPU s worker ${fixed(result.cpuSeconds.worker, 1)}, Azurite (tables) ${fixed(result.cpuSeconds.azuriteTables, 1)}, benchmark (simulated cloud and proxy) ${fixed(result.cpuSeconds.bench, 1)}`,
    `Graph requests per tenant: ${fixed(result.graph.perTenant)} (min ${result.graph.min}, max ${result.graph.max}); token requests per tenant ${fixed(result.tokenRequestsPerTenant)}`,
    `Storage requests: ${storage.total.toLocaleString("en-US")}, ${fixed(storage.perTenant)} per tenant (tenants whose tables were touched: ${storage.tenantsTouched}; failed or 5xx: ${storage.failed})`,
    "",
    "kind          per tenant",
    ...STORAGE_KINDS.filter((kind) => storage.byKind[kind].count > 0).map((kind) => `${kind.padEnd(12)}  ${fixed(storage.byKind[kind].perTenant).padStart(10)}`),
    "",
    "per tenant  count  operation",
    ...storage.byOperation.map((o) => `${fixed(o.perTenant, 3).padStart(10)}  ${String(o.count).padStart(5)}  ${o.operation}`),
    "",
    `Targets${issue ? "" : ` (the issue's apply at ${FLEET_CONFIGURATION.tenants.toLocaleString("en-US")} tenants, concurrency ${FLEET_CONFIGURATION.concurrency}: shown for reference)`}:`,
    `  storage requests per idle tenant ≤ ${FLEET_TARGETS.storageRequestsPerIdleTenant}: ${met(storage.perTenant <= FLEET_TARGETS.storageRequestsPerIdleTenant)} (${fixed(storage.perTenant)})`,
    `  Graph requests per idle tenant = ${FLEET_TARGETS.graphRequestsPerIdleTenant}: ${met(result.graph.min === 1 && result.graph.max === 1)} (${fixed(result.graph.perTenant)})`,
    `  the tick of ${FLEET_CONFIGURATION.tenants.toLocaleString("en-US")} idle tenants within ${FLEET_TARGETS.tickSecondsAt1000 / 60} minutes: ${issue ? met(result.tickSeconds <= FLEET_TARGETS.tickSecondsAt1000) : "not measured at this size"} (${fixed(result.tickSeconds, 1)} s)`,
  ];
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      tenants: { type: "string" },
      "min-users": { type: "string" },
      "max-users": { type: "string" },
      concurrency: { type: "string" },
      latency: { type: "string" },
      seed: { type: "string" },
      out: { type: "string", default: "bench/results" },
    },
    strict: true,
  });
  const whole = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      console.error(`fleetBench: --${name} must be a whole number from ${min} to ${max}, not "${text}".`);
      process.exit(2);
    }
    return n;
  };
  const minUsers = whole("min-users", values["min-users"], FLEET_CONFIGURATION.minUsers, 1, 100_000);
  const options: FleetOptions = {
    tenants: whole("tenants", values.tenants, FLEET_CONFIGURATION.tenants, 1, 100_000),
    minUsers,
    maxUsers: whole("max-users", values["max-users"], Math.max(minUsers, FLEET_CONFIGURATION.maxUsers), minUsers, 100_000),
    concurrency: whole("concurrency", values.concurrency, FLEET_CONFIGURATION.concurrency, 1, 64),
    latencyInMs: whole("latency", values.latency, FLEET_CONFIGURATION.latencyInMs, 0, 10_000),
    seed: whole("seed", values.seed, FLEET_CONFIGURATION.seed, 0, 1_000_000),
  };
  const result = await benchFleet(options);
  const text = formatFleet(result);
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, "-");
  writeFileSync(join(out, `fleet-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(out, `fleet-${stamp}.txt`), text);
  process.stdout.write(text);
}
