/**
 * The groups round in the benchmark (issue 29, item 9), through the compiled CLI against Azurite and
 * the simulated tenant with USER_SYNC_GROUPS=true, on the directory of groupsScenario.ts (users,
 * groups nested `depth` deep, `edges` direct edges), served by the simulated tenant from a layout
 * computed per slot (never held):
 * 1. the read ceiling: every `/users` page and a first `/groups/delta` round read through the
 *    product's Graph clients in their own process, nothing stored (groupsReadCeiling.ts): the pages
 *    Graph hands out, and Graph's time alone;
 * 2. the full round: `run` on empty stores (a snapshot with users, groups and memberships, and the
 *    mirrors' full rounds in the same pass): its Graph requests (users and groups) against those
 *    pages (target: at most pages + 2), its time against the read ceiling and its bottleneck ratio
 *    (time ÷ max(read ceiling, Azurite's CPU, the process's CPU), as the users' full round reports
 *    it), and the process's peak RSS (target: at most 512 MiB);
 * 3. `changes` membership changes in the simulated directory (half joins, half leaves), then `run`
 *    again: the incremental round's Graph requests (target: at most 3);
 * 4. `export --latest --memberships --transitive`: the nested closure's lines and peak RSS.
 * Counts do not depend on the machine's load; times do.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { startAzurite } from "../azurite.js";
import { startIndexedTableService } from "./indexedTableService.js";
import { startSimulatedTenant, type SimulatedTenant } from "../simulated-tenant/index.js";
import { CLI, runCli, type ChildRun } from "./cliRun.js";
import { cpuTimeInMs } from "./processCpu.js";
import type { ReadCeiling } from "./groupsReadCeiling.js";
import { scenarioLayout, type GroupsScenario } from "./groupsScenario.js";
import { productRevision } from "./revision.js";

export const PEAK_RSS_TARGET_MIB = 512;
export const FULL_ROUND_EXTRA_REQUESTS = 2;
export const INCREMENTAL_REQUESTS_TARGET = 3;
/** Never due during the bench: 29 February at midnight UTC (the second run is the mirror's incremental round). */
const RARE_SCHEDULE = "0 0 0 29 2 *";

export interface GroupsRoundOptions extends GroupsScenario {
  /** Membership changes between the full and the incremental round. */
  changes: number;
  latencyInMs: number;
  seed: number;
  azuriteStorage: "memory" | "disk";
  /**
   * The table store: Azurite (default) or the benchmark's indexed table service
   * (indexedTableService.ts), whose cost per row does not grow with the table. Either runs as its
   * own process; its CPU is the bottleneck ratio's "store busy".
   */
  store?: "azurite" | "indexed";
  /** The compiled CLI (default dist/src/cli/main.js). */
  cli?: string;
}

export interface GraphCounts {
  total: number;
  users: number;
  groups: number;
}

export interface CliMeasure {
  seconds: number;
  cpuSeconds: number;
  peakRssMib: number;
  /** The V8 heap's peak, used and live after a full collection (heapSampler.ts), when it reported. */
  peakHeapUsedMib?: number;
  peakHeapAfterFullGcMib?: number;
}

export interface GroupsRoundResult {
  options: Omit<GroupsRoundOptions, "cli">;
  revision: string;
  startedAt: string;
  loadAverage: { atStart: number[]; atEnd: number[] };
  cpuCount: number;
  readCeiling: ReadCeiling & { seconds: number; pages: number };
  /** Which table store answered: "azurite" or "indexed". */
  store: "azurite" | "indexed";
  /** The store's process's peak RSS (VmHWM), when it could be read. */
  storePeakRssMib: number | undefined;
  full: CliMeasure & { graph: GraphCounts; azuriteCpuSeconds: number; bottleneckRatio: number; bound: "read ceiling" | "store busy" | "own CPU"; ratioToReadCeiling: number };
  incremental: CliMeasure & { graph: GraphCounts; changesMade: number };
  closure: CliMeasure & { lines: number; bytes: number };
  targets: Array<{ target: string; value: string; met: boolean }>;
}

function graphCounts(tenant: SimulatedTenant): GraphCounts {
  const graph = tenant.requests.entries().filter((e) => e.service === "graph");
  return {
    total: tenant.requests.count("graph"),
    users: graph.filter((e) => e.path.startsWith("/v1.0/users")).length,
    groups: graph.filter((e) => e.path.startsWith("/v1.0/groups")).length,
  };
}

function readCeilingOf(cli: string, env: NodeJS.ProcessEnv): Promise<ReadCeiling> {
  const script = join(cli, "..", "..", "..", "tools", "bench", "groupsReadCeiling.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err = (err + chunk).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as ReadCeiling) : reject(new Error(`the read ceiling exited ${code}: ${err.trim()}`))));
  });
}

async function measured(args: string[], env: NodeJS.ProcessEnv, cli: string, countStdout = false): Promise<{ run: ChildRun; measure: CliMeasure }> {
  const started = performance.now();
  const run = await runCli(args, env, { cli, measure: true, countStdout, keepStdout: !countStdout });
  const seconds = (performance.now() - started) / 1000;
  if (run.code !== 0) throw new Error(`\`${args.join(" ")}\` exited ${run.code}: ${run.stderr.trim()}`);
  const heap = run.heap ? { peakHeapUsedMib: run.heap.peakHeapUsedBytes / 1024 / 1024, peakHeapAfterFullGcMib: run.heap.peakHeapAfterFullGcBytes / 1024 / 1024 } : {};
  return { run, measure: { seconds, cpuSeconds: run.cpuSeconds, peakRssMib: run.peakRssKb / 1024, ...heap } };
}

/** Half the changes remove a user member, half add a user that was not one; spread over the groups. */
export function changeMemberships(tenant: SimulatedTenant, options: Pick<GroupsRoundOptions, "users" | "groups" | "edges" | "depth" | "changes">): number {
  const layout = scenarioLayout(options);
  const removed = new Map<number, number>();
  let made = 0;
  for (let i = 0; made < options.changes && i < options.changes * 10; i += 1) {
    const group = (i * 7919 + 3) % options.groups;
    if (made % 2 === 0) {
      const gone = removed.get(group) ?? 0;
      const member = layout.memberAt(group, layout.memberCount(group) - 1 - gone);
      if (member.kind !== "user") continue;
      tenant.groups.removeMember(group, { user: member.index });
      removed.set(group, gone + 1);
    } else {
      let user = (i * 104_729) % options.users;
      for (let tries = 0; tries < options.users && layout.userSlot(group, user) !== undefined; tries += 1) user = (user + 1) % options.users;
      if (layout.userSlot(group, user) !== undefined || !tenant.groups.addMember(group, { user })) continue;
    }
    made += 1;
  }
  return made;
}

export async function benchGroupsRound(options: GroupsRoundOptions, progress: (line: string) => void = () => undefined): Promise<GroupsRoundResult> {
  const cli = options.cli ?? CLI;
  const atStart = loadavg();
  const startedAt = new Date().toISOString();
  const store = options.store ?? "azurite";
  const location = store === "azurite" && options.azuriteStorage === "disk" ? mkdtempSync(join(tmpdir(), "bench-groups-azurite-")) : undefined;
  // `azurite` names the store's process below, whichever it is (its pid, CPU and connection string).
  const azurite = store === "indexed" ? await startIndexedTableService() : await startAzurite(location === undefined ? {} : { location });
  const tenant = await startSimulatedTenant({
    userCount: options.users,
    seed: options.seed,
    graphLatencyInMs: options.latencyInMs,
    groups: { count: options.groups, layout: scenarioLayout(options) },
  });
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...tenant.settingsEnv(),
      SNAPSHOT_STORAGE: azurite.connectionString,
      NODE_EXTRA_CA_CERTS: tenant.caCertificatePath,
      USER_SYNC_GROUPS: "true",
      USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE,
    };
    progress("read ceiling (users and groups, nothing stored)…");
    tenant.requests.reset();
    const ceiling = await readCeilingOf(cli, env);
    const pages = tenant.requests.count("graph");
    progress(`read ceiling: ${pages} pages in ${(ceiling.usersSeconds + ceiling.groupsSeconds).toFixed(1)} s; the full round…`);
    tenant.requests.reset();
    const azuriteBefore = cpuTimeInMs(azurite.pid) ?? 0;
    const full = await measured(["run", "--no-progress"], env, cli);
    const azuriteCpuSeconds = ((cpuTimeInMs(azurite.pid) ?? 0) - azuriteBefore) / 1000;
    const fullGraph = graphCounts(tenant);
    progress(`full round: ${full.measure.seconds.toFixed(1)} s, ${fullGraph.total} Graph requests; ${options.changes} membership changes, the incremental round…`);
    const changesMade = changeMemberships(tenant, options);
    tenant.requests.reset();
    const incremental = await measured(["run", "--no-progress"], env, cli);
    const incrementalGraph = graphCounts(tenant);
    progress(`incremental round: ${incrementalGraph.total} Graph requests; the nested closure…`);
    const closure = await measured(["export", "--latest", "--memberships", "--transitive"], env, cli, true);
    const readSeconds = ceiling.usersSeconds + ceiling.groupsSeconds;
    const parts: Array<[GroupsRoundResult["full"]["bound"], number]> = [
      ["read ceiling", readSeconds],
      ["store busy", azuriteCpuSeconds],
      ["own CPU", full.measure.cpuSeconds],
    ];
    const [bound, boundSeconds] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
    const result: Omit<GroupsRoundResult, "targets"> = {
      store,
      storePeakRssMib: peakRssMibOf(azurite.pid),
      options: { users: options.users, groups: options.groups, edges: options.edges, depth: options.depth, changes: options.changes, latencyInMs: options.latencyInMs, seed: options.seed, azuriteStorage: options.azuriteStorage },
      revision: productRevision(),
      startedAt,
      loadAverage: { atStart, atEnd: loadavg() },
      cpuCount: cpus().length,
      readCeiling: { ...ceiling, seconds: readSeconds, pages },
      full: { ...full.measure, graph: fullGraph, azuriteCpuSeconds, bottleneckRatio: full.measure.seconds / boundSeconds, bound, ratioToReadCeiling: full.measure.seconds / readSeconds },
      incremental: { ...incremental.measure, graph: incrementalGraph, changesMade },
      closure: { ...closure.measure, lines: closure.run.stdoutLines, bytes: closure.run.stdoutBytes },
    };
    return { ...result, targets: targetsOf(result) };
  } finally {
    await tenant.close();
    await azurite.close();
    if (location !== undefined) rmSync(location, { recursive: true, force: true });
  }
}

/** A process's peak RSS (VmHWM) from /proc, in MiB; undefined where there is none. */
function peakRssMibOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return hwm ? Number(hwm[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function targetsOf(result: Omit<GroupsRoundResult, "targets">): GroupsRoundResult["targets"] {
  const { full, incremental, closure, readCeiling } = result;
  return [
    { target: `full round's Graph requests ≤ pages + ${FULL_ROUND_EXTRA_REQUESTS}`, value: `${full.graph.total} for ${readCeiling.pages} pages`, met: full.graph.total <= readCeiling.pages + FULL_ROUND_EXTRA_REQUESTS },
    { target: `incremental round's Graph requests ≤ ${INCREMENTAL_REQUESTS_TARGET}`, value: `${incremental.graph.total}`, met: incremental.graph.total <= INCREMENTAL_REQUESTS_TARGET },
    { target: `sync's peak RSS ≤ ${PEAK_RSS_TARGET_MIB} MiB`, value: `${Math.round(full.peakRssMib)} MiB`, met: full.peakRssMib <= PEAK_RSS_TARGET_MIB },
    { target: `closure's peak RSS ≤ ${PEAK_RSS_TARGET_MIB} MiB`, value: `${Math.round(closure.peakRssMib)} MiB`, met: closure.peakRssMib <= PEAK_RSS_TARGET_MIB },
  ];
}

const n = (value: number) => value.toLocaleString("en-US");
const s = (seconds: number) => `${seconds.toFixed(1)} s`;
const heapOf = (m: CliMeasure) => (m.peakHeapUsedMib === undefined ? "" : ` (heap: peak used ${Math.round(m.peakHeapUsedMib)} MiB, live after a full GC ${Math.round(m.peakHeapAfterFullGcMib ?? 0)} MiB)`);

export function formatGroupsRound(result: GroupsRoundResult): string {
  const { options: o, readCeiling: c, full, incremental, closure } = result;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  const storeName = result.store === "indexed" ? "the indexed table service (bench only)" : `Azurite in ${o.azuriteStorage}`;
  const storeCpu = result.store === "indexed" ? "store CPU" : "Azurite CPU";
  const storeRss = result.storePeakRssMib === undefined ? "" : `; the store's peak RSS ${Math.round(result.storePeakRssMib)} MiB`;
  return [
    `Groups round: ${n(o.users)} users, ${n(o.groups)} groups, ${n(o.edges)} direct edges nested ${o.depth} deep; Graph latency ${o.latencyInMs} ms; store: ${storeName}`,
    `  ${result.startedAt}, ${result.revision}, ${result.cpuCount} cores, load average ${load(result.loadAverage.atStart)} at start, ${load(result.loadAverage.atEnd)} at end`,
    `  read ceiling          ${s(c.seconds)} (users ${s(c.usersSeconds)}, groups ${s(c.groupsSeconds)}): ${n(c.pages)} pages (${n(c.userPages)} users, ${n(c.groupPages)} groups delta, ${n(c.membershipLinks)} member links)`,
    `  full round            ${s(full.seconds)} = ${full.ratioToReadCeiling.toFixed(2)} × read ceiling; bottleneck ratio ${full.bottleneckRatio.toFixed(2)} (bound: ${full.bound}; ${storeCpu} ${s(full.azuriteCpuSeconds)}, own CPU ${s(full.cpuSeconds)}${storeRss})`,
    `                        ${n(full.graph.total)} Graph requests (${n(full.graph.users)} users, ${n(full.graph.groups)} groups); peak RSS ${Math.round(full.peakRssMib)} MiB${heapOf(full)}`,
    `  incremental round     ${s(incremental.seconds)} after ${incremental.changesMade} membership changes: ${incremental.graph.total} Graph requests (${incremental.graph.users} users, ${incremental.graph.groups} groups); peak RSS ${Math.round(incremental.peakRssMib)} MiB`,
    `  nested closure        ${s(closure.seconds)}: ${n(closure.lines)} lines (${Math.round(closure.bytes / 1024 / 1024)} MiB) from \`export --latest --memberships --transitive\`; peak RSS ${Math.round(closure.peakRssMib)} MiB${heapOf(closure)}`,
    ...result.targets.map((t) => `  ${t.met ? "met    " : "NOT met"}  ${t.target}: ${t.value}`),
    "",
  ].join("\n");
}
