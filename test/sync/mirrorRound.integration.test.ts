/**
 * UserSyncService.runMirrorRound through the real clients (Graph `/users` and `/users/delta` on the
 * simulated tenant, Tables on Azurite): a round of the mirror under the same lease lifecycle as
 * runDue, with a snapshot only where the mirror's round needs one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUserSyncError } from "../../src/shared/errors.js";
import { composeUserSync } from "../../src/app/syncService.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 300;
const DAY = 86_400_000;
let world: SyncEnvironment;
let service: UserSyncService;
let clients: AppClients;
const log = capturingLogger();

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, seed: 47 });
  world.useInProcess();
  ({ service, clients } = composeUserSync({ ...world.env, USER_SYNC_FULL_SCHEDULE: "0 0 2 * * *" }));
});
afterAll(async () => world?.close());

describe("runMirrorRound", () => {
  it("a mirror without a delta link: its full round is made in one pass with a snapshot run, under the lease, which is released", async () => {
    const hooked: Array<string | undefined> = [];
    const result = await service.runMirrorRound(log.logger, { trigger: "cli", underLease: async (lease) => void hooked.push(lease.runId) });
    expect(hooked).toHaveLength(1);
    expect(result.due).toEqual({ snapshot: "mirrorFullRound", mirrorFull: undefined });
    expect(result.snapshot).toMatchObject({ outcome: "completed", stats: { usersRead: USERS } });
    expect(result.mirror).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound" });
    expect(await clients.store.getLease()).toBeUndefined();
  });

  it("a snapshot and a full round due by schedule are left to the next due run: an incremental round only", async () => {
    world.tenant.changes.changeUser(7, { displayName: "Mirror Round" });
    world.tenant.requests.reset();
    const now = new Date(Date.now() + 2 * DAY);
    expect(await service.whatIsDue({ now })).toEqual({ snapshot: "scheduled", mirrorFull: "scheduled" });
    const result = await service.runMirrorRound(log.logger, { trigger: "cli", now });
    expect(result.due).toEqual({ snapshot: undefined, mirrorFull: undefined });
    expect(result.snapshot).toBeUndefined();
    expect(result.mirror).toMatchObject({ status: "succeeded", mode: "incremental", reason: "deltaLink", changes: { updated: 1 } });
    expect(world.tenant.requests.count("graph")).toBe(1);
    expect(await clients.store.getLease()).toBeUndefined();
  });

  it("while another run holds the lease: run_in_progress, having read and written nothing", async () => {
    const other = await clients.store.acquireLease({ trigger: "cli" });
    world.tenant.requests.reset();
    let error: unknown;
    try {
      await service.runMirrorRound(log.logger, { trigger: "cli" });
    } catch (e) {
      error = e;
    } finally {
      await clients.store.releaseLease(other);
    }
    expect(isUserSyncError(error, "run_in_progress"), String(error)).toBe(true);
    expect(world.tenant.requests.count("graph")).toBe(0);
  });
});
