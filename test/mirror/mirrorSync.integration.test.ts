/**
 * The live mirror through the real clients: MSAL tokens from the simulated tenant, Azure Core's
 * pipeline to its /users/delta, and the Tables client on Azurite. Runs follow each other as the
 * directory changes between them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { UserDeltaClient } from "../../src/graph/userDeltaClient.js";
import { toGraphObject, type MirrorUser } from "../../src/mirror/mirrorEntity.js";
import { runMirrorSync } from "../../src/mirror/mirrorSync.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { msalClientFor } from "../support/simulatedTenant.js";

const USERS = 1_000;
const SELECT = ["id", "userPrincipalName", "displayName", "jobTitle", "mail", "department", "businessPhones"];
let world: SyncEnvironment;
let mirror: UserMirrorClient;
const log = capturingLogger();

function deltaClient(select: readonly string[]): UserDeltaClient {
  const msal = msalClientFor(world.tenant);
  return new UserDeltaClient({
    graphEndpoint: world.tenant.graphEndpoint,
    select,
    retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    tokenProvider: {
      async getToken(options) {
        const result = await msal.acquireTokenByClientCredential({ scopes: [`${world.tenant.graphResource}/.default`], skipCache: options?.forceRefresh === true });
        return { token: result!.accessToken };
      },
    },
  });
}

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, seed: 11 });
  mirror = new UserMirrorClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }), tablePrefix: "test" });
  await mirror.createTablesIfNotExist();
});
afterAll(async () => world?.close());

const pick = (user: GraphUser, select: readonly string[]) => Object.fromEntries(select.map((p) => [p, user[p] ?? null])) as GraphUser;
const id = (index: number) => world.tenant.changes.userIdAt(index);

async function mirrorById(): Promise<Map<string, MirrorUser>> {
  const all = new Map<string, MirrorUser>();
  for await (const m of mirror.listUsers({ includeRemoved: true })) all.set(m.user.id, m);
  return all;
}

/** The mirror's present users equal the directory now, property by property, key order included. */
async function expectMirrorEqualsDirectory(select: readonly string[], addedIds: readonly string[] = []): Promise<void> {
  const present = new Map<string, GraphUser>();
  for await (const m of mirror.listUsers()) present.set(m.user.id, m.user);
  const expected: Array<[string, GraphUser]> = [];
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.changes.currentUser(i);
    if (user) expected.push([user.id, pick(user, select)]);
  }
  for (const added of addedIds) {
    const user = world.tenant.changes.currentUser(added);
    if (user) expected.push([added, pick(user, select)]);
  }
  const mismatches = expected.filter(([key, user]) => JSON.stringify(present.get(key)) !== JSON.stringify(user)).map(([key]) => key);
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(present.size).toBe(expected.length);
}

async function changeSet(runId: string) {
  const result: Record<string, string> = {};
  for await (const c of mirror.listChanges(runId)) result[c.id] = c.reason ? `${c.change}:${c.reason}` : c.change;
  return result;
}

describe("the live mirror", () => {
  const added: string[] = [];

  it("seeds the mirror with a first full round and saves the deltaLink bound to the $select", async () => {
    world.tenant.requests.reset();
    const run = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    // About 200 per page, and each page after the first repeats the last user of the page before.
    expect(run).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound", swept: 0, pages: 6, itemsRead: USERS + 5 });
    expect(run.usersWritten).toBe(run.itemsRead);
    expect(world.tenant.requests.count("graph")).toBe(6);
    const state = await mirror.getDeltaState();
    expect(state?.state.select).toEqual(SELECT);
    expect(state?.state.deltaLink).toContain("/v1.0/users/delta?$deltatoken=");
    await expectMirrorEqualsDirectory(SELECT);
  });

  it("reads only what changed: adds, updates, a cleared value, a UPN rename, soft and hard deletes", async () => {
    const before = await mirrorById();
    added.push(world.tenant.changes.addUser({ displayName: "Nia New", jobTitle: "Analyst", department: "Finance" }));
    world.tenant.changes.changeUser(10, { jobTitle: "Principal Engineer" });
    world.tenant.changes.changeUser(11, { department: null, businessPhones: [] });
    world.tenant.changes.renameUser(12, `renamed.twelve@${world.tenant.tenantDomain}`);
    world.tenant.changes.softDeleteUser(13);
    world.tenant.changes.hardDeleteUser(14);
    world.tenant.requests.reset();

    const run = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });

    expect(run).toMatchObject({ mode: "incremental", reason: "deltaLink", pages: 1, itemsRead: 6, usersWritten: 0 });
    expect(run.changes).toEqual({ added: 1, updated: 3, restored: 0, removed: 2, unchanged: 0 });
    expect(world.tenant.requests.count("graph")).toBe(1);
    expect(await changeSet(run.runId)).toEqual({
      [added[0]!]: "added",
      [id(10)]: "updated",
      [id(11)]: "updated",
      [id(12)]: "updated",
      [id(13)]: "removed:changed",
      [id(14)]: "removed:deleted",
    });
    const after = await mirrorById();
    // A cleared value is cleared (Replace, not Merge).
    expect(after.get(id(11))!.user.department).toBeNull();
    expect(after.get(id(11))!.user.businessPhones).toEqual([]);
    expect(before.get(id(11))!.user.department).not.toBeNull();
    expect(after.get(id(12))!.user.userPrincipalName).toBe(`renamed.twelve@${world.tenant.tenantDomain}`);
    // Removed users keep their last known properties, with their state and when it was seen.
    expect(after.get(id(13))).toMatchObject({ state: "softDeleted", user: before.get(id(13))!.user });
    expect(after.get(id(14))).toMatchObject({ state: "deleted", user: before.get(id(14))!.user });
    expect(after.get(id(13))!.removedAt).toBeInstanceOf(Date);
    expect(toGraphObject(after.get(id(14))!)["@removed"]).toMatchObject({ reason: "deleted" });
    await expectMirrorEqualsDirectory(SELECT, added);
  });

  it("brings a restored user back, and moves a soft-deleted user to deleted when it is purged", async () => {
    world.tenant.changes.restoreUser(13);
    world.tenant.changes.softDeleteUser(15);
    const first = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(await changeSet(first.runId)).toEqual({ [id(13)]: "restored", [id(15)]: "removed:changed" });
    expect((await mirrorById()).get(id(13))).toMatchObject({ state: "present" });

    world.tenant.changes.hardDeleteUser(15);
    const second = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(await changeSet(second.runId)).toEqual({ [id(15)]: "removed:deleted" });
    expect((await mirrorById()).get(id(15))).toMatchObject({ state: "deleted" });
    await expectMirrorEqualsDirectory(SELECT, added);
  });

  it("ignores changes to properties it does not select (Graph does not report them)", async () => {
    world.tenant.changes.changeUser(16, { city: "Nowhere" });
    const run = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(run.itemsRead).toBe(0);
    expect(await changeSet(run.runId)).toEqual({});
  });

  it("gives the same mirror when the same changes are applied twice (a replayed round)", async () => {
    const saved = (await mirror.getDeltaState())!;
    world.tenant.changes.changeUser(20, { displayName: "Replayed Once" });
    world.tenant.changes.softDeleteUser(21);
    added.push(world.tenant.changes.addUser({ displayName: "Replay Added" }));
    const first = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(first.changes).toMatchObject({ added: 1, updated: 1, removed: 1 });
    const afterFirst = await mirrorById();

    // Put the older deltaLink back: the next run reads the same changes again.
    const current = (await mirror.getDeltaState())!;
    await mirror.saveDeltaState({ ...current.state, deltaLink: saved.state.deltaLink! }, current);
    const replay = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });

    expect(replay.itemsRead).toBe(first.itemsRead);
    expect(replay.changes).toEqual({ added: 0, updated: 0, restored: 0, removed: 0, unchanged: first.itemsRead });
    const afterReplay = await mirrorById();
    expect(afterReplay.size).toBe(afterFirst.size);
    for (const [key, value] of afterFirst) expect(afterReplay.get(key), key).toEqual(value);
  });

  it("drops the token and runs a full round when USER_SYNC_SELECT changes", async () => {
    const newSelect = [...SELECT, "city"];
    const run = await runMirrorSync({ delta: deltaClient(newSelect), mirror, logger: log.logger });
    expect(run).toMatchObject({ mode: "full", reason: "selectChanged", swept: 0 });
    expect((await mirror.getDeltaState())?.state.select).toEqual(newSelect);
    await expectMirrorEqualsDirectory(newSelect, added);
    expect((await mirrorById()).get(id(16))!.user.city).toBe("Nowhere");
  });

  it("runs a full round on an expired token (400 syncStateNotFound), marking users it no longer sees as missing", async () => {
    const select = [...SELECT, "city"];
    world.tenant.changes.hardDeleteUser(30); // never reported: the token expires first
    world.tenant.changes.expireDeltaTokens();
    const run = await runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger });
    expect(run).toMatchObject({ status: "succeeded", mode: "full", reason: "tokenExpired", swept: 1 });
    expect(run.counters.deltaRestarts).toBe(1);
    expect(await changeSet(run.runId)).toEqual({ [id(30)]: "removed:notSeen" });
    const thirty = (await mirrorById()).get(id(30))!;
    expect(thirty.state).toBe("missing");
    expect(toGraphObject(thirty)["@removed"]).toMatchObject({ reason: "notSeen" });
    // Users already removed keep their state through the sweep.
    expect((await mirrorById()).get(id(14))!.state).toBe("deleted");
    await expectMirrorEqualsDirectory(select, added);
    const [recorded] = await Array.fromAsync(mirror.listRuns({ maxResults: 1 }));
    expect(recorded).toMatchObject({ runId: run.runId, mode: "full", reason: "tokenExpired", status: "succeeded" });
  });

  it("runs a full round on 410 Gone and says so in the run record", async () => {
    const select = [...SELECT, "city"];
    world.tenant.changes.invalidateDeltaTokens();
    const run = await runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger });
    expect(run).toMatchObject({ mode: "full", reason: "tokenGone", swept: 0 });
    const next = await runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger });
    expect(next).toMatchObject({ mode: "incremental", itemsRead: 0 });
  });

  it("runs a full round when forced, and records a failed run with its reason without moving the deltaLink", async () => {
    const select = [...SELECT, "city"];
    const forced = await runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger }, { full: "forced" });
    expect(forced).toMatchObject({ mode: "full", reason: "forced" });
    const before = (await mirror.getDeltaState())!.state.deltaLink;
    world.tenant.changes.changeUser(40, { jobTitle: "Never Stored" });
    const remove = world.tenant.intercept("graph", (request) =>
      request.url.pathname.endsWith("/delta") ? { status: 403, headers: { "content-type": "application/json" }, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } } : undefined,
    );
    try {
      await expect(runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger })).rejects.toMatchObject({ code: "graph_forbidden" });
    } finally {
      remove();
    }
    expect((await mirror.getDeltaState())!.state.deltaLink).toBe(before);
    const [failed] = await Array.fromAsync(mirror.listRuns({ maxResults: 1 }));
    expect(failed).toMatchObject({ status: "failed", mode: "incremental" });
    expect(failed!.error).toContain("User.Read.All");
    const recovered = await runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger });
    expect(await changeSet(recovered.runId)).toEqual({ [id(40)]: "updated" });
  });

  it("never wrote a token or connection string to its logs or run records", async () => {
    const runs = await Array.fromAsync(mirror.listRuns());
    expectNoSecrets([...log.lines, JSON.stringify(runs)].join("\n"), [world.azurite.connectionString]);
  });

  it("skips a user it cannot store, records it on the run, and keeps taking every other change", async () => {
    // About 2 MB of phone numbers: more than a table entity (1 MiB) can hold.
    const huge = Array.from({ length: 9_000 }, (_, i) => `+1 555 ${String(i).padStart(6, "0")} ${"x".repeat(100)}`);
    world.tenant.changes.changeUser(600, { businessPhones: huge });
    world.tenant.changes.changeUser(601, { jobTitle: "Still synced" });
    const run = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(run.status).toBe("succeeded");
    expect(run.counters.skippedUsers).toBe(1);
    expect(run.skipped?.[0]?.id).toBe(id(600));
    expect(run.skipped?.[0]?.reason).toMatch(/1 MiB|too large|size/i);
    expect((await mirrorById()).get(id(601))!.user.jobTitle).toBe("Still synced");
    const recorded = (await Array.fromAsync(mirror.listRuns({ maxResults: 1 })))[0]!;
    expect(recorded.skipped?.map((u) => u.id)).toEqual([id(600)]);
    expect((await mirror.skippedSinceFullRound()).count).toBe(1);

    // The mirror keeps taking changes; once the user fits again, it is stored.
    world.tenant.changes.changeUser(600, { businessPhones: ["+1 555 0100"] });
    world.tenant.changes.changeUser(602, { jobTitle: "Next change" });
    const next = await runMirrorSync({ delta: deltaClient(SELECT), mirror, logger: log.logger });
    expect(next.status).toBe("succeeded");
    expect(next.counters.skippedUsers ?? 0).toBe(0);
    const after = await mirrorById();
    expect(after.get(id(600))!.user.businessPhones).toEqual(["+1 555 0100"]);
    expect(after.get(id(602))!.user.jobTitle).toBe("Next change");
  });
});
