/**
 * No tenant is forgotten, and a run that lost its lease records nothing over a newer run's outcome.
 * Real processes of the compiled CLI against Azurite's tables and queues and the simulated cloud:
 * - a worker killed mid-run (SIGKILL): its message reappears while the dead run's lease still
 *   holds; the next worker does not complete it as skipped: the dead holder was on this machine, so
 *   it takes the lease over at once and continues the snapshot from its checkpoint, with no operator
 *   action, within the lease plus two minutes; the data equals the directory and the row is not left
 *   running (a holder on another machine defers the message to the lease's expiry instead:
 *   test/fanout/heldLease.integration.test.ts);
 * - a `run --tenant` and a worker frozen mid-run (SIGSTOP) past their lease while another run takes
 *   over and succeeds: thawed (SIGCONT), they write nothing on the tenant's registry row.
 * Short leases (15 s) and message visibility (5 s) stand for the 300 s and 120 s of production.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { assertCliBuilt, runCli, startCli, type CliResult } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const KILLED = "e7e7e7e7-0000-4000-8000-000000000001";
const FROZEN_CLI = "e7e7e7e7-0000-4000-8000-000000000002";
const FROZEN_WORKER = "e7e7e7e7-0000-4000-8000-000000000003";
/** Seven /users pages of 1.5 s: the run is mid-snapshot when it is killed or frozen. */
const USERS = 6_000;
/** Long enough for a loaded 2-core machine to renew it. */
const LEASE_SECONDS = 15;
const VISIBILITY_SECONDS = "5";
/** Never due during a test (29 February at midnight UTC). */
const RARE_SCHEDULE = "0 0 0 29 2 *";
const SELECT = ["id", "displayName", "userPrincipalName", "accountEnabled"];

let world: SyncEnvironment;
let registry: TenantRegistryClient;
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment(
    { userCount: 3, customerTenants: [KILLED, FROZEN_CLI, FROZEN_WORKER].map((tenantId) => ({ tenantId, userCount: USERS, graphLatencyInMs: 1_500 })) },
    { queue: true },
  );
  registry = new TenantRegistryClient({ storage: loadStorageSettings(env()) });
}, 120_000);
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  }
});
afterAll(async () => world?.close());

function env(): NodeJS.ProcessEnv {
  return world.cliEnv({
    GRAPH_TENANT_ID: undefined,
    USER_SYNC_TENANT_MODE: "multi",
    USER_SYNC_SCHEDULE: RARE_SCHEDULE,
    USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE,
    USER_SYNC_LEASE_SECONDS: String(LEASE_SECONDS),
    USER_SYNC_SELECT: SELECT.join(","),
  });
}

function start(args: string[]) {
  const cli = startCli(args, env());
  children.push(cli.child);
  return cli;
}

function storeOf(tenantId: string): SnapshotStoreClient {
  return new SnapshotStoreClient({ storage: loadStorageSettings(env()), tablePrefix: tenantTablePrefix(tenantId) });
}

/** Waits until the tenant's snapshot run has committed a page (it is then mid-run). */
async function firstPageCommitted(tenantId: string, output: () => string): Promise<void> {
  const store = storeOf(tenantId);
  for (let i = 0; i < 1200; i++) {
    const [run] = await Array.fromAsync(store.listRuns({ maxResults: 1 })).catch(() => []);
    if ((run?.stats.pages ?? 0) >= 1) return;
    await sleep(100);
  }
  throw new Error(`no page committed: ${output().slice(-2000)}`);
}

async function leaseExpired(tenantId: string): Promise<void> {
  const store = storeOf(tenantId);
  for (let i = 0; i < 1200; i++) {
    if ((await store.getLease()) === undefined) return;
    await sleep(100);
  }
  throw new Error("the lease never expired");
}

/** The latest snapshot is the tenant's directory, user by user, through the compiled export. */
async function expectExportEqualsDirectory(tenantId: string): Promise<void> {
  const exported = await runCli(["export", "--latest", "--tenant", tenantId], env());
  expect(exported.code, exported.stderr).toBe(0);
  const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser);
  const expected = new Map([...world.tenant.customers.get(tenantId)!.directory.users(SELECT)].map((u) => [u.id, JSON.stringify(u)]));
  expect(users).toHaveLength(USERS);
  expect(users.filter((u) => expected.get(u.id) !== JSON.stringify(u)).map((u) => u.id).slice(0, 5)).toEqual([]);
}

describe("a worker killed or frozen mid-run", () => {
  it("SIGKILL: another worker resumes the tenant from its checkpoint within the lease plus two minutes, with no operator action; the row is not left running", async () => {
    expect((await runCli(["tenants", "add", KILLED], env())).code).toBe(0);
    const first = start(["worker", "--once", "--concurrency", "1", "--message-visibility", VISIBILITY_SECONDS]);
    let firstOutput = "";
    first.child.stderr!.on("data", (chunk: string) => (firstOutput += chunk));
    await firstPageCommitted(KILLED, () => firstOutput);
    const [started] = await Array.fromAsync(storeOf(KILLED).listRuns({ maxResults: 1 }));
    // The next worker is already waiting for messages when the first one dies.
    const next = start(["worker", "--once", "--no-schedule", "--concurrency", "1", "--message-visibility", VISIBILITY_SECONDS]);
    await sleep(500);
    const killedAt = Date.now();
    first.child.kill("SIGKILL");
    const result: CliResult = await next.exited;
    const tookInMs = Date.now() - killedAt;

    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    // The dead worker ran on this machine, so its lease is taken over at once (docs/storage.md, a dead
    // local holder) rather than waited out: the message is neither skipped nor deferred. A holder on
    // another machine defers the message to the lease's expiry (test/fanout/heldLease.integration.test.ts).
    expect(result.stdout).toContain(`${KILLED}  succeeded`);
    expect(result.stdout).not.toContain("skipped");
    expect(result.stderr).toContain("Took the writer lease over at once");
    expect(result.stderr).toContain(`[tenant ${KILLED}] Resuming run ${started!.runId} from its checkpoint`);
    expect(tookInMs).toBeLessThan((LEASE_SECONDS + 120) * 1000);

    const [done] = await Array.fromAsync(storeOf(KILLED).listRuns({ maxResults: 1 }));
    expect(done).toMatchObject({ runId: started!.runId, status: "succeeded" });
    expect(done!.stats.entitiesWritten).toBe(USERS);
    await expectExportEqualsDirectory(KILLED);
    const row = await registry.getTenant(KILLED);
    expect(row).toMatchObject({ lastOutcome: "succeeded" });
    expect(row?.runningSince).toBeUndefined();
    expect(row?.queuedAt).toBeUndefined();
  }, 300_000);

  it("SIGSTOP run --tenant past its lease: another run takes over and succeeds; thawed, the frozen run records nothing over that outcome", async () => {
    expect((await runCli(["tenants", "add", FROZEN_CLI], env())).code).toBe(0);
    const frozen = start(["run", "--tenant", FROZEN_CLI, "--no-progress"]);
    let frozenOutput = "";
    frozen.child.stderr!.on("data", (chunk: string) => (frozenOutput += chunk));
    await firstPageCommitted(FROZEN_CLI, () => frozenOutput);
    frozen.child.kill("SIGSTOP");
    await leaseExpired(FROZEN_CLI);
    const newer = await runCli(["run", "--tenant", FROZEN_CLI, "--no-progress"], env());
    expect(newer.code, newer.stderr.slice(-2000)).toBe(0);
    const recorded = await registry.getTenant(FROZEN_CLI);
    expect(recorded).toMatchObject({ lastOutcome: "succeeded" });

    frozen.child.kill("SIGCONT");
    const thawed = await frozen.exited;
    expect(thawed.code, thawed.stderr.slice(-2000)).toBe(3);
    expect(thawed.stderr).toMatch(/lost its writer lease|stopped: its writer lease was last renewed/);
    const row = await registry.getTenant(FROZEN_CLI);
    expect(row?.lastOutcome).toBe("succeeded");
    expect(row?.lastOutcomeAt?.toISOString()).toBe(recorded!.lastOutcomeAt!.toISOString());
    expect(row?.lastError).toBeUndefined();
    await expectExportEqualsDirectory(FROZEN_CLI);
  }, 300_000);

  it("SIGSTOP worker past its lease: the next worker takes its message over and succeeds; thawed, the frozen worker records nothing over that outcome", async () => {
    expect((await runCli(["tenants", "add", FROZEN_WORKER], env())).code).toBe(0);
    const frozen = start(["worker", "--once", "--concurrency", "1", "--message-visibility", VISIBILITY_SECONDS]);
    let frozenOutput = "";
    frozen.child.stderr!.on("data", (chunk: string) => (frozenOutput += chunk));
    await firstPageCommitted(FROZEN_WORKER, () => frozenOutput);
    frozen.child.kill("SIGSTOP");
    const next = await runCli(["worker", "--once", "--no-schedule", "--concurrency", "1", "--message-visibility", VISIBILITY_SECONDS], env());
    expect(next.code, next.stderr.slice(-2000)).toBe(0);
    expect(next.stdout).toContain(`${FROZEN_WORKER}  succeeded`);
    const recorded = await registry.getTenant(FROZEN_WORKER);
    expect(recorded).toMatchObject({ lastOutcome: "succeeded" });

    frozen.child.kill("SIGCONT");
    const thawed = await frozen.exited;
    expect(thawed.stderr).toMatch(/lost its writer lease|stopped: its writer lease was last renewed/);
    const row = await registry.getTenant(FROZEN_WORKER);
    expect(row?.lastOutcome).toBe("succeeded");
    expect(row?.lastOutcomeAt?.toISOString()).toBe(recorded!.lastOutcomeAt!.toISOString());
    expect(row?.lastError).toBeUndefined();
    expect(row?.runningSince).toBeUndefined();
    await expectExportEqualsDirectory(FROZEN_WORKER);
  }, 300_000);
});
