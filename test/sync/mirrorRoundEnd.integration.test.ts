/**
 * The mirror round's end (issue 31): the delta state and the run's record are written in one
 * entity group transaction of the mirror table's runs partition, so that
 * - a run frozen past its writer lease with its end on the wire saves no state over the run that
 *   took over (that run marked its record failed: the whole transaction is refused), and the run
 *   that took over completes;
 * - a run killed with its end applied but never answered leaves a state saved by a run recorded
 *   as succeeded (never a state whose run is recorded failed), and one killed with its end never
 *   sent leaves the state as it was, its record marked failed by the next round.
 * Requests "on the wire" are held by a loopback proxy in front of Azurite. Real clients
 * throughout (the compiled CLI, Azurite, the simulated tenant).
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { composeUserSync } from "../../src/app/syncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type ProxiedRequest, type TableProxy } from "../support/tableProxy.js";
import { waitFor, deferred } from "../support/waiting.js";

/** Each case waits out a 10 s lease on a loaded 2-core machine. */
const TEST_TIMEOUT = 240_000;
let world: SyncEnvironment;
let proxy: TableProxy;
let env: Record<string, string>;
let clients: AppClients;
/** A second run in this process, writing through the proxy (so the test can hold its end). */
let throughProxy: UserSyncService;
const log = capturingLogger();
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 400 });
  world.useInProcess();
  proxy = await startTableProxy(world.azurite);
  env = { ...world.env, USER_SYNC_LEASE_SECONDS: "10" };
  ({ clients } = composeUserSync(env));
  ({ service: throughProxy } = composeUserSync({ ...env, SNAPSHOT_STORAGE: proxy.connectionString }));
  // The first run: the snapshot and the mirror's full round; every case below is an incremental round.
  const first = await runCli(["run", "--no-progress"], { ...process.env, ...env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath });
  expect(first.code, first.stderr).toBe(0);
}, TEST_TIMEOUT);
afterEach(() => {
  proxy.decide = () => "pass";
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  }
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await proxy?.close();
  await world?.close();
});

function startThroughProxy(args: string[]) {
  const cli = startCli(args, { ...process.env, ...env, SNAPSHOT_STORAGE: proxy.connectionString, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath });
  children.push(cli.child);
  return cli;
}



/**
 * The round's first write of the delta state (its end): a write to the mirror table naming the
 * state's row, alone or in a transaction. (Before issue 31 that was the state's own replace,
 * followed by the record's: the test holds whichever comes first.)
 */
function isStateWrite(request: ProxiedRequest): boolean {
  if (request.method === "GET") return false;
  const mirror = clients.mirror.mirrorTableName;
  return `${request.path}\n${request.body}`.includes(`${mirror}(PartitionKey='`) && /RowKey='delta'\)/.test(`${request.path}\n${request.body}`);
}

async function leaseExpired(): Promise<void> {
  await waitFor("the frozen run's lease to expire", async () => ((await clients.store.getLease()) === undefined ? true : undefined));
}

async function departmentInMirror(index: number): Promise<unknown> {
  const id = world.tenant.changes.currentUser(index)!.id;
  return (await clients.mirror.getUsers([id])).get(id)?.user.department;
}

async function newestMirrorRun() {
  const [run] = await Array.fromAsync(clients.mirror.listRuns({ maxResults: 1 }));
  return run!;
}

describe("the mirror round's end: its delta state and run record in one transaction", () => {
  it("frozen past its lease with its end on the wire: the late end saves nothing, and the run that took over completes with its own state", async () => {
    const before = (await clients.mirror.getDeltaState())!;
    world.tenant.changes.changeUser(7, { department: "Changed while A ran" });
    const releaseA = deferred();
    const releaseB = deferred();
    const heldA = deferred();
    const heldB = deferred();
    const sequences: number[] = [];
    proxy.decide = (request) => {
      if (!isStateWrite(request)) return "pass";
      sequences.push(request.sequence);
      if (sequences.length === 1) {
        // A's end: A freezes with it on the wire.
        a.child.kill("SIGSTOP");
        heldA.resolve();
        return releaseA.promise;
      }
      if (sequences.length === 2) {
        // B's end waits until A's late end has been answered.
        heldB.resolve();
        return releaseB.promise;
      }
      return "pass";
    };
    const a = startThroughProxy(["run", "--no-progress"]);
    await heldA.promise;
    const aRun = await newestMirrorRun();
    expect(aRun.status).toBe("running");
    await leaseExpired();
    // B takes over (marks A's record failed) and reads the same change; its end is held.
    const b = throughProxy.runDue(log.logger, { trigger: "timer" });
    await heldB.promise;
    releaseA.resolve();
    await waitFor("A's late end to be answered", () => proxy.answered.get(sequences[0]!));
    releaseB.resolve();
    const result = await b;
    // B completes: its state is saved and its run recorded succeeded.
    expect(result.mirror?.status).toBe("succeeded");
    expect(await departmentInMirror(7)).toBe("Changed while A ran");
    const after = (await clients.mirror.getDeltaState())!;
    expect(after.state.runId).toBe(result.mirror!.runId);
    expect(after.state.runId).not.toBe(before.state.runId);
    expect((await clients.mirror.getRun(aRun.runId))?.status).toBe("failed");
    expect((await clients.mirror.getRun(result.mirror!.runId))?.status).toBe("succeeded");
    a.child.kill("SIGCONT");
    const exit = await a.exited;
    expect(exit.code, exit.stderr).toBe(3);
    // The next round starts from B's state: nothing to read again.
    const next = await throughProxy.runDue(log.logger, { trigger: "timer" });
    expect(next.mirror?.changes).toMatchObject({ added: 0, updated: 0, removed: 0, restored: 0 });
  }, TEST_TIMEOUT);

  it("killed with its end applied but never answered: the state it saved belongs to a run recorded succeeded, and the next round marks nothing failed", async () => {
    world.tenant.changes.changeUser(8, { department: "Changed before the crash" });
    let sequence: number | undefined;
    proxy.decide = (request) => {
      if (sequence !== undefined || !isStateWrite(request)) return "pass";
      sequence = request.sequence;
      return "loseAnswer";
    };
    const a = startThroughProxy(["run", "--no-progress"]);
    await waitFor("A's end to be applied", () => (sequence !== undefined ? proxy.answered.get(sequence) : undefined));
    a.child.kill("SIGKILL");
    await a.exited;
    proxy.decide = () => "pass";
    const saved = (await clients.mirror.getDeltaState())!;
    expect((await clients.mirror.getRun(saved.state.runId))?.status).toBe("succeeded");
    await leaseExpired();
    log.lines.length = 0;
    const next = await throughProxy.runDue(log.logger, { trigger: "timer" });
    expect(next.mirror?.status).toBe("succeeded");
    expect(log.lines.join("\n")).not.toMatch(/stopped without finishing/);
    expect((await clients.mirror.getRun(saved.state.runId))?.status).toBe("succeeded");
  }, TEST_TIMEOUT);

  it("killed with its end never sent: the state stays as it was, the next round marks the run failed and reads its change again", async () => {
    const before = (await clients.mirror.getDeltaState())!;
    world.tenant.changes.changeUser(9, { department: "Changed before the second crash" });
    const held = deferred();
    proxy.decide = (request) => {
      if (!isStateWrite(request)) return "pass";
      held.resolve();
      return "stall";
    };
    const a = startThroughProxy(["run", "--no-progress"]);
    await held.promise;
    a.child.kill("SIGKILL");
    await a.exited;
    proxy.decide = () => "pass";
    const aRun = await newestMirrorRun();
    expect(aRun.status).toBe("running");
    expect((await clients.mirror.getDeltaState())!.etag).toBe(before.etag);
    await leaseExpired();
    const next = await throughProxy.runDue(log.logger, { trigger: "timer" });
    expect(next.mirror?.status).toBe("succeeded");
    expect(await departmentInMirror(9)).toBe("Changed before the second crash");
    expect((await clients.mirror.getRun(aRun.runId))?.status).toBe("failed");
    expect((await clients.mirror.getDeltaState())!.state.runId).toBe(next.mirror!.runId);
  }, TEST_TIMEOUT);
});
