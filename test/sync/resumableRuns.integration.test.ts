/**
 * Resumable runs and the writer lease end to end: the compiled command line (`node dist/src/cli/main.js
 * run`, built by `npm run build`) killed with SIGKILL after its first checkpoints, then a run that
 * takes the dead (local) run's lease over at once, resumes its snapshot from the checkpoint and promotes it equal to
 * the directory; an overlapping command-line run during a running sync; a run stopped at its maximum
 * duration and continued. Real clients throughout: managed identity, Key Vault, MSAL, Graph on the
 * simulated tenant, Tables on Azurite.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment, expectSnapshotEqualsDirectory } from "../support/syncEnvironment.js";
import { assertCliBuilt, startCli } from "../support/cli.js";
import { waitFor } from "../support/waiting.js";

const USERS = 3000; // 4 pages of at most 999
const PAGES = Math.ceil(USERS / 999);
let world: SyncEnvironment;
let env: Record<string, string>;

/** Holds Graph `/users` requests from the given request number on, until released. */
function graphGate() {
  let count = 0;
  let holdFrom = Number.POSITIVE_INFINITY;
  let release!: () => void;
  let released = Promise.resolve();
  const remove = world.tenant.intercept("graph", async () => {
    count += 1;
    if (count >= holdFrom) await released;
    return undefined;
  });
  return {
    get count() {
      return count;
    },
    holdFrom(n: number) {
      holdFrom = count + n;
      released = new Promise<void>((resolve) => (release = resolve));
    },
    release() {
      holdFrom = Number.POSITIVE_INFINITY;
      release?.();
    },
    remove,
  };
}

function startRun(args: string[], extraEnv: Record<string, string> = {}) {
  return startCli(args, { ...process.env, ...env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath, ...extraEnv });
}


const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, certificateContentType: "application/x-pkcs12" });
  world.useInProcess();
  // Short enough to wait out; long enough that the simulated tenant, which serves Graph from this
  // process, cannot starve the in-process run's lease renewals on a loaded 2-core machine.
  env = { ...world.env, USER_SYNC_LEASE_SECONDS: "10" };
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await world?.close();
});

describe("a run killed between pages", () => {
  const log = capturingLogger();
  let service: UserSyncService;
  let clients: AppClients;

  it("is resumed from its checkpoint by the next run at once (its holder is gone from this machine), and the snapshot equals the directory", async () => {
    ({ service, clients } = composeUserSync(env));
    const gate = graphGate();
    try {
      // The child asks for the mirror's "sync from now" link, then reads pages 1 and 2; page 3 is
      // held, so it dies between pages.
      gate.holdFrom(4);
      const cli = startRun(["run", "--no-progress"]);
      children.push(cli.child);
      const checkpointed = await waitFor("the child's second checkpoint", async () => {
        for await (const run of clients.store.listUnfinishedRuns()) if (run.stats.pages >= 2) return run;
        return undefined;
      });
      cli.child.kill("SIGKILL");
      const exit = await cli.exited;
      expect(exit.signal).toBe("SIGKILL");
      gate.release();
      expect(checkpointed.checkpoint?.nextLink).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\?.*skiptoken=/);

      // The dead run's lease has not expired yet, but its holder was a process of this machine that
      // no longer exists: the next run takes the lease over at once (docs/storage.md) and resumes.
      const graphBefore = gate.count;
      expect((await clients.store.getLease())?.runId).toBe(checkpointed.runId);
      const { run, stats, outcome, resumed } = await service.runSync(log.logger, { trigger: "timer" });
      expect({ outcome, resumed }).toEqual({ outcome: "completed", resumed: true });
      expect(run.runId).toBe(checkpointed.runId);
      // Only the pages after the checkpoint were read again.
      expect(gate.count - graphBefore).toBe(PAGES - 2);
      expect(stats).toMatchObject({ pages: PAGES, usersRead: USERS, entitiesWritten: USERS });
      expect(stats.counters.resumes).toBe(1);
      expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(run.snapshotId);
      await expectSnapshotEqualsDirectory(world.tenant, clients, run.snapshotId, USERS);
      expect(await Array.fromAsync(clients.store.listUnfinishedRuns())).toEqual([]);
    } finally {
      gate.release();
      gate.remove();
    }
  });

  it("lets an overlapping command-line run exit with code 3 without reading or writing anything", async () => {
    const gate = graphGate();
    try {
      gate.holdFrom(1);
      const running = service.runSync(log.logger, { trigger: "timer" });
      await waitFor("the timer run to hold the lease", async () => await clients.store.getLease());
      const graphBefore = gate.count;
      const runsBefore = (await Array.fromAsync(clients.store.listRuns())).length;
      const cli = startRun(["run", "--no-progress"]);
      children.push(cli.child);
      const exit = await cli.exited;
      expect(exit.code).toBe(3);
      expect(exit.stderr).toContain("[run_in_progress]");
      expect(exit.stderr).toContain("holds the writer lease");
      expect(gate.count).toBe(graphBefore);
      expect((await Array.fromAsync(clients.store.listRuns())).length).toBe(runsBefore);
      expectNoSecrets(exit.stdout + exit.stderr, [world.azurite.connectionString]);
      gate.release();
      const { outcome, resumed } = await running;
      expect({ outcome, resumed }).toEqual({ outcome: "completed", resumed: false });
    } finally {
      gate.release();
      gate.remove();
    }
  });

  it("stops cleanly at a checkpoint at its maximum run duration, and the next run continues the same snapshot", async () => {
    const gate = graphGate();
    try {
      gate.holdFrom(3);
      const paused = await service.runSync(log.logger, { trigger: "timer", runControl: { maxRunDurationInMs: 1500 } });
      gate.release();
      expect(paused.outcome).toBe("paused");
      expect(paused.pausedBecause).toBe("max_run_duration");
      expect((await clients.store.getRun(paused.run.runId))?.status).toBe("paused");
      expect(await clients.store.getLease()).toBeUndefined();
      const continued = await service.runSync(log.logger, { trigger: "timer" });
      expect({ outcome: continued.outcome, resumed: continued.resumed, runId: continued.run.runId }).toEqual({ outcome: "completed", resumed: true, runId: paused.run.runId });
      await expectSnapshotEqualsDirectory(world.tenant, clients, continued.run.snapshotId, USERS);
    } finally {
      gate.release();
      gate.remove();
    }
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 20 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
