/**
 * Nothing lost, nothing stale: a run whose process is frozen (SIGSTOP) past its writer lease, while
 * another run takes over, writes nothing after it is thawed (SIGCONT), at each dangerous point:
 * an in-flight Graph request, a snapshot write already on the wire, a mirror write already on the
 * wire, the promotion, and retention. Requests "on the wire" are held by a loopback proxy in front
 * of Azurite and sent on only after the other run finished, as a late packet would arrive: the
 * storage-side fences must refuse them. Each case ends with the latest snapshot and the mirror
 * equal to the simulated directory. Real clients throughout (the compiled CLI, Azurite, the
 * simulated tenant).
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync, createUserSyncService } from "../../src/app/syncService.js";
import { assertCliBuilt, runCli, startCli, type CliResult } from "../support/cli.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { isBatchTo, startTableProxy, type TableProxy } from "../support/tableProxy.js";
import { waitFor, deferred } from "../support/waiting.js";

const USERS = 3000; // 4 pages of /users
/** Each case runs several processes and waits out a 5 s lease; a loaded 2-core machine needs room. */
const TEST_TIMEOUT = 300_000;
let world: SyncEnvironment;
let proxy: TableProxy;
let env: Record<string, string>;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, certificateContentType: "application/x-pkcs12" });
  world.useInProcess();
  proxy = await startTableProxy(world.azurite);
  // Short enough to wait out, long enough for a loaded 2-core machine to keep renewing it.
  env = { ...world.env, USER_SYNC_LEASE_SECONDS: "10" };
  ({ service, clients } = composeUserSync(env));
});
afterEach(() => {
  // A case that failed half-way may leave its child frozen: end it, so the next case starts clean.
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

/** The CLI, writing through the proxy (so the test can hold its table requests). */
function startThroughProxy(args: string[], extraEnv: Record<string, string> = {}) {
  const cli = startCli(args, { ...process.env, ...env, SNAPSHOT_STORAGE: proxy.connectionString, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath, ...extraEnv });
  children.push(cli.child);
  return cli;
}

function cliDirect(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { ...process.env, ...env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath, ...extraEnv });
}



/** Waits until nobody holds the writer lease (the frozen holder's has expired). */
async function leaseExpired(): Promise<void> {
  await waitFor("the frozen run's lease to expire", async () => ((await clients.store.getLease()) === undefined ? true : undefined));
}

const pick = (user: GraphUser, select: readonly string[]) => Object.fromEntries(select.map((p) => [p, user[p] ?? null])) as GraphUser;

/** The mirror's present users equal the directory now, property by property. */
async function expectMirrorEqualsDirectory(): Promise<void> {
  const select = clients.delta.select;
  const present = new Map<string, string>();
  for await (const m of clients.mirror.listUsers()) present.set(m.user.id, canonical(m.user));
  let expected = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.changes.currentUser(i);
    if (!user) continue;
    expected += 1;
    if (present.get(user.id) !== canonical(pick(user, select))) mismatches.push(user.id);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(present.size).toBe(expected);
}

/** Top-level keys sorted: the same user whatever the key order. */
const canonical = (user: GraphUser) => JSON.stringify(Object.fromEntries(Object.entries(user).sort(([a], [b]) => a.localeCompare(b))));

/** The latest snapshot holds every present user of the directory now, each as Graph shows it. */
async function expectLatestEqualsDirectory(): Promise<string> {
  const latest = await clients.store.getLatestSnapshot();
  expect(latest).toBeDefined();
  const select = clients.settings.select;
  const stored = new Map<string, string>();
  for await (const user of clients.store.listSnapshotUsers(latest!.snapshotId)) {
    expect(stored.has(user.id)).toBe(false);
    stored.set(user.id, canonical(user));
  }
  let expected = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.changes.currentUser(i);
    if (!user) continue;
    expected += 1;
    if (stored.get(user.id) !== canonical(pick(user, select))) mismatches.push(user.id);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(stored.size).toBe(expected);
  return latest!.snapshotId;
}

async function mirrorRunCount(): Promise<number> {
  return (await Array.fromAsync(clients.mirror.listRuns())).length;
}

/** Holds the first request `match` accepts: freezes the child, then keeps the request until released. */
function holdFirst(match: (body: string, path: string) => boolean, child: () => ChildProcess | undefined) {
  const released = deferred();
  const held = deferred();
  let sequence: number | undefined;
  proxy.decide = (request) => {
    if (sequence === undefined && match(request.body, request.path)) {
      sequence = request.sequence;
      child()?.kill("SIGSTOP");
      held.resolve();
      return released.promise;
    }
    return "pass";
  };
  return {
    held: held.promise,
    release: released.resolve,
    get sequence() {
      return sequence;
    },
  };
}

describe("a run frozen past its writer lease", () => {
  it("during an in-flight Graph request: the run that took over completes the snapshot, and the thawed run writes nothing (exit 3)", async () => {
    // A: the first run. Its third /users request is answered only after B finished; A is frozen meanwhile.
    let usersRequests = 0;
    const released = deferred();
    let a: ReturnType<typeof startThroughProxy> | undefined;
    const remove = world.tenant.intercept("graph", async (request) => {
      if (!/\/v1\.0\/users$/.test(request.url.pathname)) return undefined;
      usersRequests += 1;
      if (usersRequests === 3) {
        a?.child.kill("SIGSTOP");
        await released.promise;
      }
      return undefined;
    });
    try {
      a = startThroughProxy(["run", "--no-progress"]);
      await Promise.race([waitFor("A to ask for page 3", () => (usersRequests >= 3 ? true : undefined)), a.exited.then((r) => Promise.reject(new Error(`A exited early (${r.code}): ${r.stderr}`)))]);
      // A user on the page A is waiting for changes while A is frozen.
      world.tenant.changes.changeUser(2500, { displayName: "Changed while A was frozen" });
      await leaseExpired();
      const b = await service.runDue(log.logger, { trigger: "timer" });
      expect(b.snapshot?.resumed).toBe(true);
      expect(b.snapshot?.outcome).toBe("completed");
      const mirrorRuns = await mirrorRunCount();
      released.resolve();
      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(3);
      expect(exit.stderr).toContain("[lease_lost]");
      // A recorded nothing: B's run stays succeeded and latest, and A did not go on to a mirror round.
      const run = await clients.store.getRun(b.snapshot!.run.runId);
      expect(run?.status).toBe("succeeded");
      expect(await mirrorRunCount()).toBe(mirrorRuns);
      const latest = await expectLatestEqualsDirectory();
      expect(latest).toBe(b.snapshot!.run.snapshotId);
      await expectMirrorEqualsDirectory();
      // The next run keeps the snapshot (retention does not take it for a failed one).
      const next = await cliDirect(["run", "--no-progress"]);
      expect(next.code, next.stderr).toBe(0);
      const exported = await cliDirect(["export", "--snapshot", latest]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout.trim().split("\n")).toHaveLength(world.tenant.changes.presentUserCount());
    } finally {
      released.resolve();
      remove();
    }
  }, TEST_TIMEOUT);

  it("with a snapshot write on the wire: the late write is refused by the partition fence, and the snapshot keeps the newer value", async () => {
    const snapshotsTable = clients.store.snapshotsTableName;
    let a: ReturnType<typeof startThroughProxy> | undefined;
    // Hold A's first snapshot transaction of its second page.
    // (Page 1's transactions create the partitions' fence rows; later ones check them with If-Match.)
    const hold = holdFirst((body, path) => path.includes("$batch") && body.includes(`/${snapshotsTable}(`) && body.includes("If-Match"), () => a?.child);
    try {
      a = startThroughProxy(["run", "--full", "--no-progress"]);
      await hold.held;
      // The page A is writing changes before B reads it: A's held write carries the old value.
      // (Only users of the pages after A's checkpoint: B reads those again.)
      for (let i = 999; i < USERS; i += 97) world.tenant.changes.changeUser(i, { jobTitle: `Newer ${i}` });
      await leaseExpired();
      const b = await service.runDue(log.logger, { trigger: "timer" });
      expect(b.snapshot?.resumed).toBe(true);
      hold.release();
      const answer = await waitFor("the late write's answer", () => proxy.answered.get(hold.sequence!));
      expect(answer.body).toMatch(/UpdateConditionNotSatisfied|412/);
      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(3);
      expect(exit.stderr).toContain("[lease_lost]");
      expect((await clients.store.getRun(b.snapshot!.run.runId))?.status).toBe("succeeded");
      await expectLatestEqualsDirectory();
    } finally {
      hold.release();
      proxy.decide = () => "pass";
    }
  }, TEST_TIMEOUT);

  it("with a mirror write on the wire: the late write is refused, even in a partition the run that took over never wrote", async () => {
    const mirrorTable = clients.mirror.mirrorTableName;
    const index = 123;
    const original = world.tenant.changes.currentUser(index)!;
    world.tenant.changes.changeUser(index, { department: "Moved while A ran" });
    let a: ReturnType<typeof startThroughProxy> | undefined;
    const hold = holdFirst((body, path) => isBatchTo({ body, path } as never, mirrorTable), () => a?.child);
    try {
      a = startThroughProxy(["run", "--no-progress"]);
      await hold.held;
      // The user moves back while A is frozen: B reads it as it is in the mirror, and writes nothing there.
      world.tenant.changes.changeUser(index, { department: original.department ?? null });
      await leaseExpired();
      const b = await service.runDue(log.logger, { trigger: "timer" });
      expect(b.mirror?.mode).toBe("incremental");
      hold.release();
      const answer = await waitFor("the late write's answer", () => proxy.answered.get(hold.sequence!));
      expect(answer.body).toMatch(/UpdateConditionNotSatisfied|412/);
      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(3);
      await expectMirrorEqualsDirectory();
      // A's round was marked failed by B; the next incremental round changes nothing.
      const runs = await Array.fromAsync(clients.mirror.listRuns());
      expect(runs.filter((r) => r.status === "running")).toEqual([]);
      const next = await service.runDue(log.logger, { trigger: "timer" });
      expect(next.mirror?.changes).toMatchObject({ added: 0, updated: 0, removed: 0, restored: 0 });
      await expectMirrorEqualsDirectory();
    } finally {
      hold.release();
      proxy.decide = () => "pass";
    }
  }, TEST_TIMEOUT);

  it("just before promotion: the late promotion is refused, and the run that took over completes the same snapshot", async () => {
    const runsTable = clients.store.runsTableName;
    let a: ReturnType<typeof startThroughProxy> | undefined;
    const hold = holdFirst((body, path) => path.includes("$batch") && body.includes(`/${runsTable}(`) && body.includes("RowKey='latest'"), () => a?.child);
    try {
      a = startThroughProxy(["run", "--full", "--no-progress"]);
      await hold.held;
      await leaseExpired();
      const mirrorRuns = await mirrorRunCount();
      const b = await service.runDue(log.logger, { trigger: "timer" });
      expect(b.snapshot).toMatchObject({ resumed: true, outcome: "completed" });
      hold.release();
      const answer = await waitFor("the late promotion's answer", () => proxy.answered.get(hold.sequence!));
      expect(answer.body).toMatch(/UpdateConditionNotSatisfied|412/);
      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(3);
      expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(b.snapshot!.run.snapshotId);
      // B did one mirror round; A none.
      expect(await mirrorRunCount()).toBe(mirrorRuns + 1);
      await expectLatestEqualsDirectory();
      await expectMirrorEqualsDirectory();
    } finally {
      hold.release();
      proxy.decide = () => "pass";
    }
  }, TEST_TIMEOUT);

  it("during retention: the thawed run deletes nothing more, the latest snapshot stays whole, and the next run finishes the deletion", async () => {
    const snapshotsTable = clients.store.snapshotsTableName;
    const retention = { SNAPSHOT_RETENTION_COUNT: "1", SNAPSHOT_RETENTION_GRACE_MINUTES: "0" };
    let a: ReturnType<typeof startThroughProxy> | undefined;
    const hold = holdFirst((body, path) => path.includes("$batch") && body.includes(`/${snapshotsTable}(`) && body.includes("DELETE "), () => a?.child);
    try {
      a = startThroughProxy(["run", "--full", "--no-progress"], retention);
      await hold.held;
      await leaseExpired();
      const b = await createUserSyncService({ ...env, ...retention }).runDue(log.logger, { trigger: "timer" });
      expect(b.snapshot).toBeUndefined();
      hold.release();
      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(3);
      const latest = await expectLatestEqualsDirectory();
      const pending = (await Array.fromAsync(clients.store.listRuns())).filter((r) => r.snapshotDeletedAt && !r.snapshotPurgedAt);
      expect(pending.length).toBeGreaterThan(0);
      const next = await cliDirect(["run", "--full", "--no-progress"], retention);
      expect(next.code, next.stderr).toBe(0);
      const runs = await Array.fromAsync(clients.store.listRuns());
      expect(runs.filter((r) => r.snapshotDeletedAt && !r.snapshotPurgedAt)).toEqual([]);
      expect(runs.find((r) => r.snapshotId === latest)?.snapshotDeletedAt).toBeDefined();
      await expectLatestEqualsDirectory();
    } finally {
      hold.release();
      proxy.decide = () => "pass";
    }
  }, TEST_TIMEOUT);
});

describe("bounded waits", () => {
  it("a table request that never answers fails the run within the timeout, naming the endpoint, while the lease stays renewed", async () => {
    const snapshotsTable = clients.store.snapshotsTableName;
    proxy.decide = (request) => (request.path.includes("$batch") && request.body.includes(`/${snapshotsTable}(`) ? "stall" : "pass");
    try {
      // A lease far longer than the bounded wait: the run must fail by the timeout, not by losing its lease.
      const a = startThroughProxy(["run", "--full", "--no-progress"], { STORAGE_REQUEST_TIMEOUT_SECONDS: "1", USER_SYNC_LEASE_SECONDS: "120" });
      const exit = await a.exited;
      expect(exit.code, exit.stderr).toBe(1);
      expect(exit.stderr).toContain(new URL(proxy.tableEndpoint).host);
      expect(exit.stderr).toMatch(/gave no complete answer/);
      const failed = (await Array.fromAsync(clients.store.listRuns({ maxResults: 1 })))[0];
      expect(failed?.status).toBe("failed");
    } finally {
      proxy.decide = () => "pass";
    }
    const next = await service.runDue(log.logger, { trigger: "timer", full: true });
    expect(next.snapshot?.outcome).toBe("completed");
    await expectLatestEqualsDirectory();
  }, TEST_TIMEOUT);
});

describe("a transaction applied but never answered", () => {
  it("is retried by the SDK, and the run's own fenced write is not taken for another run's: the run completes", async () => {
    const snapshotsTable = clients.store.snapshotsTableName;
    let lost = 0;
    // The first fenced snapshot transaction of page 2 reaches Azurite, but its answer is lost.
    proxy.decide = (request) => (lost === 0 && request.path.includes("$batch") && request.body.includes(`/${snapshotsTable}(`) && request.body.includes("If-Match") && ++lost === 1 ? "loseAnswer" : "pass");
    try {
      await leaseExpired();
      const a = startThroughProxy(["run", "--full", "--no-progress"], { STORAGE_REQUEST_TIMEOUT_SECONDS: "2", USER_SYNC_LEASE_SECONDS: "120" });
      const exit = await a.exited;
      expect(lost).toBe(1);
      expect(exit.code, exit.stderr).toBe(0);
      await expectLatestEqualsDirectory();
    } finally {
      proxy.decide = () => "pass";
    }
  }, TEST_TIMEOUT);
});

describe("readers print all or fail", () => {
  async function readerRacingRetention(args: string[], graceMinutes: string): Promise<{ exit: CliResult; count: number }> {
    const snapshotsTable = clients.store.snapshotsTableName;
    const count = world.tenant.changes.presentUserCount();
    let queries = 0;
    const released = deferred();
    const held = deferred();
    // Hold the reader's second query of snapshot users (a page of the export, or a partition of the diff).
    proxy.decide = (request) => {
      if (request.method === "GET" && request.path.includes(`/${snapshotsTable}()`) && ++queries === 2) {
        held.resolve();
        return released.promise;
      }
      return "pass";
    };
    try {
      await leaseExpired();
      const reader = startThroughProxy(args);
      await held.promise;
      // Meanwhile a run completes a new snapshot, and retention (keep 1) would delete the one being read.
      await createUserSyncService({ ...env, SNAPSHOT_RETENTION_COUNT: "1", SNAPSHOT_RETENTION_GRACE_MINUTES: graceMinutes }).runDue(log.logger, { trigger: "timer", full: true });
      released.resolve();
      return { exit: await reader.exited, count };
    } finally {
      released.resolve();
      proxy.decide = () => "pass";
    }
  }

  it("export --latest fails (exit 1, read_incomplete) when retention deletes the snapshot while it is read", async () => {
    const { exit, count } = await readerRacingRetention(["export", "--latest"], "0");
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain("read_incomplete");
    expect(exit.stdout.trim().split("\n").length).toBeLessThan(count);
  }, TEST_TIMEOUT);

  it("export --latest prints the whole snapshot when retention keeps it for readers (SNAPSHOT_RETENTION_GRACE_MINUTES)", async () => {
    const { exit, count } = await readerRacingRetention(["export", "--latest"], "60");
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stdout.trim().split("\n")).toHaveLength(count);
  }, TEST_TIMEOUT);

  it("diff fails (exit 1, read_incomplete) when retention deletes a snapshot it compares while it reads", async () => {
    const { exit } = await readerRacingRetention(["diff", "--format", "jsonl"], "0");
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain("read_incomplete");
  }, TEST_TIMEOUT);
});
