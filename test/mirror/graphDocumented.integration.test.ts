/**
 * What real Graph does and the happy path never shows (issue 18), through the real clients: MSAL
 * tokens from the simulated tenant, Azure Core's pipeline to /users and /users/delta, the Tables
 * client on Azurite. Delta leaves out unset properties (the simulator's default), every documented
 * refusal of a saved token, `@removed` in a first round, empty pages, and selections the two
 * endpoints do not both accept.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { sameUserValues } from "../../src/graph/canonicalUser.js";
import { GraphUsersClient } from "../../src/graph/graphUsersClient.js";
import type { GraphUser } from "../../src/graph/types.js";
import { UserDeltaClient } from "../../src/graph/userDeltaClient.js";
import { toGraphObject, type MirrorUser } from "../../src/mirror/mirrorEntity.js";
import { runMirrorSync } from "../../src/mirror/mirrorSync.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import type { DeltaTokenRefusal, SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { graphTokenFor, msalClientFor, startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

const USERS = 600;
// Properties many generated users leave unset: delta leaves them out, /users sends null.
const SELECT = ["id", "userPrincipalName", "displayName", "jobTitle", "department", "mobilePhone", "officeLocation", "businessPhones", "employeeOrgData"];
let world: SyncEnvironment;
let mirror: UserMirrorClient;
const log = capturingLogger();

function tokenProvider(tenant: SimulatedTenant) {
  const msal = msalClientFor(tenant);
  return {
    async getToken(options?: { forceRefresh?: boolean }) {
      const result = await msal.acquireTokenByClientCredential({ scopes: [`${tenant.graphResource}/.default`], skipCache: options?.forceRefresh === true });
      return { token: result!.accessToken };
    },
  };
}
const clientOptions = (select: readonly string[]) => ({ graphEndpoint: world.tenant.graphEndpoint, select, retryOptions: { maxRetries: 1, retryDelayInMs: 10 }, tokenProvider: tokenProvider(world.tenant) });
const deltaClient = (select: readonly string[] = SELECT) => new UserDeltaClient(clientOptions(select));
const sync = (options: Parameters<typeof runMirrorSync>[1] = {}, select: readonly string[] = SELECT) => runMirrorSync({ delta: deltaClient(select), mirror, logger: log.logger }, options);

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, seed: 18 });
  mirror = new UserMirrorClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }), tablePrefix: "docs18" });
  await mirror.createTablesIfNotExist();
});
afterAll(async () => world?.close());
afterEach(() => Object.assign(world.tenant.changes.scenario, { omitUnset: true, firstRoundRemovals: false, emptyPages: false }));

const id = (index: number) => world.tenant.changes.userIdAt(index);
const pick = (user: GraphUser, select: readonly string[]) => Object.fromEntries(select.map((p) => [p, user[p] ?? null])) as GraphUser;

async function mirrorById(): Promise<Map<string, MirrorUser>> {
  const all = new Map<string, MirrorUser>();
  for await (const m of mirror.listUsers({ includeRemoved: true })) all.set(m.user.id, m);
  return all;
}
async function changeSet(runId: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for await (const c of mirror.listChanges(runId)) result[c.id] = c.reason ? `${c.change}:${c.reason}` : c.change;
  return result;
}

describe("one stored form for a user, whatever the endpoint", () => {
  it("stores every selected property of every user (null when delta left it out), as /users shows it", async () => {
    expect(world.tenant.changes.scenario.omitUnset).toBe(true);
    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound" });
    const users = await mirrorById();
    expect(users.size).toBe(USERS);
    let withUnset = 0;
    for (let i = 0; i < USERS; i++) {
      const expected = pick(world.tenant.changes.currentUser(i)!, SELECT);
      if (Object.values(expected).includes(null)) withUnset += 1;
      const stored = users.get(id(i))!;
      // Same values, same keys, same order: what export --current prints for every user.
      expect(JSON.stringify(toGraphObject(stored)), id(i)).toBe(JSON.stringify(expected));
    }
    // The test means something only if delta really left properties out.
    expect(withUnset).toBeGreaterThan(USERS / 2);
  });

  it("gives the same user from /users and from /users/delta", async () => {
    const snapshotReader = new GraphUsersClient(clientOptions(SELECT));
    const [firstPage] = await Array.fromAsync(snapshotReader.listUserPages(), (page) => page.users);
    const deltaPages = await Array.fromAsync(deltaClient().listDeltaPages());
    const fromDelta = new Map(deltaPages.flatMap((p) => p.items).flatMap((i) => (i.kind === "user" ? [[i.user.id, i.user] as const] : [])));
    for (const user of firstPage!) expect(JSON.stringify(fromDelta.get(user.id)), user.id).toBe(JSON.stringify(user));
  });

  it("reports exactly the 28 users whose values changed as updated, not those Graph returned unchanged", async () => {
    // Ten users stored the way an older version wrote them: unset properties absent, keys in another order.
    const current = await mirrorById();
    const legacy = Array.from({ length: 10 }, (_, k) => current.get(id(100 + k))!);
    await mirror.applyWrites(
      legacy.map((m) => {
        const reordered = Object.fromEntries(Object.entries(m.user).filter(([, v]) => v !== null).reverse()) as GraphUser;
        return { mode: "Replace" as const, mirrorUser: { ...m, user: reordered } };
      }),
    );
    // Twenty users Graph returns though nothing changed (a value written again, a replay): ten legacy, ten canonical.
    for (let i = 100; i < 120; i++) world.tenant.changes.changeUser(i, { displayName: world.tenant.changes.currentUser(i)!.displayName });
    // Twenty-eight real changes: a value set, a value cleared, a value that was unset now set.
    const changed: string[] = [];
    for (let i = 200; i < 228; i++) {
      const user = world.tenant.changes.currentUser(i)!;
      if (i % 3 === 0) world.tenant.changes.changeUser(i, { jobTitle: `Title ${i}` });
      else if (i % 3 === 1) world.tenant.changes.changeUser(i, { displayName: `Renamed ${i}`, mobilePhone: null });
      else world.tenant.changes.changeUser(i, { officeLocation: user.officeLocation === null ? `Room ${i}` : null });
      changed.push(id(i));
    }
    const run = await sync();
    expect(run).toMatchObject({ mode: "incremental", itemsRead: 48 });
    expect(run.changes).toEqual({ added: 0, updated: 28, restored: 0, removed: 0, unchanged: 20 });
    expect(Object.keys(await changeSet(run.runId)).sort()).toEqual([...changed].sort());
    const after = await mirrorById();
    // Changed users are rewritten in the canonical form; unchanged ones are left alone (no write), and say the same thing.
    for (let i = 200; i < 228; i++) expect(JSON.stringify(after.get(id(i))!.user), id(i)).toBe(JSON.stringify(pick(world.tenant.changes.currentUser(i)!, SELECT)));
    for (let i = 100; i < 120; i++) expect(sameUserValues(after.get(id(i))!.user, pick(world.tenant.changes.currentUser(i)!, SELECT)), id(i)).toBe(true);
    expect(Object.keys(after.get(id(100))!.user)).not.toEqual(SELECT);
  });
});

describe("a saved token Graph no longer accepts", () => {
  it.each([
    ["syncStateNotFound", "tokenExpired"],
    ["SyncStateInvalid", "tokenInvalid"],
    ["resyncRequired", "tokenResyncRequired"],
    ["badlyFormed", "tokenMalformed"],
    ["410 Gone", "tokenGone"],
  ] as const)("%s leads to a full round, and the run record says %s", async (answer, reason) => {
    world.tenant.changes.changeUser(300, { jobTitle: `After ${answer}` });
    if (answer === "410 Gone") world.tenant.changes.invalidateDeltaTokens();
    else world.tenant.changes.expireDeltaTokens(answer as DeltaTokenRefusal);
    const run = await sync();
    expect(run).toMatchObject({ status: "succeeded", mode: "full", reason, swept: 0 });
    expect(run.counters.deltaRestarts).toBe(1);
    expect(log.lines.at(-1)).toMatch(/Starting a full round of the mirror/);
    const [recorded] = await Array.fromAsync(mirror.listRuns({ maxResults: 1 }));
    expect(recorded).toMatchObject({ runId: run.runId, mode: "full", reason, status: "succeeded" });
    expect((await mirrorById()).get(id(300))!.user.jobTitle).toBe(`After ${answer}`);
    // The new token works: the next run is incremental again.
    expect(await sync()).toMatchObject({ mode: "incremental", reason: "deltaLink", itemsRead: 0 });
  });

  it("anything else still fails the run with today's message, and the delta link stays", async () => {
    const before = (await mirror.getDeltaState())!.state.deltaLink;
    const remove = world.tenant.intercept("graph", (request) =>
      request.url.pathname.endsWith("/delta")
        ? { status: 400, headers: { "content-type": "application/json" }, body: { error: { code: "Request_BadRequest", message: "Could not find a property named 'noSuch' on type 'microsoft.graph.user'." } } }
        : undefined,
    );
    try {
      await expect(sync()).rejects.toMatchObject({ code: "graph_request_failed", message: expect.stringContaining("fix USER_SYNC_SELECT") });
    } finally {
      remove();
    }
    const [failed] = await Array.fromAsync(mirror.listRuns({ maxResults: 1 }));
    expect(failed).toMatchObject({ status: "failed", mode: "incremental", reason: "deltaLink" });
    expect((await mirror.getDeltaState())!.state.deltaLink).toBe(before);
  });
});

describe("other documented behaviours", () => {
  it("applies @removed entries of a first round: a user deleted since the last round is soft-deleted, not missing", async () => {
    world.tenant.changes.scenario.firstRoundRemovals = true;
    world.tenant.changes.softDeleteUser(400);
    const run = await sync({ full: "forced" });
    expect(run).toMatchObject({ mode: "full", reason: "forced", swept: 0 });
    expect(run.changes.removed).toBe(1);
    expect(await changeSet(run.runId)).toEqual({ [id(400)]: "removed:changed" });
    const user = (await mirrorById()).get(id(400))!;
    expect(user).toMatchObject({ state: "softDeleted" });
    expect(user.user.userPrincipalName).toBe(world.tenant.directory.userAt(400, ["userPrincipalName"]).userPrincipalName);
    world.tenant.changes.restoreUser(400);
    const restored = await sync();
    expect(await changeSet(restored.runId)).toEqual({ [id(400)]: "restored" });
  });

  it("reads through empty pages that carry a nextLink, in full and incremental rounds", async () => {
    world.tenant.changes.scenario.emptyPages = true;
    world.tenant.changes.changeUser(410, { department: "Empty Pages" });
    world.tenant.changes.changeUser(411, { department: "Empty Pages" });
    const incremental = await sync();
    expect(incremental).toMatchObject({ mode: "incremental", pages: 2, itemsRead: 2 });
    expect(incremental.changes).toMatchObject({ updated: 2, unchanged: 0 });
    const full = await sync({ full: "forced" });
    expect(full).toMatchObject({ mode: "full", swept: 0, pages: 8 });
    expect((await mirrorById()).get(id(411))!.user.department).toBe("Empty Pages");
  });

  it("reads signInActivity in snapshots only: the mirror's $select leaves it out and says so", async () => {
    const select = [...SELECT, "signInActivity"];
    expect(deltaClient(select).select).toEqual(SELECT);
    // Same delta $select as before: the token stays good, no full round is forced by the setting.
    expect(await sync({}, select)).toMatchObject({ status: "succeeded", mode: "incremental" });
    const full = await sync({ full: "forced" }, select);
    expect(full.select).toEqual(SELECT);
    expect(log.lines.some((l) => l.includes("signInActivity is read by snapshots only") && l.includes("AuditLog.Read.All"))).toBe(true);
  });
});

describe("the snapshot reader and selections /users does not accept", () => {
  it("explains a 501 for a property Graph lists only for a single user", async () => {
    const reader = new GraphUsersClient(clientOptions(["id", "displayName", "aboutMe"]));
    await expect(Array.fromAsync(reader.listUserPages())).rejects.toMatchObject({ code: "graph_request_failed", message: expect.stringMatching(/501.*only for a single user.*USER_SYNC_SELECT/s) });
  });

  it("names AuditLog.Read.All when Graph refuses signInActivity, and reads 500 a page with it", async () => {
    const reader = new GraphUsersClient(clientOptions(["id", "displayName", "signInActivity"]));
    expect(new URL(reader.firstPageUrl).searchParams.get("$top")).toBe("500");
    await expect(Array.fromAsync(reader.listUserPages())).rejects.toMatchObject({ code: "graph_forbidden", message: expect.stringContaining("User.Read.All and AuditLog.Read.All") });

    const granted = await startTrustedSimulatedTenant({ userCount: 1_100, seed: 18, grantAuditLogReadAll: true });
    try {
      const token = await graphTokenFor(granted);
      const grantedReader = new GraphUsersClient({ graphEndpoint: granted.graphEndpoint, select: ["id", "displayName", "signInActivity"], tokenProvider: { getToken: async () => ({ token }) } });
      const pages = await Array.fromAsync(grantedReader.listUserPages());
      expect(pages.map((p) => p.users.length)).toEqual([500, 500, 100]);
      const users = pages.flatMap((p) => p.users);
      expect(users.every((u) => Object.keys(u).join(",") === "id,displayName,signInActivity")).toBe(true);
      expect(users.some((u) => u.signInActivity === null) && users.some((u) => u.signInActivity !== null)).toBe(true);
    } finally {
      await granted.close();
    }
  });
});
