/**
 * `npm run bench`: measures the product's sync against its own ceilings on this machine, on
 * loopback, with Azurite and the simulated tenant. Every scenario run is a fresh child process
 * (scenario.ts) so that each starts cold and reports its own peak RSS. Results: a table on stdout,
 * bench/results/<timestamp>.json, latest.json, report.md and chart.svg. How to read them:
 * docs/performance.md.
 *
 *   npm run bench                      # 10k and 100k users, 300 ms and 0 ms pages, 3 runs each (the full round once)
 *   npm run bench -- --million         # also 1,000,000 users (one run per scenario by default)
 *   npm run bench -- --sizes 2000 --repeat 1 --latency 100
 *   npm run bench -- --scenarios full-round,read-ceiling,full-sync --sizes 100k --repeat 1   # the full round (npm run bench:full-round)
 *   npm run bench -- --scenarios full-round,full-round-lane --sizes 100k --latency 0 --full-round-repeat 2 --incremental-users 0   # the analytics lane's cost
 */
import "../../src/shared/requireSupportedNode.js";
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { TableClient } from "@azure/data-tables";
import { BlobServiceClient } from "@azure/storage-blob";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_PARTITION_COUNT, DEFAULT_TABLE_PREFIX, DEFAULT_WRITE_CONCURRENCY } from "../../src/snapshots/snapshotStoreClient.js";
import { DEFAULT_TABLE_PREFIX as MIRROR_TABLE_PREFIX } from "../../src/mirror/userMirrorClient.js";
import { startAzurite, type AzuriteInstance } from "../azurite.js";
import { startSimulatedTenant, type SimulatedTenant } from "../simulated-tenant/index.js";
import { formatConsoleReport, formatLatency, formatMiB, formatSeconds, formatUsers, KIND_LABELS, renderMarkdownReport, renderUsersPerSecondChart } from "./report.js";
import { measureIncrementalSync, type DeltaBenchResult } from "./deltaBench.js";
import { cpuTimeInMs } from "./processCpu.js";
import { productRevision } from "./revision.js";
import { buildResults, usersPerSecond } from "./summary.js";
import {
  GRAPH_PAGE_SIZE,
  LANE_CONTAINER,
  NAIVE_TABLE,
  SCENARIO_KINDS,
  type BenchEnvironment,
  type BenchOptions,
  type ParentMessage,
  type RunRecord,
  type ScenarioKind,
  type ScenarioMeasurement,
  type ScenarioMessage,
  type ScenarioSpec,
  type TenantRequestCounts,
} from "./types.js";

const here = dirname(fileURLToPath(import.meta.url));
const scenarioScript = join(here, "scenario.js");
const MILLION = 1_000_000;

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of at least 0");
  return n;
}

function sizeList(value: string): number[] {
  const sizes = value
    .split(",")
    .map((s) => s.trim().replace(/_/g, ""))
    .filter((s) => s !== "")
    .map((s) => {
      const match = /^(\d+)([kKmM]?)$/.exec(s);
      if (!match) throw new InvalidArgumentError(`"${s}" is not a user count (e.g. 10000, 100k, 1m)`);
      const n = Number(match[1]) * (match[2]!.toLowerCase() === "k" ? 1000 : match[2]!.toLowerCase() === "m" ? MILLION : 1);
      if (n < 1) throw new InvalidArgumentError("user counts start at 1");
      return n;
    });
  return [...new Set(sizes)].sort((a, b) => a - b);
}

function scenarioList(value: string): ScenarioKind[] {
  const kinds = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const kind of kinds) {
    if (!(SCENARIO_KINDS as readonly string[]).includes(kind)) throw new InvalidArgumentError(`"${kind}" is not a scenario (${SCENARIO_KINDS.join(", ")})`);
  }
  if (kinds.length === 0) throw new InvalidArgumentError("name at least one scenario");
  return [...new Set(kinds as ScenarioKind[])];
}

interface CliOptions {
  scenarios: ScenarioKind[];
  fullRoundRepeat: number;
  sizes: number[];
  million: boolean;
  latency: number;
  repeat: number;
  millionRepeat: number;
  naiveSizes: number[];
  millionStorage: "memory" | "disk";
  seed: number;
  incrementalUsers: number;
  incrementalChanges: number;
  out: string;
  cpuProf?: string;
}

const program = new Command()
  .name("npm run bench --")
  .description("Measure full syncs and the scheduled full round against the read and write ceilings and a naive baseline, on Azurite and the simulated tenant.")
  .addOption(new Option("--scenarios <list>", `scenarios to run, comma-separated (${SCENARIO_KINDS.join(", ")})`).argParser(scenarioList).default([...SCENARIO_KINDS], "all"))
  .addOption(new Option("--sizes <list>", "tenant sizes in users, comma-separated (10000, 100k, 1m)").argParser(sizeList).default([10_000, 100_000], "10000,100000"))
  .option("--million", "also measure a tenant of 1,000,000 users", false)
  .addOption(new Option("--latency <ms>", "Graph latency added to every page (zero latency is always measured too)").argParser(nonNegativeInteger).default(300))
  .addOption(new Option("--repeat <n>", "runs per scenario (medians and min–max over them)").argParser(positiveInteger).default(3))
  .addOption(new Option("--million-repeat <n>", "runs per scenario at 1,000,000 users").argParser(positiveInteger).default(1))
  .addOption(new Option("--full-round-repeat <n>", "runs per full-round scenario (each first seeds the snapshot and the mirror with an unmeasured run)").argParser(positiveInteger).default(1))
  .addOption(new Option("--naive-sizes <list>", "sizes at which the naive baseline runs (one request per user is slow)").argParser(sizeList).default([10_000], "10000"))
  .addOption(
    new Option("--million-storage <kind>", "where Azurite keeps 1,000,000 users: in memory, or in a temporary folder on disk").choices(["memory", "disk"]).default("memory"),
  )
  .addOption(new Option("--seed <n>", "seed of the simulated directories").argParser(positiveInteger).default(1))
  .addOption(new Option("--incremental-users <n>", "tenant size of the live mirror's incremental case (0 skips it)").argParser(nonNegativeInteger).default(100_000))
  .addOption(new Option("--incremental-changes <n>", "directory changes between the mirror's full and incremental rounds").argParser(positiveInteger).default(100))
  .option("--out <dir>", "folder for the results", "bench/results")
  .option("--cpu-prof <dir>", "write a V8 CPU profile of every scenario's process into this folder (node --cpu-prof; summarize one with dist/tools/bench/cpuProfileSummary.js)");

program.parse();
const cli = program.opts<CliOptions>();
const sizes = [...new Set([...cli.sizes, ...(cli.million ? [MILLION] : [])])].sort((a, b) => a - b);
const options: BenchOptions = {
  sizes,
  latencyInMs: cli.latency,
  repeat: cli.repeat,
  millionRepeat: cli.millionRepeat,
  naiveSizes: cli.naiveSizes.filter((s) => sizes.includes(s)),
  fullRoundRepeat: cli.fullRoundRepeat,
  scenarios: cli.scenarios,
  seed: cli.seed,
};
const wanted = (kind: ScenarioKind) => options.scenarios.includes(kind);
const latencies = [...new Set([options.latencyInMs, 0])];

function azuriteVersion(): string {
  const require = createRequire(import.meta.url);
  return (JSON.parse(readFileSync(require.resolve("azurite/package.json"), "utf8")) as { version: string }).version;
}

function scenarioSpecs(userCount: number, tenantDomain: string, tableHost: string): ScenarioSpec[] {
  const base = { userCount, seed: options.seed, tenantDomain, tableHost };
  const specs: ScenarioSpec[] = [];
  for (const latencyInMs of latencies) {
    // The lane variant right after the round without it: the pair is measured back to back.
    specs.push(
      { ...base, kind: "full-sync", latencyInMs },
      { ...base, kind: "full-round", latencyInMs },
      { ...base, kind: "full-round-lane", latencyInMs },
      { ...base, kind: "read-ceiling", latencyInMs },
    );
  }
  specs.push({ ...base, kind: "write-ceiling", latencyInMs: null });
  if (options.naiveSizes.includes(userCount)) {
    for (const latencyInMs of latencies) specs.push({ ...base, kind: "naive", latencyInMs });
  }
  return specs.filter((spec) => wanted(spec.kind));
}

/** Runs of a scenario at a size: the full round has its own count (each run seeds its stores first). */
function repeatsOf(kind: ScenarioKind, userCount: number): number {
  if (userCount >= MILLION) return options.millionRepeat;
  return kind === "full-round" || kind === "full-round-lane" ? options.fullRoundRepeat : options.repeat;
}

/**
 * Runs one scenario in a fresh process; resolves with its measurement and Azurite's CPU time
 * meanwhile. A full-round child asks for the tenant's request counts to be reset after its seed
 * run, so that they (and Azurite's CPU time) cover the measured round.
 */
function runChild(
  spec: ScenarioSpec,
  env: NodeJS.ProcessEnv,
  tenant: SimulatedTenant,
  azuritePid: number | undefined,
): Promise<{ measurement: ScenarioMeasurement; processWallTimeInMs: number; cpu: Pick<RunRecord, "azuriteCpuInMs" | "seedAzuriteCpuInMs" | "tenantCpuInMs"> }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const azuriteCpuAtSpawn = cpuTimeInMs(azuritePid);
    let azuriteCpuAtStart = azuriteCpuAtSpawn;
    let seedAzuriteCpuInMs: number | undefined;
    let ownCpuAtStart = process.cpuUsage();
    const child = fork(scenarioScript, [], {
      env: { ...env, BENCH_SCENARIO: JSON.stringify(spec) },
      execArgv: cli.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", resolve(cli.cpuProf), "--cpu-prof-name", `${spec.kind}-${spec.userCount}-${spec.latencyInMs ?? "none"}-${Date.now()}.cpuprofile`] : [],
      // stderr is kept (its tail) and shown only when the run fails: MSAL's notices are noise here.
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    let answer: Extract<ScenarioMessage, { kind: "result" }> | undefined;
    child.on("message", (raw) => {
      const message = raw as ScenarioMessage;
      if (message.kind === "reset-tenant-counts") {
        tenant.requests.reset();
        azuriteCpuAtStart = cpuTimeInMs(azuritePid);
        if (azuriteCpuAtStart !== undefined && azuriteCpuAtSpawn !== undefined) seedAzuriteCpuInMs = azuriteCpuAtStart - azuriteCpuAtSpawn;
        ownCpuAtStart = process.cpuUsage();
        child.send({ kind: "tenant-counts-reset" } satisfies ParentMessage);
      } else if (message.kind === "result") {
        answer = message;
      }
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const processWallTimeInMs = performance.now() - started;
      const azuriteCpuAtEnd = cpuTimeInMs(azuritePid);
      const own = process.cpuUsage(ownCpuAtStart);
      const cpu: Pick<RunRecord, "azuriteCpuInMs" | "seedAzuriteCpuInMs" | "tenantCpuInMs"> = { tenantCpuInMs: (own.user + own.system) / 1000 };
      if (azuriteCpuAtStart !== undefined && azuriteCpuAtEnd !== undefined) cpu.azuriteCpuInMs = azuriteCpuAtEnd - azuriteCpuAtStart;
      if (seedAzuriteCpuInMs !== undefined) cpu.seedAzuriteCpuInMs = seedAzuriteCpuInMs;
      const output = stderr.trim() === "" ? "" : `\n${stderr.trim()}`;
      if (answer?.ok) resolvePromise({ measurement: answer.measurement, processWallTimeInMs, cpu });
      else if (answer) reject(new Error(`${answer.error}${output}`));
      else reject(new Error(`the scenario process exited (code ${code ?? "none"}, signal ${signal ?? "none"}) without a result${output}`));
    });
  });
}

function tenantCounts(tenant: SimulatedTenant): TenantRequestCounts {
  const certificateFetches = tenant.requests
    .entries()
    .filter((e) => e.service === "keyVault" && e.method === "GET" && e.path.startsWith("/certificates/") && e.status === 200).length;
  return {
    graph: tenant.requests.count("graph"),
    token: tenant.requests.count("token"),
    keyVault: tenant.requests.count("keyVault"),
    certificateFetches,
    managedIdentity: tenant.requests.count("managedIdentity"),
  };
}

/** Empties Azurite between runs so that every run writes into empty tables and Azurite's memory stays flat. */
async function dropTables(azurite: AzuriteInstance): Promise<void> {
  const tables = [`${DEFAULT_TABLE_PREFIX}Snapshots`, `${DEFAULT_TABLE_PREFIX}Runs`, `${MIRROR_TABLE_PREFIX}Mirror`, `${MIRROR_TABLE_PREFIX}MirrorChanges`, NAIVE_TABLE];
  for (const name of tables) {
    await TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }).deleteTable();
  }
  if (azurite.blobEndpoint !== undefined) await laneContainer(azurite).deleteIfExists();
}

function laneContainer(azurite: AzuriteInstance) {
  return BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(LANE_CONTAINER);
}

/**
 * The lane variant's settings, as a user sets them (docs/analytics.md): a connection string to the
 * blob service (Azurite's, next to the tables) and the container, which the deployment creates (here: before the run).
 */
async function laneSettings(spec: ScenarioSpec, azurite: AzuriteInstance): Promise<NodeJS.ProcessEnv> {
  if (spec.kind !== "full-round-lane") return {};
  await laneContainer(azurite).createIfNotExists();
  return { USER_SYNC_EXPORT_STORAGE: azurite.connectionString, USER_SYNC_EXPORT_CONTAINER: LANE_CONTAINER };
}

const startedAt = new Date();
const revision = productRevision();
const loadAverageAtStart = loadavg();
const clock = performance.now();
const elapsed = () => `${formatSeconds(performance.now() - clock).padStart(6)} s`;
const runs: RunRecord[] = [];
const notes: string[] = [];
const azuriteStorage: Record<string, "memory" | "disk"> = {};
let failures = 0;

const planned = sizes.reduce((total, size) => total + scenarioSpecs(size, "", "").reduce((n, spec) => n + repeatsOf(spec.kind, size), 0), 0);
console.log(
  `Benchmark: ${sizes.map(formatUsers).join(", ")} users; Graph latency ${latencies.map((l) => `${l} ms`).join(" and ")}; ${planned} runs, each in its own process.`,
);

let done = 0;
for (const userCount of sizes) {
  const storage = userCount > 100_000 ? cli.millionStorage : "memory";
  azuriteStorage[String(userCount)] = storage;
  const location = storage === "disk" ? mkdtempSync(join(tmpdir(), "bench-azurite-")) : undefined;
  const azurite = await startAzurite({ ...(location === undefined ? {} : { location }), blob: wanted("full-round-lane") });
  const tenants = new Map<number, SimulatedTenant>();
  try {
    for (const latencyInMs of latencies) {
      tenants.set(latencyInMs, await startSimulatedTenant({ userCount, seed: options.seed, graphLatencyInMs: latencyInMs }));
    }
    const anyTenant = tenants.get(options.latencyInMs)!;
    const tableHost = new URL(azurite.tableEndpoint).host;
    const specs = scenarioSpecs(userCount, anyTenant.tenantDomain, tableHost).map((spec) =>
      spec.kind === "full-round-lane" && azurite.pid !== undefined ? { ...spec, azuritePid: azurite.pid } : spec,
    );
    const repeats = Math.max(...specs.map((spec) => repeatsOf(spec.kind, userCount)));
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const spec of specs) {
        if (repeat > repeatsOf(spec.kind, userCount)) continue;
        const tenant = tenants.get(spec.latencyInMs ?? options.latencyInMs)!;
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          ...tenant.settingsEnv(),
          SNAPSHOT_STORAGE: azurite.connectionString,
          NODE_EXTRA_CA_CERTS: tenant.caCertificatePath,
          ...(await laneSettings(spec, azurite)),
        };
        tenant.requests.reset();
        const label = `${formatUsers(userCount)} users · ${KIND_LABELS[spec.kind]} · ${formatLatency(spec.latencyInMs)} · run ${repeat}/${repeatsOf(spec.kind, userCount)}`;
        done += 1;
        try {
          const { measurement, processWallTimeInMs, cpu } = await runChild(spec, env, tenant, azurite.pid);
          const record: RunRecord = { ...measurement, repeat, processWallTimeInMs, tenant: tenantCounts(tenant), ...cpu };
          runs.push(record);
          const seeded = record.round ? ` (after a ${formatSeconds(record.round.seedWallTimeInMs)} s seed run)` : "";
          const azuriteCpu = record.azuriteCpuInMs !== undefined ? `, Azurite CPU ${formatSeconds(record.azuriteCpuInMs)} s` : "";
          const lane = record.round?.lane ? `, of which the lane ${formatSeconds(record.round.lane.wallTimeInMs)} s (${formatMiB(record.round.lane.bytes)} MiB written)` : "";
          console.log(
            `${elapsed()}  [${String(done).padStart(String(planned).length)}/${planned}] ${label}: ${formatSeconds(record.wallTimeInMs)} s${seeded}, ${formatUsers(Math.round(usersPerSecond(record)))} users/s, peak RSS ${formatMiB(record.peakRssBytes)} MiB${azuriteCpu}${lane}`,
          );
        } catch (error) {
          failures += 1;
          const message = `${label} failed: ${(error as Error).message}`;
          notes.push(message);
          console.error(`${elapsed()}  ${message}`);
        }
        await dropTables(azurite);
      }
    }
  } finally {
    await Promise.all([...tenants.values()].map((t) => t.close()));
    await azurite.close();
    if (location !== undefined) rmSync(location, { recursive: true, force: true });
  }
}

const skippedNaive = sizes.filter((s) => !options.naiveSizes.includes(s));
if (wanted("naive") && skippedNaive.length > 0) {
  notes.push(
    `The naive baseline ran at ${options.naiveSizes.map(formatUsers).join(", ") || "no size"} users only: one request per user makes it too slow to repeat at ${skippedNaive.map(formatUsers).join(", ")} within the time box (pass --naive-sizes to include them).`,
  );
}
notes.push(
  "Azurite, the simulated tenant (which generates every Graph page) and the measured process share this machine's cores; the read and write ceilings were measured under the same sharing.",
  "The write ceiling times only the store's calls; generating its pages from the simulated directory is off the clock.",
);
if (wanted("full-round")) {
  notes.push(
    "Each full-round run is one process: an unmeasured first run seeds the snapshot and the mirror (its wall time is in the JSON as round.seedWallTimeInMs), then the scheduled full round is measured; its Graph, token and Key Vault counts cover the measured round only, which reuses the seed run's token and certificate.",
  );
}

let incremental: DeltaBenchResult | undefined;
if (cli.incrementalUsers > 0) {
  console.log(`${elapsed()}  live mirror: full round, ${cli.incrementalChanges} changes, incremental round at ${formatUsers(cli.incrementalUsers)} users`);
  try {
    incremental = await measureIncrementalSync({ userCount: cli.incrementalUsers, changeCount: cli.incrementalChanges, seed: options.seed });
  } catch (error) {
    failures += 1;
    notes.push(`The live mirror's incremental case failed: ${(error as Error).message}`);
  }
}

const cpuList = cpus();
const loadAverageAtEnd = loadavg();
const busiest = Math.max(loadAverageAtStart[0]!, loadAverageAtEnd[0]!, loadAverageAtEnd[1]!);
if (busiest > cpuList.length) {
  notes.push(
    `Other work shared the machine: load average up to ${busiest.toFixed(1)} on ${cpuList.length} cores (1-minute at start ${loadAverageAtStart[0]!.toFixed(1)}, 5-minute at end ${loadAverageAtEnd[1]!.toFixed(1)}); wall times are inflated and spreads wide.`,
  );
}
const environment: BenchEnvironment = {
  node: process.version,
  platform: process.platform,
  arch: process.arch,
  cpuModel: cpuList[0]?.model.trim() ?? "unknown",
  cpuCount: cpuList.length,
  totalMemoryBytes: totalmem(),
  azuriteVersion: azuriteVersion(),
  productRevision: revision,
  partitionCount: DEFAULT_PARTITION_COUNT,
  writeConcurrency: DEFAULT_WRITE_CONCURRENCY,
  graphPageSize: GRAPH_PAGE_SIZE,
  loadAverageAtStart,
  loadAverageAtEnd,
  azuriteStorage,
};
const results = buildResults({ startedAt, finishedAt: new Date(), options, environment, runs, notes, ...(incremental ? { incremental } : {}) });

const outDir = resolve(cli.out);
mkdirSync(outDir, { recursive: true });
const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
const json = `${JSON.stringify(results, null, 2)}\n`;
writeFileSync(join(outDir, `${stamp}.json`), json);
writeFileSync(join(outDir, "latest.json"), json);
writeFileSync(join(outDir, "chart.svg"), renderUsersPerSecondChart(results.scenarios));
writeFileSync(join(outDir, "report.md"), renderMarkdownReport(results, "chart.svg"));

console.log(`\n${formatConsoleReport(results)}\n`);
console.log(`Results: ${join(cli.out, `${stamp}.json`)}, ${join(cli.out, "latest.json")}, ${join(cli.out, "report.md")} (chart: ${join(cli.out, "chart.svg")}). Took ${elapsed().trim()}.`);
process.exit(failures > 0 ? 1 : 0);
