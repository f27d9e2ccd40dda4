/**
 * `entra-user-sync worker` at a real terminal (a pseudo-terminal; Ctrl+C typed as a key), in
 * multi-tenant mode against Azurite's tables and queues and the simulated cloud: Ctrl+C while a
 * tenant's run is under way says the worker is stopping, pauses the run at its checkpoint, leaves
 * the tenant's work in the queue for the next worker (neither lost nor poisoned) and exits 0; the
 * next worker continues the same run from its checkpoint.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadQueueSettings } from "../../src/configuration/queueSettings.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { assertCliBuilt, CLI, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startInTerminal, type TerminalSession } from "../support/terminal.js";

/** Seven slow /users pages: the run is still reading when Ctrl+C arrives. */
const TENANT = "e1e1e1e1-0000-4000-8000-000000000001";
const USERS = 6_000;
/** Long enough for a loaded 2-core machine to renew it. */
const LEASE_SECONDS = 15;
/** Never due during a test (29 February at midnight UTC): the worker keeps a schedule, but its start pass is what queues. */
const RARE_SCHEDULE = "0 0 0 29 2 *";

let world: SyncEnvironment;
const sessions: TerminalSession[] = [];

function env(): NodeJS.ProcessEnv {
  return world.cliEnv({
    TERM: "xterm-256color",
    GRAPH_TENANT_ID: undefined,
    USER_SYNC_TENANT_MODE: "multi",
    USER_SYNC_SCHEDULE: RARE_SCHEDULE,
    USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE,
    USER_SYNC_LEASE_SECONDS: String(LEASE_SECONDS),
  });
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 3, customerTenants: [{ tenantId: TENANT, userCount: USERS, graphLatencyInMs: 1_500 }] }, { queue: true });
}, 120_000);
afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
});
afterAll(async () => world?.close());

describe("worker at a terminal", () => {
  it("Ctrl+C during a tenant's run: says it is stopping, pauses the run at its checkpoint, leaves the work queued (not poisoned), exits 0; the next worker continues the run", async () => {
    const added = await runCli(["tenants", "add", TENANT], env());
    expect(added.code, added.stderr).toBe(0);
    const storage = loadStorageSettings(env());
    const store = new SnapshotStoreClient({ storage, tablePrefix: tenantTablePrefix(TENANT) });
    const registry = new TenantRegistryClient({ storage });
    const queue = new TenantQueueClient({ queue: loadQueueSettings(env()) });

    const terminal = startInTerminal([process.execPath, CLI, "worker", "--concurrency", "2", "--continuation-delay", "1"], { env: env() });
    sessions.push(terminal);
    await terminal.waitFor(/Queued 1 tenant; 0 already queued or running\./);
    // Press Ctrl+C once the run has committed its first page (it is then mid-run: 7 pages of 1.5 s, so a loaded machine still has seconds to spare).
    let committed = 0;
    for (let i = 0; i < 1200 && committed < 1; i++) {
      const [run] = await Array.fromAsync(store.listRuns({ maxResults: 1 })).catch(() => []);
      committed = run?.stats.pages ?? 0;
      if (committed < 1) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(committed, terminal.output().slice(-2000)).toBeGreaterThanOrEqual(1);
    expect((await registry.getTenant(TENANT))?.runningSince).toBeInstanceOf(Date);
    terminal.type("\x03");
    const result = await terminal.exited;
    const output = result.output;

    expect(output).toContain(
      "Stopping: no more tenants are queued on the schedule, no new messages are taken; runs under way stop at their next checkpoint and their messages are left for the next worker",
    );
    expect(output).toMatch(new RegExp(`\\[tenant ${TENANT}\\] User sync paused at a checkpoint because it was asked to stop`));
    expect(output).toContain(`[tenant ${TENANT}] The snapshot paused at a checkpoint (its maximum run duration, or the worker is stopping); its continuation is queued (in 1 s).`);
    expect(output).toContain("Worker handled 1 message: 1 paused.");
    expect(output).toContain(`${TENANT}  paused`);
    // A stop asked for is a clean end of a worker without --once (docs/tenants.md).
    expect(result.code, output.slice(-2000)).toBe(0);

    // The run paused at its checkpoint, part-way.
    const [paused] = await Array.fromAsync(store.listRuns({ maxResults: 1 }));
    expect(paused).toMatchObject({ status: "paused", trigger: "queue" });
    expect(paused!.checkpoint).toBeDefined();
    expect(paused!.stats.pages).toBeGreaterThanOrEqual(1);
    expect(paused!.stats.usersRead).toBeLessThan(USERS);
    // Not lost: the tenant's work waits in the queue for the next worker, and its row says so.
    expect(await queue.approximateMessageCount()).toBe(1);
    const row = await registry.getTenant(TENANT);
    expect(row).toMatchObject({ lastOutcome: "paused" });
    expect(row?.queuedAt).toBeInstanceOf(Date);
    expect(row?.runningSince).toBeUndefined();
    // Not poisoned.
    expect((await queue.poison.getProperties()).approximateMessagesCount ?? 0).toBe(0);
    expectNoSecrets(output, [world.azurite.connectionString]);

    // The next worker takes the message and continues the same run from its checkpoint.
    const next = await runCli(["worker", "--once", "--no-schedule"], env());
    expect(next.code, next.stderr.slice(-2000)).toBe(0);
    expect(next.stderr).toContain(`[tenant ${TENANT}] Resuming run ${paused!.runId} from its checkpoint`);
    expect(next.stdout).toContain(`${TENANT}  succeeded`);
    const [done] = await Array.fromAsync(store.listRuns({ maxResults: 1 }));
    expect(done).toMatchObject({ runId: paused!.runId, status: "succeeded" });
    expect(done!.stats.entitiesWritten).toBe(USERS);
    expect(await queue.approximateMessageCount()).toBe(0);
    expect((await queue.poison.getProperties()).approximateMessagesCount ?? 0).toBe(0);
  }, 240_000);
});
