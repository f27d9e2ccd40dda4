/**
 * Paging loops end to end: the simulated Graph answers with an `@odata.nextLink` that points back at
 * an earlier page (a cycle of 1, 2 or 3 pages, repeated lap after lap as a broken service would), on
 * `/users` (a snapshot run through UserSyncService) and on `/users/delta` (a mirror round). The run
 * fails with the reason before it requests any page twice, records it, and leaves the latest
 * snapshot, the mirror and its saved delta link as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMirrorSync } from "../../src/mirror/mirrorSync.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import type { GraphFaultStep } from "../../tools/simulated-tenant/faults.js";
import { capturingLogger, expectSnapshotEqualsDirectory, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { expectLatestSnapshot, failingRun, lastRun } from "../support/graphFaultRuns.js";

const USERS = 2_100; // /users: three pages (999, 999, 102); /users/delta: eleven pages of about 200
const LAPS = 20; // how many times the cycle is offered again: a reader that followed it would make about 20 × its length requests
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();
let latestSnapshotId: string;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, seed: 23 });
  world.useInProcess();
  ({ service, clients } = composeUserSync(world.env));
  const { run } = await service.runSync(log.logger, { trigger: "cli" });
  latestSnapshotId = run.snapshotId;
  await runMirrorSync({ delta: clients.delta, mirror: clients.mirror, logger: log.logger });
});
afterAll(async () => world?.close());

/**
 * Steps that make page `from` point back at page `from - length + 1`, and, should a reader follow
 * it, make the cycle come round again and again.
 */
function cycle(length: number, from: number): GraphFaultStep[] {
  const back: GraphFaultStep = { nextLinkBack: length - 1 };
  const lap: GraphFaultStep[] = [...Array.from({ length: length - 1 }, () => ({})), back];
  return [...Array.from({ length: from - 1 }, () => ({})), back, ...Array.from({ length: LAPS }, () => lap).flat()];
}

const cases: Array<[length: number, from: number, repeated: string]> = [
  [1, 2, "itself (page 2)"],
  [2, 3, "page 2, already read in this pass (a cycle of 2 pages)"],
  [3, 3, "page 1, already read in this pass (a cycle of 3 pages)"],
];

describe("a paging loop on /users", () => {
  it.each(cases)("fails the snapshot run at a cycle of %i page(s), requesting no page twice", async (length, from, repeated) => {
    const before = world.tenant.requests.count("graph");
    const script = world.tenant.faults.graph.script(cycle(length, from));
    const error = await failingRun(service, log.logger);
    const requests = world.tenant.requests.count("graph") - before;
    script.cancel();

    expect(error.code).toBe("graph_bad_response");
    expect(error.message).toBe(`Graph page ${from}'s @odata.nextLink points back at ${repeated}; the run stopped instead of looping, and no snapshot from it will be promoted.`);
    expect(error.details).toMatchObject({ reason: "repeated_link", pageNumber: from });
    expect(requests).toBe(from);
    const recorded = await lastRun(clients);
    expect(recorded.status).toBe("failed");
    expect(recorded.error).toContain(`points back at ${repeated}`);
    await expectLatestSnapshot(clients, latestSnapshotId, USERS);
  });

  it("stops a resumed run at a link its earlier part read before the pause (the link digests are checkpointed)", async () => {
    // The first run pauses once page 1 is committed.
    const stop = new AbortController();
    const paused = await service.runSync(log.logger, { trigger: "cli", abortSignal: stop.signal, onProgress: () => stop.abort() });
    expect(paused.outcome).toBe("paused");
    const checkpoint = (await clients.store.getRun(paused.run.runId))!.checkpoint!;
    expect(checkpoint.linkDigests).toHaveLength(1);
    // Resumed, page 2 points back at page 1: a link the resumed process never requested itself.
    const before = world.tenant.requests.count("graph");
    const script = world.tenant.faults.graph.script([{ nextLink: clients.users.firstPageUrl }]);
    const error = await failingRun(service, log.logger);
    script.cancel();
    expect(error.code).toBe("graph_bad_response");
    expect(error.details).toMatchObject({ reason: "repeated_link", repeatedBeforeResume: true });
    expect(error.message).toContain("already read before this run paused");
    expect(world.tenant.requests.count("graph") - before).toBe(1);
    expect((await clients.store.getRun(paused.run.runId))?.status).toBe("failed");
    await expectLatestSnapshot(clients, latestSnapshotId, USERS);
  });

  it("completes the next run, equal to the directory", async () => {
    const { run } = await service.runSync(log.logger, { trigger: "cli" });
    await expectSnapshotEqualsDirectory(world.tenant, clients, run.snapshotId, USERS);
  });
});

describe("a paging loop on /users/delta", () => {
  async function failingRound(): Promise<UserSyncError> {
    try {
      await runMirrorSync({ delta: clients.delta, mirror: clients.mirror, logger: log.logger }, { full: "forced" });
    } catch (error) {
      if (isUserSyncError(error)) return error;
      throw error;
    }
    throw new Error("expected the mirror's round to fail");
  }

  it.each(cases)("fails the mirror's round at a cycle of %i page(s), requesting no page twice and keeping the saved delta link", async (length, from, repeated) => {
    const saved = await clients.mirror.getDeltaState();
    const before = world.tenant.requests.count("graph");
    const script = world.tenant.faults.graph.script(cycle(length, from));
    const error = await failingRound();
    const requests = world.tenant.requests.count("graph") - before;
    script.cancel();

    expect(error.code).toBe("graph_bad_response");
    expect(error.message).toBe(`Graph delta page ${from}'s @odata.nextLink points back at ${repeated}; the run stopped instead of looping, and its delta link was not saved.`);
    expect(requests).toBe(from);
    const [recorded] = await Array.fromAsync(clients.mirror.listRuns({ maxResults: 1 }));
    expect(recorded).toMatchObject({ status: "failed", mode: "full", pages: from });
    expect(recorded!.error).toContain(`points back at ${repeated}`);
    expect((await clients.mirror.getDeltaState())?.state).toEqual(saved?.state);
  });

  it("completes the next round, equal to the directory", async () => {
    const run = await runMirrorSync({ delta: clients.delta, mirror: clients.mirror, logger: log.logger });
    expect(run.status).toBe("succeeded");
    const present = new Map<string, unknown>();
    for await (const m of clients.mirror.listUsers()) present.set(m.user.id, m.user);
    const expected = [...world.tenant.directory.users(clients.settings.select)];
    expect(present.size).toBe(expected.length);
    expect(expected.filter((user) => JSON.stringify(present.get(user.id)) !== JSON.stringify(user)).map((u) => u.id).slice(0, 5)).toEqual([]);
  });
});
