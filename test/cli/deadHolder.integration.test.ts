/**
 * A dead local holder does not block (docs/storage.md, "A dead local holder"), through the compiled
 * command line against Azurite and the simulated tenant: a run killed with SIGKILL while it holds
 * the writer lease (its Graph requests held open), or stopped by a second Ctrl+C, leaves a lease
 * that has not expired; the next run on this machine sees that the holder's process is gone, takes
 * the lease over at once (ETag-fenced), says so, and completes. A holder recorded on another host
 * keeps its full lease: the next run is refused with exit 3.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { LEASE_ROW, RUNS_PARTITION, type LeaseEntity } from "../../src/snapshots/runRecords.js";
import type { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import type { ChildProcess } from "node:child_process";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { startTableProxy } from "../support/tableProxy.js";
import { expectNoSecrets, expectSnapshotEqualsDirectory, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 1500;
const SELECT = ["id", "displayName", "userPrincipalName"];

let world: SyncEnvironment;
let store: SnapshotStoreClient;
const children: ChildProcess[] = [];

function env(extra: Record<string, string | undefined> = {}) {
  return world.cliEnv({ USER_SYNC_SELECT: SELECT.join(","), ...extra });
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS });
  store = composeStorage(loadStorageSettings(world.env)).store;
}, 120_000);
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(async () => world?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `run --full` with every Graph request held open; resolves once the run holds the lease and waits on Graph. */
async function startHeldRun(extra: Record<string, string | undefined> = {}) {
  const hold = world.tenant.faults.hold("graph");
  const cli = startCli(["run", "--full", "--no-progress"], env(extra));
  children.push(cli.child);
  const deadline = Date.now() + 60_000;
  let exited: unknown;
  void cli.exited.then((result) => (exited = result));
  while (hold.held === 0 && exited === undefined && Date.now() < deadline) await sleep(50);
  expect(exited, "the run, still running").toBeUndefined();
  expect(hold.held, "the run's first Graph request").toBeGreaterThan(0);
  const lease = await store.getLease();
  expect(lease, "the run's writer lease").toBeDefined();
  expect(lease!.host).toContain(`(pid ${cli.child.pid})`);
  return { cli, hold, lease: lease! };
}

/** The next run: takes the dead holder's lease over at once, says so, and completes a snapshot equal to the directory. */
async function expectImmediateTakeover(deadPid: number) {
  const leaseBefore = await store.getLease();
  expect(leaseBefore, "the dead run's lease, not expired").toBeDefined();
  const started = Date.now();
  const next = await runCli(["run", "--full", "--no-progress"], env());
  expect(next.stderr).toMatch(new RegExp(`Took the writer lease over at once from (run \\S+|a run) on \\S+ \\(pid ${deadPid}\\): that process no longer exists on this machine`));
  expect(next.code).toBe(0);
  // Well inside the dead run's lease (USER_SYNC_LEASE_SECONDS, 300 s by default): it was not waited for.
  expect(Date.now() - started).toBeLessThan(leaseBefore!.expiresAt.getTime() - started);
  const latest = await store.getLatestSnapshot();
  await expectSnapshotEqualsDirectory(world.tenant, { settings: { select: SELECT }, store }, latest!.snapshotId, USERS);
  expectNoSecrets(next.stdout + next.stderr, [world.azurite.connectionString]);
}

describe("a writer lease whose holder was a process of this machine that no longer exists", () => {
  it("is taken over at once after the holder was killed (SIGKILL)", async () => {
    const { cli, hold } = await startHeldRun();
    cli.child.kill("SIGKILL");
    expect((await cli.exited).signal).toBe("SIGKILL");
    hold.release();
    await expectImmediateTakeover(cli.child.pid!);
  });

  it("is taken over at once after a second Ctrl+C stopped the holder", async () => {
    // The first Ctrl+C winds the run down and releases its lease; the release is held (a slow
    // storage answer), and the second Ctrl+C stops the process before it lands, as an impatient
    // operator does. The lease stays behind, unexpired.
    const proxy = await startTableProxy(world.azurite);
    proxy.decide = (request) => (request.method === "DELETE" && request.path.includes(`PartitionKey='${RUNS_PARTITION}',RowKey='${LEASE_ROW}'`) ? "stall" : "pass");
    try {
      const { cli, hold } = await startHeldRun({ SNAPSHOT_STORAGE: proxy.connectionString });
      cli.child.kill("SIGINT");
      const deadline = Date.now() + 30_000;
      while (!proxy.seen.some((r) => r.method === "DELETE" && r.path.includes(`RowKey='${LEASE_ROW}'`)) && Date.now() < deadline) await sleep(20);
      cli.child.kill("SIGINT");
      const stopped = await cli.exited;
      expect(stopped.code).toBe(130);
      hold.release();
      await expectImmediateTakeover(cli.child.pid!);
    } finally {
      await proxy.close();
    }
  });
});

describe("a writer lease recorded by a holder on another host", () => {
  it("keeps its full lease: the next run is refused with exit 3", async () => {
    const { cli, hold } = await startHeldRun();
    cli.child.kill("SIGKILL");
    await cli.exited;
    hold.release();
    // The same dead process, as if it had run on another machine.
    const table = TableClient.fromConnectionString(world.azurite.connectionString, store.runsTableName, { allowInsecureConnection: true });
    const entity = await table.getEntity<LeaseEntity>(RUNS_PARTITION, LEASE_ROW);
    const otherHost = "sync-host-elsewhere";
    await table.updateEntity(
      { ...entity, partitionKey: RUNS_PARTITION, rowKey: LEASE_ROW, host: `${otherHost} (pid ${cli.child.pid})`, hostName: otherHost, processScope: `${otherHost}|boot|pid:[1]` },
      "Replace",
      { etag: entity.etag },
    );
    try {
      const refused = await runCli(["run", "--full", "--no-progress"], env());
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain("[run_in_progress]");
      expect(refused.stderr).toContain(`on ${otherHost} (pid ${cli.child.pid}) holds the writer lease until`);
      expect(refused.stderr).not.toContain("Took the writer lease over");
    } finally {
      // Clean up for the tests after this one.
      await table.deleteEntity(RUNS_PARTITION, LEASE_ROW);
    }
  });
});
