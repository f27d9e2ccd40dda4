/**
 * The multi-tenant fan-out's benchmark (issue 14): `tenants` customer tenants of `users` users
 * each, Graph pages of `latency` ms, synced by the compiled `worker --once --concurrency C` for each
 * C, into a fresh Azurite (tables and queues) each time. Reports aggregate users/s, the worker's
 * peak RSS (VmHWM), and the speed-up against concurrency 1, with the target: at least 0.8 × linear.
 *
 *   npm run bench:tenants                                                # 20 × 10,000 users, 300 ms, concurrency 1, 4, 8
 *   node dist/tools/bench/tenantsBench.js --tenants 4 --users 500 --concurrency 1,4   # a smoke run
 *
 * On a machine with few cores the storage emulator, the simulator and the worker share the CPU:
 * the speed-up measured there is a floor, not the platform's (Azure Table Storage and Graph scale
 * with the tenants; the worker's own work is mostly waiting).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startAzurite } from "../azurite.js";
import { startSimulatedTenant } from "../simulated-tenant/index.js";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");

export interface FanOutResult {
  concurrency: number;
  seconds: number;
  usersPerSecond: number;
  peakRssMb: number;
  speedUp: number;
  /** speedUp / concurrency: 1 is linear. */
  efficiency: number;
}

function run(args: string[], env: NodeJS.ProcessEnv, sampleRss = false): Promise<{ code: number; peakRssKb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    let peakRssKb = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peakRssKb = Math.max(peakRssKb, Number(hwm[1]));
      } catch {
        // gone, or not Linux
      }
    };
    const timer = sampleRss ? setInterval(sample, 100) : undefined;
    child.on("error", reject);
    child.on("exit", () => {
      if (timer) clearInterval(timer);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, peakRssKb, stderr }));
  });
}

export async function benchFanOut(options: { tenants: number; users: number; latencyInMs: number; concurrencies: number[] }): Promise<FanOutResult[]> {
  const tenantIds = Array.from({ length: options.tenants }, () => randomUUID());
  const cloud = await startSimulatedTenant({ userCount: 1, customerTenants: tenantIds.map((tenantId) => ({ tenantId, userCount: options.users, graphLatencyInMs: options.latencyInMs })) });
  const results: FanOutResult[] = [];
  try {
    for (const concurrency of options.concurrencies) {
      const azurite = await startAzurite({ queue: true });
      try {
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...cloud.settingsEnv(),
          SNAPSHOT_STORAGE: azurite.connectionString,
          USER_SYNC_QUEUE: azurite.connectionString,
          USER_SYNC_TENANT_MODE: "multi",
          NODE_EXTRA_CA_CERTS: cloud.caCertificatePath,
        };
        delete env.GRAPH_TENANT_ID;
        for (const tenantId of tenantIds) {
          const added = await run(["tenants", "add", tenantId], env);
          if (added.code !== 0) throw new Error(`tenants add failed: ${added.stderr}`);
        }
        const started = performance.now();
        const worker = await run(["worker", "--once", "--concurrency", String(concurrency)], env, true);
        const seconds = (performance.now() - started) / 1000;
        if (worker.code !== 0) throw new Error(`worker --concurrency ${concurrency} failed (exit ${worker.code}): ${worker.stderr}`);
        const usersPerSecond = (options.tenants * options.users) / seconds;
        const base = results[0]?.usersPerSecond ?? usersPerSecond;
        const speedUp = usersPerSecond / base;
        const baseConcurrency = results[0]?.concurrency ?? concurrency;
        results.push({ concurrency, seconds, usersPerSecond, peakRssMb: worker.peakRssKb / 1024, speedUp, efficiency: speedUp / (concurrency / baseConcurrency) });
        const last = results.at(-1)!;
        console.error(`concurrency ${concurrency}: ${seconds.toFixed(1)} s, ${usersPerSecond.toFixed(0)} users/s, peak RSS ${last.peakRssMb.toFixed(0)} MB, speed-up ${speedUp.toFixed(2)}×`);
      } finally {
        await azurite.close();
      }
    }
  } finally {
    await cloud.close();
  }
  return results;
}

export function formatFanOut(results: readonly FanOutResult[], options: { tenants: number; users: number; latencyInMs: number }): string {
  const lines = [
    `Fan-out: ${options.tenants} tenants × ${options.users.toLocaleString("en-US")} users, Graph pages of ${options.latencyInMs} ms, worker --once`,
    "concurrency  seconds  users/s  peak RSS MB  speed-up  of linear",
    ...results.map(
      (r) =>
        `${String(r.concurrency).padStart(11)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.usersPerSecond.toFixed(0).padStart(7)}  ${r.peakRssMb.toFixed(0).padStart(11)}  ${r.speedUp.toFixed(2).padStart(7)}×  ${(r.efficiency * 100).toFixed(0).padStart(8)}%`,
    ),
  ];
  const missed = results.filter((r) => r.efficiency < 0.8);
  lines.push(missed.length === 0 ? "Target met: at least 0.8 × linear at every concurrency." : `Target (0.8 × linear) missed at concurrency ${missed.map((r) => r.concurrency).join(", ")}.`);
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      tenants: { type: "string", default: "20" },
      users: { type: "string", default: "10000" },
      latency: { type: "string", default: "300" },
      concurrency: { type: "string", default: "1,4,8" },
    },
    strict: true,
  });
  const whole = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      console.error(`tenantsBench: --${name} must be a whole number from ${min} to ${max}, not "${text}".`);
      process.exit(2);
    }
    return n;
  };
  const options = {
    tenants: whole("tenants", values.tenants, 1, 200),
    users: whole("users", values.users, 1, 1_000_000),
    latencyInMs: whole("latency", values.latency, 0, 10_000),
    concurrencies: values.concurrency.split(",").map((c) => whole("concurrency", c.trim(), 1, 64)),
  };
  const results = await benchFanOut(options);
  process.stdout.write(formatFanOut(results, options));
}
