/**
 * One benchmark scenario in its own process, so that its peak RSS is its own and every run starts
 * cold (no token, no certificate, no connections). The parent (main.ts) forks this file with the
 * spec in BENCH_SCENARIO and the product's settings in the environment, and gets one
 * ScenarioMeasurement back over IPC.
 */
import { performance } from "node:perf_hooks";
import diagnosticsChannel from "node:diagnostics_channel";
import type { ClientRequest, IncomingMessage } from "node:http";
import { TableClient } from "@azure/data-tables";
import { loadSettings } from "../../src/configuration/settings.js";
import type { GraphUser } from "../../src/graph/types.js";
import type { Logger } from "../../src/shared/logger.js";
import { composeStorage } from "../../src/app/compose.js";
import { encodeUserEntity } from "../../src/tables/userEntity.js";
import { composeUserSync, createUserSyncService } from "../../src/app/syncService.js";
import { createSimulatedDirectory } from "../simulated-tenant/users.js";
import { cpuTimeInMs } from "./processCpu.js";
import type { LaneRoundResult, SnapshotLane } from "../../src/lane/snapshotLane.js";
import { GRAPH_PAGE_SIZE, NAIVE_TABLE, type FullRoundDetails, type LaneDetails, type ParentMessage, type ScenarioMeasurement, type ScenarioMessage, type ScenarioSpec, type TableRequestCounts } from "./types.js";

/** How far ahead of now the measured full round runs: past the default full schedule's next occurrence (daily). */
const TWO_DAYS_IN_MS = 2 * 24 * 60 * 60_000;
/** Bound on the parent's answer to a request over IPC. */
const PARENT_ANSWER_TIMEOUT_IN_MS = 30_000;

/** Partition key of every naive entity: samples commonly use one constant partition. */
const NAIVE_PARTITION = "users";

/** The product logs nothing useful for a benchmark at info level; warnings and errors still show. */
const quietLogger: Logger = {
  info() {},
  warn: (message) => console.error(`warn: ${message}`),
  error: (message) => console.error(`error: ${message}`),
};

/** Counts requests to the table service as they leave Node's HTTP client. */
export function countTableRequests(tableHost: string): TableRequestCounts {
  const counts: TableRequestCounts = { requests: 0, batches: 0, throttled: 0 };
  const isTable = (request: ClientRequest) => request.getHeader("host") === tableHost;
  diagnosticsChannel.subscribe("http.client.request.start", (message) => {
    const { request } = message as { request: ClientRequest };
    if (!isTable(request)) return;
    counts.requests += 1;
    if (request.path.includes("$batch")) counts.batches += 1;
  });
  diagnosticsChannel.subscribe("http.client.response.finish", (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    if (isTable(request) && (response.statusCode === 500 || response.statusCode === 503)) counts.throttled += 1;
  });
  return counts;
}

interface Work {
  users: number;
  entitiesWritten: number;
  wallTimeInMs: number;
  writerSyncInMsPerPage?: number;
  processCpuInMs?: number;
  /** Table requests of the measured part, when the process sent others before it. */
  table?: TableRequestCounts;
  round?: FullRoundDetails;
}

function send(message: ScenarioMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, (error: Error | null) => (error ? reject(error) : resolve())));
}

/** Asks the benchmark to reset the simulated tenant's request counts, and waits until it has. */
async function resetTenantCounts(): Promise<void> {
  const answered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off("message", onMessage);
      reject(new Error(`the benchmark did not answer within ${PARENT_ANSWER_TIMEOUT_IN_MS / 1000} s when asked to reset the tenant's request counts`));
    }, PARENT_ANSWER_TIMEOUT_IN_MS);
    const onMessage = (message: unknown) => {
      if ((message as ParentMessage | null)?.kind !== "tenant-counts-reset") return;
      clearTimeout(timer);
      process.off("message", onMessage);
      resolve();
    };
    process.on("message", onMessage);
  });
  await send({ kind: "reset-tenant-counts" });
  await answered;
}

async function fullSync(spec: ScenarioSpec): Promise<Work> {
  const service = createUserSyncService(process.env);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { stats } = await service.runSync(quietLogger, { trigger: "cli" });
  const wallTimeInMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (stats.entitiesWritten !== spec.userCount) {
    throw new Error(`the sync wrote ${stats.entitiesWritten} entities for ${spec.userCount} users`);
  }
  return { users: stats.usersRead, entitiesWritten: stats.entitiesWritten, wallTimeInMs, processCpuInMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * The scheduled full round: a first run seeds the snapshot and the mirror (not measured), then the
 * run of the full schedule's next occurrence is measured, as the timer trigger would run it two days
 * later: a new snapshot and the mirror's full round in one pass over `/users`, into a mirror that
 * already holds every user (Replace of existing entities, then the sweep).
 */
async function fullRound(spec: ScenarioSpec, table: TableRequestCounts): Promise<Work> {
  const { service, clients } = composeUserSync(process.env);
  const withLane = spec.kind === "full-round-lane";
  if (withLane !== (clients.lane !== undefined)) throw new Error(`the ${spec.kind} scenario ran with the analytics lane ${clients.lane ? "set" : "unset"}`);
  const laneTimes = clients.lane ? timeLane(clients.lane, spec.azuritePid) : undefined;
  const seedStarted = performance.now();
  const seed = await service.runDue(quietLogger, { trigger: "cli" });
  const seedWallTimeInMs = performance.now() - seedStarted;
  if (seed.snapshot?.outcome !== "completed" || seed.mirror?.status !== "succeeded") {
    throw new Error(`the seed run did not complete: snapshot ${seed.snapshot?.outcome ?? "not run"}, mirror ${seed.mirror?.status ?? "not run"}`);
  }
  const seedLaneInMs = laneTimes?.splice(0).reduce((sum, t) => sum + t.wallTimeInMs, 0) ?? 0;
  await resetTenantCounts();
  const before = { ...table };
  const mirrorBefore = { ...clients.mirror.stats };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await service.runDue(quietLogger, { trigger: "timer", now: new Date(Date.now() + TWO_DAYS_IN_MS) });
  const wallTimeInMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const snapshot = result.snapshot;
  const mirror = result.mirror;
  if (result.due.snapshot !== "scheduled" || snapshot?.outcome !== "completed" || mirror?.status !== "succeeded" || mirror.mode !== "full") {
    throw new Error(`the measured run was not a completed scheduled full round: due ${JSON.stringify(result.due)}, snapshot ${snapshot?.outcome ?? "not run"}, mirror ${mirror?.mode ?? "-"} ${mirror?.status ?? "not run"}`);
  }
  if (snapshot.stats.entitiesWritten !== spec.userCount || mirror.usersWritten !== spec.userCount) {
    throw new Error(`the round wrote ${snapshot.stats.entitiesWritten} snapshot entities and ${mirror.usersWritten} mirror users for ${spec.userCount} users`);
  }
  return {
    users: snapshot.stats.usersRead,
    entitiesWritten: snapshot.stats.entitiesWritten + mirror.usersWritten,
    wallTimeInMs,
    processCpuInMs: (cpu.user + cpu.system) / 1000,
    table: { requests: table.requests - before.requests, batches: table.batches - before.batches, throttled: table.throttled - before.throttled },
    round: {
      snapshotTransactions: snapshot.stats.transactions,
      mirrorTransactions: clients.mirror.stats.transactions - mirrorBefore.transactions,
      mirrorUsersWritten: mirror.usersWritten,
      swept: mirror.swept,
      seedWallTimeInMs,
      ...(laneTimes ? { lane: laneDetails(spec, result.lane, laneTimes, seedLaneInMs) } : {}),
    },
  };
}

/** One SnapshotLane.catchUp: its time, this process's CPU time and Azurite's meanwhile. */
interface LaneTiming {
  wallTimeInMs: number;
  cpuInMs: number;
  storeBusyInMs?: number;
}

/** Times every SnapshotLane.catchUp of the service (the lane's own part of a run), by wrapping the instance's method. */
function timeLane(lane: { catchUp: SnapshotLane["catchUp"] }, azuritePid: number | undefined): LaneTiming[] {
  const times: LaneTiming[] = [];
  const catchUp = lane.catchUp.bind(lane);
  lane.catchUp = async (options) => {
    const storeBefore = cpuTimeInMs(azuritePid);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    try {
      return await catchUp(options);
    } finally {
      const cpu = process.cpuUsage(cpuBefore);
      const storeAfter = cpuTimeInMs(azuritePid);
      times.push({
        wallTimeInMs: performance.now() - started,
        cpuInMs: (cpu.user + cpu.system) / 1000,
        ...(storeBefore !== undefined && storeAfter !== undefined ? { storeBusyInMs: storeAfter - storeBefore } : {}),
      });
    }
  };
  return times;
}

/** The measured round's lane: it must have written the round's snapshot, whole, and failed nothing. */
function laneDetails(spec: ScenarioSpec, lane: LaneRoundResult | undefined, times: LaneTiming[], seedWallTimeInMs: number): LaneDetails {
  if (!lane || lane.failed.length > 0) throw new Error(`the analytics lane failed in the measured round: ${lane ? lane.failed.map((f) => f.error).join("; ") : "it did not run"}`);
  const written = lane.written.filter((w) => !w.alreadyComplete);
  const snapshot = written.find((w) => w.kind === "snapshot");
  if (snapshot?.rows !== spec.userCount) throw new Error(`the analytics lane wrote ${snapshot?.rows ?? 0} snapshot rows for ${spec.userCount} users`);
  const total = (pick: (t: LaneTiming) => number | undefined) => times.reduce((sum, t) => sum + (pick(t) ?? 0), 0);
  return {
    wallTimeInMs: total((t) => t.wallTimeInMs),
    cpuInMs: total((t) => t.cpuInMs),
    ...(times.every((t) => t.storeBusyInMs !== undefined) ? { storeBusyInMs: total((t) => t.storeBusyInMs) } : {}),
    sets: written.length,
    rows: written.reduce((sum, w) => sum + w.rows, 0),
    files: written.reduce((sum, w) => sum + w.files, 0),
    bytes: written.reduce((sum, w) => sum + w.bytes, 0),
    seedWallTimeInMs,
  };
}

async function readCeiling(): Promise<Work> {
  const { clients } = composeUserSync(process.env);
  const started = performance.now();
  let users = 0;
  for await (const page of clients.users.listUserPages()) users += page.users.length;
  return { users, entitiesWritten: 0, wallTimeInMs: performance.now() - started };
}

/**
 * The product's writer alone. Each page is generated from the simulated directory (the same users
 * Graph would return) off the clock; only the store's calls are timed.
 */
async function writeCeiling(spec: ScenarioSpec): Promise<Work> {
  const settings = loadSettings(process.env);
  const { store } = composeStorage(settings.storage);
  const directory = createSimulatedDirectory({ userCount: spec.userCount, seed: spec.seed, domain: spec.tenantDomain });
  const stats = { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0 };
  const syncTimes: number[] = [];
  let timed = 0;
  let started = performance.now();
  await store.createTablesIfNotExist();
  const run = await store.startRun({ trigger: "cli", select: settings.select });
  timed += performance.now() - started;
  for (let offset = 0; offset < spec.userCount; offset += GRAPH_PAGE_SIZE) {
    const page: GraphUser[] = [];
    const end = Math.min(offset + GRAPH_PAGE_SIZE, spec.userCount);
    for (let index = offset; index < end; index++) page.push(directory.userAt(index, settings.select));
    started = performance.now();
    const writing = store.upsertUsers(run.snapshotId, page);
    syncTimes.push(performance.now() - started);
    const written = await writing;
    timed += performance.now() - started;
    stats.pages += 1;
    stats.usersRead += page.length;
    stats.entitiesWritten += written.entitiesWritten;
    stats.transactions += written.transactions;
  }
  started = performance.now();
  await store.completeRun(run, stats);
  timed += performance.now() - started;
  const sorted = syncTimes.sort((a, b) => a - b);
  const writerSyncInMsPerPage = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return { users: stats.usersRead, entitiesWritten: stats.entitiesWritten, wallTimeInMs: timed, writerSyncInMsPerPage };
}

/**
 * How many samples do it: read the whole directory into an array, then upsert one user at a time
 * into one partition with a plain TableClient. Entities are encoded with the product's encoder so
 * that both write the same bytes per user; only the strategy differs.
 */
async function naive(): Promise<Work> {
  const { clients } = composeUserSync(process.env);
  const storage = clients.settings.storage;
  if (storage.kind !== "connectionString") throw new Error("the naive baseline needs SNAPSHOT_STORAGE as a connection string");
  const table = TableClient.fromConnectionString(storage.connectionString, NAIVE_TABLE, { allowInsecureConnection: storage.allowInsecureConnection });
  const started = performance.now();
  const everyone: GraphUser[] = [];
  for await (const page of clients.users.listUserPages()) everyone.push(...page.users);
  await table.createTable();
  for (const user of everyone) await table.upsertEntity(encodeUserEntity(user, NAIVE_PARTITION));
  return { users: everyone.length, entitiesWritten: everyone.length, wallTimeInMs: performance.now() - started };
}

export async function runScenario(spec: ScenarioSpec): Promise<ScenarioMeasurement> {
  const table = countTableRequests(spec.tableHost);
  let work: Work;
  switch (spec.kind) {
    case "full-sync":
      work = await fullSync(spec);
      break;
    case "full-round":
    case "full-round-lane":
      work = await fullRound(spec, table);
      break;
    case "read-ceiling":
      work = await readCeiling();
      break;
    case "write-ceiling":
      work = await writeCeiling(spec);
      break;
    case "naive":
      work = await naive();
      break;
  }
  if (work.users !== spec.userCount) throw new Error(`${spec.kind} handled ${work.users} users, expected ${spec.userCount}`);
  return {
    kind: spec.kind,
    userCount: spec.userCount,
    latencyInMs: spec.latencyInMs,
    ...work,
    // Linux reports kilobytes.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    table: work.table ?? { ...table },
  };
}

async function main(): Promise<void> {
  const raw = process.env.BENCH_SCENARIO;
  if (raw === undefined || typeof process.send !== "function") {
    console.error("tools/bench/scenario.js is started by `npm run bench`, not directly.");
    process.exit(2);
  }
  const spec = JSON.parse(raw) as ScenarioSpec;
  let exitCode = 0;
  try {
    const measurement = await runScenario(spec);
    await send({ kind: "result", ok: true, measurement });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await send({ kind: "result", ok: false, error: message }).catch(() => undefined);
    exitCode = 1;
  }
  // Keep-alive sockets and SDK timers must not keep a finished scenario alive.
  process.exit(exitCode);
}

if (process.env.BENCH_SCENARIO !== undefined) await main();
