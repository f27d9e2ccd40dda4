/**
 * UserSyncService.runDue through the real clients (managed identity, Key Vault, MSAL, Graph `/users`
 * and `/users/delta` on the simulated tenant, Tables on Azurite): what each run does, decided from
 * the store, the mirror and USER_SYNC_FULL_SCHEDULE with an injected clock.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { isUserSyncError } from "../../src/shared/errors.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 1_500; // 2 pages of /users, 8 pages of /users/delta
const DAY = 86_400_000;
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, seed: 31 });
  world.useInProcess();
  ({ service, clients } = composeUserSync({ ...world.env, USER_SYNC_FULL_SCHEDULE: "0 0 2 * * *" }));
});
afterAll(async () => world?.close());

const isUsersList = (path: string) => /^\/v1\.0\/users\/?$/.test(path);

describe("runDue", () => {
  it("first run: the first snapshot, and the mirror's first (full) round", async () => {
    const result = await service.runDue(log.logger, { trigger: "cli" });
    expect(result.due).toEqual({ snapshot: "firstSnapshot", mirrorFull: undefined });
    expect(result.snapshot).toMatchObject({ outcome: "completed", stats: { usersRead: USERS } });
    expect(result.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound", trigger: "cli" });
    expect(await clients.store.getLease()).toBeUndefined();
  });

  it("next run, before the full schedule comes round: an incremental mirror round only", async () => {
    world.tenant.changes.changeUser(20, { displayName: "Due Run" });
    world.tenant.requests.reset();
    // Decide at a moment just after the first snapshot started: no occurrence of the full schedule fits in between.
    const latest = await clients.store.getLatestSnapshot();
    const startedAt = (await clients.store.getRun(latest!.runId))!.startedAt;
    const result = await service.runDue(log.logger, { trigger: "cli", now: new Date(startedAt.getTime() + 1) });
    expect(result.due).toEqual({ snapshot: undefined, mirrorFull: undefined });
    expect(result.snapshot).toBeUndefined();
    expect(result.mirror).toMatchObject({ mode: "incremental", reason: "deltaLink", changes: { updated: 1 } });
    expect(world.tenant.requests.count("graph")).toBe(1);
  });

  it("what is due takes the latest snapshot's start from its pointer; a pointer written before it kept the start sends it to the run", async () => {
    const latest = (await clients.store.getLatestSnapshot())!;
    const run = (await clients.store.getRun(latest.runId))!;
    expect(latest.startedAt?.getTime()).toBe(run.startedAt.getTime());
    const getRun = vi.spyOn(clients.store, "getRun");
    try {
      const now = new Date(run.startedAt.getTime() + 1);
      expect(await service.whatIsDue({ now })).toEqual({ snapshot: undefined, mirrorFull: undefined });
      expect(getRun).not.toHaveBeenCalled();
      const { startedAt: _kept, ...older } = latest;
      const records = await clients.store.readDueRecords();
      vi.spyOn(clients.store, "readDueRecords").mockResolvedValueOnce({ ...records, latest: older });
      expect(await service.whatIsDue({ now })).toEqual({ snapshot: undefined, mirrorFull: undefined });
      expect(getRun.mock.calls.map(([runId]) => runId)).toEqual([latest.runId]);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("once the full schedule had an occurrence since the last full rounds: a new snapshot and a scheduled full round of the mirror", async () => {
    const latestBefore = await clients.store.getLatestSnapshot();
    const result = await service.runDue(log.logger, { trigger: "timer", now: new Date(Date.now() + 2 * DAY) });
    expect(result.due).toEqual({ snapshot: "scheduled", mirrorFull: "scheduled" });
    expect(result.snapshot?.outcome).toBe("completed");
    expect((await clients.store.getLatestSnapshot())?.snapshotId).not.toBe(latestBefore?.snapshotId);
    expect(result.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "scheduled", swept: 0 });
  });

  it("run --full forces both, whatever the schedule", async () => {
    const result = await service.runDue(log.logger, { trigger: "cli", full: true });
    expect(result.due).toEqual({ snapshot: "forced", mirrorFull: "forced" });
    expect(result.snapshot?.outcome).toBe("completed");
    expect(result.mirror).toMatchObject({ mode: "full", reason: "forced" });
  });

  it("a failed snapshot does not leave the mirror stale: the mirror's round runs, then the snapshot's error is thrown", async () => {
    world.tenant.changes.changeUser(21, { jobTitle: "Still Mirrored" });
    const remove = world.tenant.intercept("graph", (request) =>
      isUsersList(request.url.pathname) ? { status: 403, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } } : undefined,
    );
    const latestBefore = await clients.store.getLatestSnapshot();
    let error: unknown;
    try {
      await service.runDue(log.logger, { trigger: "timer", now: new Date(Date.now() + 3 * DAY) });
    } catch (e) {
      error = e;
    } finally {
      remove();
    }
    expect(isUserSyncError(error, "graph_forbidden"), String(error)).toBe(true);
    expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(latestBefore?.snapshotId);
    const newest = (await clients.mirror.listRuns().next()).value;
    expect(newest).toMatchObject({ status: "succeeded", mode: "full", reason: "scheduled" });
    const changed = [];
    for await (const m of clients.mirror.listUsers()) if (m.user.jobTitle === "Still Mirrored") changed.push(m.user.id);
    expect(changed).toEqual([world.tenant.changes.userIdAt(21)]);
    expect(log.lines.some((l) => l.startsWith("info Mirror full round (USER_SYNC_FULL_SCHEDULE)"))).toBe(true);
    expect(await clients.store.getLease()).toBeUndefined();
  });

  it("a snapshot paused at its maximum run duration pauses the mirror's full round with it; the next run finishes both", async () => {
    // Slow /users pages: the run's maximum duration passes before the snapshot's first page arrives.
    const remove = world.tenant.intercept("graph", async (request) => {
      if (isUsersList(request.url.pathname)) await sleep(400);
      return undefined;
    });
    const later = new Date(Date.now() + 5 * DAY);
    let round: string | undefined;
    try {
      const paused = await service.runDue(log.logger, { trigger: "timer", now: later, runControl: { maxRunDurationInMs: 50 } });
      expect(paused.due).toEqual({ snapshot: "scheduled", mirrorFull: "scheduled" });
      expect(paused.snapshot).toMatchObject({ outcome: "paused", pausedBecause: "max_run_duration" });
      // The full round rides on the snapshot's pass: it pauses with it, and no incremental round runs in between.
      expect(paused.mirror).toMatchObject({ status: "paused", mode: "full", reason: "scheduled" });
      round = paused.mirror?.round;
    } finally {
      remove();
    }
    const continued = await service.runDue(log.logger, { trigger: "timer", now: later });
    expect(continued.due).toEqual({ snapshot: "continuing", mirrorFull: "scheduled" });
    expect(continued.snapshot?.outcome).toBe("completed");
    // The paused run had committed no page (its maximum duration passed before the first one):
    // nothing to continue, so the snapshot and the round start again, and the mirror's record says so.
    expect(continued.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "scheduled", counters: { roundRestarts: 1 } });
    expect(continued.mirror?.note).toMatch(/was abandoned: it stopped before committing its first page/);
    expect(round).toBeDefined();
    expect(continued.mirror?.round).not.toBe(round);
  });

  it("another run holding the writer lease: run_in_progress, having read and written nothing", async () => {
    const lease = await clients.store.acquireLease({ trigger: "cli" });
    try {
      const mirrorRuns = (await Array.fromAsync(clients.mirror.listRuns())).length;
      world.tenant.requests.reset();
      const error = await service.runDue(log.logger, { trigger: "timer", full: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isUserSyncError(error, "run_in_progress"), String(error)).toBe(true);
      expect(world.tenant.requests.count("graph")).toBe(0);
      expect((await Array.fromAsync(clients.mirror.listRuns())).length).toBe(mirrorRuns);
    } finally {
      await clients.store.releaseLease(lease);
    }
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = [...(await Array.fromAsync(clients.store.listRuns())), ...(await Array.fromAsync(clients.mirror.listRuns()))];
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
