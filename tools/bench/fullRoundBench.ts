/**
 * The scheduled full round as users run it: the snapshot and the mirror's full round in one pass
 * over `/users` (docs/mirror.md, "One pass"), timed against the read ceiling (paging `/users` and
 * writing nothing), with Graph requests, table requests and `$batch` count, and issue 13's targets:
 * Graph requests ≤ ⌈N / 999⌉ + 2, full round time ≤ 1.15 × the read ceiling at 300 ms, `$batch`
 * count ≤ 2.2 × the snapshot's alone.
 *
 *   npm run build && node dist/tools/bench/fullRoundBench.js                     # 100,000 users, 300 ms
 *   node dist/tools/bench/fullRoundBench.js --latency 0                          # the same at 0 ms
 *   node dist/tools/bench/fullRoundBench.js --million                            # 1,000,000 users
 *
 * One latency per process: msal-node keeps its managed-identity source for the life of a process,
 * so a process talks to one simulated tenant. A first run seeds the snapshot and the mirror (not
 * measured), then the run of the full schedule's next occurrence (the scheduled full round) is
 * measured, then the read ceiling.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Logger } from "../../src/shared/logger.js";
import { UserSyncService } from "../../src/sync/userSyncService.js";
import { startAzurite } from "../azurite.js";
import { startSimulatedTenant, trustSimulatedTenantCa } from "../simulated-tenant/index.js";
import { countTableRequests } from "./scenario.js";

export interface FullRoundCost {
  userCount: number;
  latencyInMs: number;
  graphRequests: number;
  graphRequestsTarget: number;
  tableRequests: number;
  batches: number;
  snapshotBatches: number;
  fullRoundInMs: number;
  readCeilingInMs: number;
}

const quiet: Logger = { info() {}, warn: (m) => console.error(`warn: ${m}`), error: (m) => console.error(`error: ${m}`) };
const DAY = 24 * 60 * 60_000;

/** Measures the scheduled full round at one latency (sets the managed-identity variables of process.env). */
export async function measureFullRound(options: { userCount: number; latencyInMs: number; seed?: number }): Promise<FullRoundCost[]> {
  const costs: FullRoundCost[] = [];
  {
    const latencyInMs = options.latencyInMs;
    const [azurite, tenant] = await Promise.all([startAzurite(), startSimulatedTenant({ userCount: options.userCount, seed: options.seed ?? 1, graphLatencyInMs: latencyInMs })]);
    const table = countTableRequests(new URL(azurite.tableEndpoint).host);
    {
      try {
        trustSimulatedTenantCa(tenant.caCertificatePem);
        Object.assign(process.env, tenant.settingsEnv());
        const env = { ...process.env, SNAPSHOT_STORAGE: azurite.connectionString } as Record<string, string>;
        const service = new UserSyncService(env);
        await service.runDue(quiet, { trigger: "cli" });

        tenant.requests.reset();
        const before = { ...table };
        const started = performance.now();
        const result = await service.runDue(quiet, { trigger: "timer", now: new Date(Date.now() + 2 * DAY) });
        const fullRoundInMs = performance.now() - started;
        if (result.due.snapshot !== "scheduled" || result.mirror?.status !== "succeeded" || result.mirror.mode !== "full") {
          throw new Error(`the measured run was not a scheduled full round: ${JSON.stringify(result.due)}, mirror ${result.mirror?.mode} ${result.mirror?.status}`);
        }
        const graphRequests = tenant.requests.count("graph");
        const tableRequests = table.requests - before.requests;
        const batches = table.batches - before.batches;

        const readStarted = performance.now();
        let users = 0;
        for await (const page of service.users.listUserPages()) users += page.users.length;
        const readCeilingInMs = performance.now() - readStarted;
        if (users !== options.userCount) throw new Error(`the read ceiling read ${users} users of ${options.userCount}`);
        costs.push({
          userCount: options.userCount,
          latencyInMs,
          graphRequests,
          graphRequestsTarget: Math.ceil(options.userCount / 999) + 2,
          tableRequests,
          batches,
          snapshotBatches: result.snapshot?.stats.transactions ?? 0,
          fullRoundInMs,
          readCeilingInMs,
        });
      } finally {
        await Promise.all([tenant.close(), azurite.close()]);
      }
    }
  }
  return costs;
}

/** The report's lines: one per latency, then each target as met or not. */
export function formatFullRoundCosts(costs: readonly FullRoundCost[]): string[] {
  const n = new Intl.NumberFormat("en-US");
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [`Scheduled full round (snapshot + mirror in one /users pass), ${n.format(costs[0]?.userCount ?? 0)} users`];
  lines.push(`${"latency".padEnd(8)} ${"graph".padStart(6)} ${"tableReq".padStart(9)} ${"$batch".padStart(7)} ${"snapshot $batch".padStart(16)} ${"full round".padStart(11)} ${"read ceiling".padStart(13)} ${"ratio".padStart(6)}`);
  for (const c of costs) {
    lines.push(
      `${`${c.latencyInMs} ms`.padEnd(8)} ${n.format(c.graphRequests).padStart(6)} ${n.format(c.tableRequests).padStart(9)} ${n.format(c.batches).padStart(7)} ${n.format(c.snapshotBatches).padStart(16)} ${s(c.fullRoundInMs).padStart(11)} ${s(c.readCeilingInMs).padStart(13)} ${(c.fullRoundInMs / c.readCeilingInMs).toFixed(2).padStart(6)}`,
    );
  }
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  for (const c of costs) {
    lines.push(`${c.latencyInMs} ms: Graph requests ${c.graphRequests} ≤ ⌈N/999⌉ + 2 = ${c.graphRequestsTarget}: ${met(c.graphRequests <= c.graphRequestsTarget)}`);
    lines.push(`${c.latencyInMs} ms: $batch ${c.batches} ≤ 2.2 × snapshot's ${c.snapshotBatches}: ${met(c.batches <= 2.2 * c.snapshotBatches)}`);
    if (c.latencyInMs === 300) lines.push(`300 ms: full round ${s(c.fullRoundInMs)} ≤ 1.15 × read ceiling ${s(c.readCeilingInMs)}: ${met(c.fullRoundInMs <= 1.15 * c.readCeilingInMs)}`);
  }
  return lines;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").slice(-2).join("/"));
if (isMain) {
  const { values } = parseArgs({ options: { users: { type: "string", default: "100000" }, latency: { type: "string", default: "300" }, million: { type: "boolean", default: false } } });
  const userCount = values.million ? 1_000_000 : Number(values.users);
  const costs = await measureFullRound({ userCount, latencyInMs: Number(values.latency) });
  for (const line of formatFullRoundCosts(costs)) console.log(line);
  process.exit(0);
}
