/**
 * The mirror's full round in the snapshot's pass over `/users` (docs/mirror.md, "One pass"), end to
 * end through the real clients (managed identity, Key Vault, MSAL, Graph on the simulated tenant,
 * Tables on Azurite): the first run and a forced full run each read the directory once
 * (⌈N/999⌉ `/users` pages and one `/users/delta?$deltatoken=latest`); changes made during the pass
 * reach the mirror with the next incremental round; a user deleted before the round is swept; a
 * round paused at a checkpoint continues on the next run; a round whose process is killed with
 * SIGKILL mid-pass is continued by the next run and ends with snapshot and mirror equal to the
 * directory, re-reading only the pages not checkpointed; a saved page link Graph refuses on resume
 * restarts the round.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { assertCliBuilt, startCli } from "../support/cli.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 2500; // 3 pages of at most 999
const PAGES = Math.ceil(USERS / 999);
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;
let env: Record<string, string>;
let service: UserSyncService;
let clients: AppClients;
const added: string[] = [];
const children: ChildProcess[] = [];

/** Graph requests by kind, and an optional hook run before a request is answered. */
function graphRequests() {
  const seen = { users: 0, delta: 0, latest: 0 };
  let before: ((url: URL) => void | Promise<void>) | undefined;
  const remove = world.tenant.intercept("graph", async (request) => {
    if (/\/users\/delta$/.test(request.url.pathname)) {
      seen.delta += 1;
      if (request.url.searchParams.get("$deltatoken") === "latest") seen.latest += 1;
    } else if (/\/users\/?$/.test(request.url.pathname)) {
      seen.users += 1;
    }
    await before?.(request.url);
    return undefined;
  });
  return {
    seen,
    before(hook: typeof before) {
      before = hook;
    },
    remove,
  };
}

/** The directory now, with the mirror's $select (the default one). */
function currentDirectory(): Map<string, GraphUser> {
  const users = new Map<string, GraphUser>();
  const select = clients.delta.select;
  const pick = (user: GraphUser) => Object.fromEntries(select.map((p) => [p, user[p] ?? null])) as GraphUser;
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.changes.currentUser(i);
    if (user) users.set(user.id, pick(user));
  }
  for (const id of added) {
    const user = world.tenant.changes.currentUser(id);
    if (user) users.set(id, pick(user));
  }
  return users;
}

/** The mirror's present users equal the directory; every other user it holds is marked removed. */
async function expectMirrorEqualsDirectory(): Promise<Map<string, string>> {
  const expected = currentDirectory();
  const states = new Map<string, string>();
  const mismatches: string[] = [];
  for await (const entry of clients.mirror.listUsers({ includeRemoved: true })) {
    states.set(entry.user.id, entry.state);
    const want = expected.get(entry.user.id);
    if (entry.state === "present") {
      if (want === undefined) mismatches.push(`present but not in the directory: ${entry.user.id}`);
      else if (JSON.stringify(entry.user) !== JSON.stringify(want)) mismatches.push(`differs: ${entry.user.id}`);
    } else if (want !== undefined) {
      mismatches.push(`${entry.state} but in the directory: ${entry.user.id}`);
    }
  }
  for (const id of expected.keys()) if (!states.has(id)) mismatches.push(`missing from the mirror: ${id}`);
  expect(mismatches.slice(0, 5)).toEqual([]);
  return states;
}

/** The snapshot holds the directory as it is now, every user once (the default $select: the mirror's too). */
async function expectSnapshotEqualsDirectory(snapshotId: string): Promise<void> {
  const expected = currentDirectory();
  const mismatches: string[] = [];
  let count = 0;
  for await (const user of clients.store.listSnapshotUsers(snapshotId)) {
    count += 1;
    const want = expected.get(user.id);
    if (want === undefined || JSON.stringify(user) !== JSON.stringify(want)) mismatches.push(user.id);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(count).toBe(expected.size);
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 31 });
  world.useInProcess();
  env = { ...world.env, USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_LEASE_SECONDS: "10" };
  ({ service, clients } = composeUserSync(env));
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await world?.close();
});

describe("a full round in one pass over /users", () => {
  const log = capturingLogger();

  it("the first run reads the directory once and writes the snapshot and the mirror from the same pages", async () => {
    const graph = graphRequests();
    try {
      const result = await service.runDue(log.logger, { trigger: "cli" });
      expect(result.snapshot?.outcome).toBe("completed");
      expect(result.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound", pages: PAGES, itemsRead: USERS, usersWritten: USERS, swept: 0 });
      expect(result.mirror?.round).toBeDefined();
      expect(graph.seen).toEqual({ users: PAGES, delta: 1, latest: 1 });
      expect(graph.seen.users + graph.seen.delta).toBeLessThanOrEqual(PAGES + 2);
      await expectSnapshotEqualsDirectory(result.snapshot!.run.snapshotId);
      await expectMirrorEqualsDirectory();
      const state = await clients.mirror.getDeltaState();
      expect(state?.state).toMatchObject({ round: result.mirror!.round, runId: result.mirror!.runId });
      expect(state?.state.deltaLink).toMatch(/\/v1\.0\/users\/delta\?.*deltatoken=/);
    } finally {
      graph.remove();
    }
  });

  it("a forced full round reads once, sweeps a user deleted before it, and the next incremental round brings in what changed during the pass", async () => {
    // Deleted before the round, while no delta link is followed: the sweep finds it.
    const deletedBefore = world.tenant.changes.userIdAt(10);
    world.tenant.changes.hardDeleteUser(10);
    world.tenant.changes.softDeleteUser(20); // restored during the pass
    const graph = graphRequests();
    let changed = false;
    graph.before((url) => {
      // While the pass reads its second /users page: changes on pages read and still to read.
      if (changed || !/\/users\/?$/.test(url.pathname) || graph.seen.users !== 2) return;
      changed = true;
      added.push(world.tenant.changes.addUser({ displayName: "Added During The Pass", jobTitle: "Engineer" }));
      world.tenant.changes.changeUser(1, { jobTitle: "Changed During The Pass", department: null });
      world.tenant.changes.renameUser(2, `renamed.during.pass@${world.tenant.tenantDomain}`);
      world.tenant.changes.softDeleteUser(3);
      world.tenant.changes.hardDeleteUser(4);
      world.tenant.changes.softDeleteUser(2400); // on the last page, not read yet
      world.tenant.changes.restoreUser(20);
    });
    try {
      const full = await service.runDue(log.logger, { trigger: "cli", full: true });
      expect(changed).toBe(true);
      expect(full.snapshot?.outcome).toBe("completed");
      expect(full.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "forced" });
      expect(graph.seen).toEqual({ users: PAGES, delta: 1, latest: 1 });
      const afterFull = new Map<string, string>();
      for await (const entry of clients.mirror.listUsers({ includeRemoved: true })) afterFull.set(entry.user.id, entry.state);
      expect(afterFull.get(deletedBefore)).toBe("missing");
      // Deleted during the pass before its page was read: not seen, swept too.
      expect(afterFull.get(world.tenant.changes.userIdAt(2400))).toBe("missing");
      const changes = await Array.fromAsync(clients.mirror.listChanges(full.mirror!.runId));
      expect(changes.find((c) => c.id === deletedBefore)).toMatchObject({ change: "removed", reason: "notSeen" });

      const incremental = await service.runDue(log.logger, { trigger: "cli" });
      expect(incremental.snapshot).toBeUndefined();
      expect(incremental.mirror).toMatchObject({ status: "succeeded", mode: "incremental", reason: "deltaLink" });
      const states = await expectMirrorEqualsDirectory();
      expect(states.get(world.tenant.changes.userIdAt(3))).toBe("softDeleted");
      expect(states.get(world.tenant.changes.userIdAt(4))).toBe("deleted");
      expect(states.get(world.tenant.changes.userIdAt(2400))).toBe("softDeleted");
      expect(states.get(world.tenant.changes.userIdAt(20))).toBe("present");
      expect(states.get(added[0]!)).toBe("present");
      expect(states.get(deletedBefore)).toBe("missing");
    } finally {
      graph.remove();
    }
  });

  it("a delta token Graph refuses when no snapshot is due: the full round is one pass with a snapshot run, on the incremental round's record", async () => {
    world.tenant.changes.changeUser(5, { jobTitle: "Changed Before The Refusal" });
    world.tenant.changes.expireDeltaTokens();
    const snapshotsBefore = (await clients.store.getLatestSnapshot())?.runId;
    const graph = graphRequests();
    try {
      const result = await service.runDue(log.logger, { trigger: "cli" });
      expect(result.due.snapshot).toBe("mirrorFullRound");
      expect(result.snapshot?.outcome).toBe("completed");
      expect(result.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "tokenExpired", pages: PAGES, itemsRead: currentDirectory().size });
      expect(result.mirror!.counters.deltaRestarts).toBe(1);
      // The refused incremental request, then "sync from now" and one pass over /users: no /users/delta full round.
      expect(graph.seen).toEqual({ users: PAGES, delta: 2, latest: 1 });
      // One mirror run record: the incremental round's, continued as the full round.
      const [recorded, previous] = await Array.fromAsync(clients.mirror.listRuns({ maxResults: 2 }));
      expect(recorded).toMatchObject({ runId: result.mirror!.runId, status: "succeeded", mode: "full", reason: "tokenExpired" });
      expect(previous?.status).toBe("succeeded");
      expect((await clients.store.getLatestSnapshot())?.runId).not.toBe(snapshotsBefore);
      await expectSnapshotEqualsDirectory(result.snapshot!.run.snapshotId);
      await expectMirrorEqualsDirectory();
      const next = await service.runDue(log.logger, { trigger: "cli" });
      expect(next.snapshot).toBeUndefined();
      expect(next.mirror).toMatchObject({ status: "succeeded", mode: "incremental", reason: "deltaLink", itemsRead: 0 });
    } finally {
      graph.remove();
    }
  });

  it("a round paused at a checkpoint continues on the next run, with the same mark and delta link", async () => {
    const graph = graphRequests();
    const stop = new AbortController();
    try {
      const paused = await service.runDue(log.logger, { trigger: "cli", full: true, abortSignal: stop.signal, onProgress: (stats) => stats.pages >= 1 && stop.abort() });
      expect(paused.snapshot?.outcome).toBe("paused");
      expect(paused.mirror).toMatchObject({ status: "paused", mode: "full", reason: "forced" });
      const round = paused.mirror!.round!;
      const [unfinished] = await Array.fromAsync(clients.store.listUnfinishedRuns());
      expect(unfinished?.mirrorRound).toMatchObject({ round, reason: "forced" });
      const readBefore = graph.seen.users;
      expect(graph.seen.latest).toBe(1);

      world.tenant.changes.changeUser(1500, { jobTitle: "Changed While Paused" });
      const continued = await service.runDue(log.logger, { trigger: "cli" });
      expect(continued.due.snapshot).toBe("continuing");
      expect(continued.snapshot).toMatchObject({ outcome: "completed", resumed: true });
      expect(continued.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "forced", round });
      expect(continued.mirror!.counters.roundResumes).toBe(1);
      // No second "sync from now", and only the pages after the checkpoint.
      expect(graph.seen.latest).toBe(1);
      expect(graph.seen.users - readBefore).toBeLessThanOrEqual(PAGES - 1);
      expect((await clients.mirror.getDeltaState())?.state).toMatchObject({ round, deltaLink: unfinished!.mirrorRound!.deltaLink });
      await service.runDue(log.logger, { trigger: "cli" });
      await expectMirrorEqualsDirectory();
    } finally {
      graph.remove();
    }
  });

  it("a saved page link Graph refuses on resume (Directory_ExpiredPageToken) restarts the round, and the records say so", async () => {
    const stop = new AbortController();
    const paused = await service.runDue(log.logger, { trigger: "cli", full: true, abortSignal: stop.signal, onProgress: (stats) => stats.pages >= 1 && stop.abort() });
    expect(paused.mirror).toMatchObject({ status: "paused" });
    const [stopped] = await Array.fromAsync(clients.store.listUnfinishedRuns());
    const graph = graphRequests();
    let refused = 0;
    const removeRefusal = world.tenant.intercept("graph", (request) => {
      if (refused > 0 || !request.url.searchParams.has("$skiptoken") || /\/delta$/.test(request.url.pathname)) return undefined;
      refused += 1;
      return { status: 400, body: { error: { code: "Directory_ExpiredPageToken", message: "The specified page token value has expired and can no longer be included in your request." } } };
    });
    try {
      const restarted = await service.runDue(log.logger, { trigger: "cli" });
      expect(refused).toBe(1);
      expect(restarted.snapshot).toMatchObject({ outcome: "completed", resumed: false });
      expect(restarted.snapshot!.run.runId).not.toBe(stopped!.runId);
      expect(restarted.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "forced" });
      expect(restarted.mirror!.round).not.toBe(paused.mirror!.round);
      expect(restarted.mirror!.counters.roundRestarts).toBe(1);
      expect(restarted.mirror!.note).toMatch(/restarted: Graph refused its saved page link/);
      // A new sync-from-now link for the new round, and the whole directory read again.
      expect(graph.seen.latest).toBe(1);
      expect(graph.seen.users).toBeGreaterThanOrEqual(PAGES);
      expect(graph.seen.users).toBeLessThanOrEqual(PAGES + 1);
      expect((await clients.store.getRun(stopped!.runId))).toMatchObject({ status: "abandoned" });
      expect((await clients.store.getRun(stopped!.runId))?.error).toMatch(/Graph refused its saved page link/);
      await service.runDue(log.logger, { trigger: "cli" });
      await expectMirrorEqualsDirectory();
    } finally {
      removeRefusal();
      graph.remove();
    }
  });

  it("a round killed with SIGKILL mid-pass is continued by the next run: snapshot and mirror equal the directory", async () => {
    const graph = graphRequests();
    let hold: Promise<void> | undefined;
    let release!: () => void;
    graph.before(async (url) => {
      // The child reads pages 1 and 2; page 3 is held, so it dies between pages.
      if (/\/users\/?$/.test(url.pathname) && graph.seen.users === 3 && hold === undefined) {
        hold = new Promise<void>((resolve) => (release = resolve));
        await hold;
      }
    });
    try {
      const cli = startCli(["run", "--full", "--no-progress"], { ...process.env, ...env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath });
      children.push(cli.child);
      const deadline = Date.now() + 60_000;
      let checkpointed;
      while (checkpointed === undefined && Date.now() < deadline) {
        for await (const run of clients.store.listUnfinishedRuns()) if (run.stats.pages >= 2 && run.mirrorRound) checkpointed = run;
        if (checkpointed === undefined) await sleep(100);
      }
      expect(checkpointed, "the child's second checkpoint").toBeDefined();
      cli.child.kill("SIGKILL");
      expect((await cli.exited).signal).toBe("SIGKILL");
      release?.();
      while ((await clients.store.getLease()) !== undefined && Date.now() < deadline + 30_000) await sleep(200);

      const usersBefore = graph.seen.users;
      const latestBefore = graph.seen.latest;
      const resumed = await service.runDue(log.logger, { trigger: "timer" });
      expect(resumed.snapshot).toMatchObject({ outcome: "completed", resumed: true });
      expect(resumed.snapshot!.run.runId).toBe(checkpointed!.runId);
      expect(resumed.mirror).toMatchObject({ status: "succeeded", mode: "full", round: checkpointed!.mirrorRound!.round });
      // Only what was not checkpointed is read again.
      expect(graph.seen.users - usersBefore).toBe(PAGES - 2);
      expect(graph.seen.latest).toBe(latestBefore);
      await expectSnapshotEqualsDirectory(resumed.snapshot!.run.snapshotId);
      await service.runDue(log.logger, { trigger: "timer" });
      await expectMirrorEqualsDirectory();
      expectNoSecrets(log.lines.join("\n"));
    } finally {
      release?.();
      graph.remove();
    }
  });
  it("USER_SYNC_SELECT changed while a round is paused: the round starts again for the new properties, and its record says why", async () => {
    const stop = new AbortController();
    const paused = await service.runDue(log.logger, { trigger: "cli", full: true, abortSignal: stop.signal, onProgress: (stats) => stats.pages >= 1 && stop.abort() });
    expect(paused.mirror).toMatchObject({ status: "paused" });
    // The operator narrows the properties before the next run (the last test: the service stays narrowed).
    ({ service, clients } = composeUserSync({ ...env, USER_SYNC_SELECT: "id,userPrincipalName,displayName,jobTitle" }));
    const graph = graphRequests();
    try {
      const next = await service.runDue(log.logger, { trigger: "cli" });
      expect(next.snapshot).toMatchObject({ outcome: "completed", resumed: false });
      expect(next.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "selectChanged", select: ["id", "userPrincipalName", "displayName", "jobTitle"], counters: { roundRestarts: 1 } });
      expect(next.mirror!.note).toMatch(/USER_SYNC_SELECT changed/);
      expect(next.mirror!.round).not.toBe(paused.mirror!.round);
      expect(graph.seen).toEqual({ users: PAGES, delta: 1, latest: 1 });
      await expectSnapshotEqualsDirectory(next.snapshot!.run.snapshotId);
      await expectMirrorEqualsDirectory();
      expect((await clients.mirror.getDeltaState())?.state.select).toEqual(["id", "userPrincipalName", "displayName", "jobTitle"]);
    } finally {
      graph.remove();
    }
  });
});
