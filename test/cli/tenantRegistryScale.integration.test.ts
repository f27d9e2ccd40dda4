/**
 * The registry at scale: 200,000 registered tenants in Azurite (inserted with entity group
 * transactions), listed by the compiled `tenants list` (--json and the table) and passed over by
 * the scheduler, each in a process of its own with a capped heap, so that a listing or a pass that
 * kept the registry (or its result) in memory, or recursed per page, fails here. The pass's time is
 * printed (docs/tenants.md, Limits, quotes it).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { TableClient, type TableTransactionEntityResponse } from "@azure/data-tables";
import pLimit from "p-limit";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { assertCliBuilt, startCli } from "../support/cli.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile({ queue: true });

const TENANTS = 200_000;
/** Tenants with no marker: the pass queues these; the others are marked queued a moment ago. */
const IDLE = 1_000;
/** A heap the registry's 200,000 rows (or a pass result naming each) would not fit beside the process's own. */
const HEAP_CAP_IN_MB = 96;
const DIST = join(import.meta.dirname, "..", "..", "dist", "src");

const id = (i: number) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

function settings(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    USER_SYNC_TENANT_MODE: "multi",
    SNAPSHOT_STORAGE: azurite.instance.connectionString,
    USER_SYNC_QUEUE: azurite.instance.connectionString,
    NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_IN_MB}`,
  };
}

/** Runs a child to its end, counting its stdout's lines without keeping them. */
function runCounting(child: ReturnType<typeof startCli>["child"]): Promise<{ code: number | null; lines: number; first: string; last: string; stderr: string }> {
  let lines = 0;
  let first = "";
  let last = "";
  let partial = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      if (lines === 0) first = line;
      last = line;
      lines += 1;
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, lines, first, last, stderr }));
  });
}

beforeAll(async () => {
  assertCliBuilt();
  const table = TableClient.fromConnectionString(azurite.instance.connectionString, "entraUserTenants", { allowInsecureConnection: true });
  await table.createTable();
  const now = new Date();
  const limit = pLimit(16);
  const batches: Array<Promise<TableTransactionEntityResponse[] | undefined>> = [];
  for (let start = 0; start < TENANTS; start += 100) {
    const actions = Array.from({ length: 100 }, (_, k) => {
      const i = start + k;
      const tenantId = id(i);
      return ["create", {
        partitionKey: "tenant",
        rowKey: tenantId,
        tablePrefix: tenantTablePrefix(tenantId),
        addedAt: now,
        name: `Customer ${i}`,
        ...(i % (TENANTS / IDLE) === 0 ? {} : { queuedAt: now }),
      }] as const;
    });
    batches.push(limit(async () => (await table.submitTransaction(actions.map(([kind, entity]) => [kind, entity]))).subResponses));
  }
  await Promise.all(batches);
}, 600_000);

describe("a registry of 200,000 tenants", () => {
  it("tenants list --json streams every tenant, one line each, in tenant id order, within a capped heap", async () => {
    const listed = await runCounting(startCli(["tenants", "list", "--json"], settings()).child);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(listed.lines).toBe(TENANTS);
    expect(JSON.parse(listed.first)).toMatchObject({ tenantId: id(0), name: "Customer 0" });
    expect(JSON.parse(listed.last)).toMatchObject({ tenantId: id(TENANTS - 1) });
  }, 300_000);

  it("tenants list prints the table, one line per tenant under one header, within a capped heap", async () => {
    const listed = await runCounting(startCli(["tenants", "list"], settings()).child);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(listed.lines).toBe(TENANTS + 1);
    expect(listed.first).toMatch(/^TENANT\s+NAME\s+STATE\s+HEALTH\s+LAST SUCCESS\s+USERS\s+MIRROR AGE\s+CONSENT\s+LAST OUTCOME$/);
    expect(listed.last).toMatch(new RegExp(`^${id(TENANTS - 1)}\\s+Customer ${TENANTS - 1}\\s+queued at `));
  }, 300_000);

  it("the scheduler's pass reads every tenant, queues the idle ones and passes the queued ones by, within a capped heap and a small stack", async () => {
    // The compiled pass in a process of its own, with a capped heap and a quarter of the default stack.
    const script = `
      const { scheduleDueTenants } = await import(${JSON.stringify(join(DIST, "fanout", "scheduler.js"))});
      const { TenantQueueClient } = await import(${JSON.stringify(join(DIST, "fanout", "tenantQueue.js"))});
      const { composeRegistry } = await import(${JSON.stringify(join(DIST, "app", "compose.js"))});
      const { loadStorageSettings } = await import(${JSON.stringify(join(DIST, "configuration", "settings.js"))});
      const { loadQueueSettings } = await import(${JSON.stringify(join(DIST, "configuration", "queueSettings.js"))});
      const registry = composeRegistry(loadStorageSettings(process.env));
      const queue = new TenantQueueClient({ queue: loadQueueSettings(process.env) });
      await queue.createQueuesIfNotExist();
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
      const started = performance.now();
      const result = await scheduleDueTenants({ registry, queue, logger: { info() {}, warn() {}, error: (m) => process.stderr.write(m + "\\n") } });
      const elapsedInMs = Math.round(performance.now() - started);
      clearInterval(sampler);
      process.stdout.write(JSON.stringify({ ...result, elapsedInMs, peakHeapInMb: Math.round(peak / 2 ** 20), messages: await queue.approximateMessageCount() }));
    `;
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_CAP_IN_MB}`, "--stack-size=240", "--input-type=module", "-e", script], { env: settings(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { enqueued: string[]; enqueuedCount: number; skipped: unknown[]; skippedCount: number; failedCount: number; elapsedInMs: number; peakHeapInMb: number; messages: number };
    expect(result.enqueuedCount).toBe(IDLE);
    expect(result.skippedCount).toBe(TENANTS - IDLE);
    expect(result.failedCount).toBe(0);
    expect(result.messages).toBe(IDLE);
    // The result names at most a thousand tenants per list; the counts have them all.
    expect(result.enqueued).toHaveLength(IDLE);
    expect(result.skipped).toHaveLength(1000);
    process.stdout.write(`scheduler pass over ${TENANTS} tenants (${IDLE} queued): ${result.elapsedInMs} ms, peak heap ${result.peakHeapInMb} MB\n`);
  }, 300_000);
});
