import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { graphTokenFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

const USERS = 450;
const SELECT = ["id", "userPrincipalName", "displayName", "jobTitle", "mail"];
let tenant: SimulatedTenant;
let token: string;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: USERS, seed: 7 });
  token = await graphTokenFor(tenant);
});
afterAll(async () => tenant?.close());

const get = (url: string) => rawRequest("GET", url, { headers: { authorization: `Bearer ${token}` } });

interface Round {
  pages: Array<Array<Record<string, any>>>;
  deltaLink: string;
  links: string[];
}

/** Follows a round to its deltaLink. */
async function round(first: string): Promise<Round> {
  const pages: Round["pages"] = [];
  const links: string[] = [];
  let url: string = first;
  for (;;) {
    const response = await get(url);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.headers["x-ms-resource-unit"]).toBe("1");
    pages.push(response.body.value);
    const next = response.body["@odata.nextLink"] as string | undefined;
    const delta = response.body["@odata.deltaLink"] as string | undefined;
    expect(next === undefined).not.toBe(delta === undefined);
    if (delta !== undefined) return { pages, deltaLink: delta, links };
    links.push(next!);
    url = next!;
  }
}

/** A user as delta shows it: properties that were never set are left out (`/users` shows them as null). */
const unsetLeftOut = (user: Record<string, unknown>) => Object.fromEntries(Object.entries(user).filter(([key, value]) => value !== null || key === "id"));

const firstUrl = () => `${tenant.graphEndpoint}/v1.0/users/delta?$select=${SELECT.join(",")}&$top=999`;

describe("simulated Graph /users/delta", () => {
  let deltaLink: string;

  it("lists every user in a first round of about 200 per page whatever $top, repeating a user across pages, then a deltaLink", async () => {
    const result = await round(firstUrl());
    expect(result.pages.map((p) => p.length)).toEqual([200, 200, 52]);
    // Each page after the first starts with the last user of the page before.
    expect(result.pages[1]![0]).toEqual(result.pages[0]!.at(-1));
    expect(result.pages[2]![0]).toEqual(result.pages[1]!.at(-1));
    const ids = new Set(result.pages.flat().map((u) => u.id));
    expect(ids.size).toBe(USERS);
    expect(result.pages[0]![0]).toEqual(unsetLeftOut(tenant.directory.userAt(0, SELECT)));
    for (const user of result.pages.flat()) expect(Object.keys(user)).toEqual(SELECT.filter((p) => p in user));
    // Unset properties are left out, not sent as null.
    expect(result.pages.flat().some((u) => Object.keys(u).length < SELECT.length)).toBe(true);
    expect(result.pages.flat().every((u) => Object.values(u).every((v) => v !== null))).toBe(true);
    // Query options live in the tokens: the links carry only the token.
    for (const link of result.links) expect([...new URL(link).searchParams.keys()]).toEqual(["$skiptoken"]);
    expect([...new URL(result.deltaLink).searchParams.keys()]).toEqual(["$deltatoken"]);
    deltaLink = result.deltaLink;
  });

  it("returns nothing from the deltaLink when nothing changed", async () => {
    const result = await round(deltaLink);
    expect(result.pages).toEqual([[]]);
    deltaLink = result.deltaLink;
  });

  it("returns adds, changes, renames, soft and hard deletes and restores; ignores changes to unselected properties", async () => {
    const added = tenant.changes.addUser({ displayName: "New Person", jobTitle: "Engineer" });
    tenant.changes.changeUser(3, { jobTitle: "Chief Simulator", mail: null });
    tenant.changes.renameUser(4, `renamed.4@${tenant.tenantDomain}`);
    tenant.changes.softDeleteUser(5);
    tenant.changes.softDeleteUser(6);
    tenant.changes.hardDeleteUser(7);
    tenant.changes.changeUser(8, { department: "Not Selected" });
    const result = await round(deltaLink);
    const items = result.pages.flat();
    const byId = new Map(items.map((u) => [u.id, u]));
    expect(byId.get(added)).toMatchObject({ displayName: "New Person", jobTitle: "Engineer" });
    expect(byId.get(added)).not.toHaveProperty("mail");
    // A property cleared since the token was issued comes back as null.
    expect(byId.get(tenant.changes.userIdAt(3))).toEqual({ ...unsetLeftOut(tenant.directory.userAt(3, SELECT)), jobTitle: "Chief Simulator", mail: null });
    expect(byId.get(tenant.changes.userIdAt(4))?.userPrincipalName).toBe(`renamed.4@${tenant.tenantDomain}`);
    expect(byId.get(tenant.changes.userIdAt(5))).toEqual({ id: tenant.changes.userIdAt(5), "@removed": { reason: "changed" } });
    expect(byId.get(tenant.changes.userIdAt(7))).toEqual({ id: tenant.changes.userIdAt(7), "@removed": { reason: "deleted" } });
    expect(byId.has(tenant.changes.userIdAt(8))).toBe(false);
    expect(items).toHaveLength(6);
    deltaLink = result.deltaLink;

    tenant.changes.restoreUser(5);
    tenant.changes.hardDeleteUser(6);
    const next = (await round(deltaLink)).pages.flat();
    expect(next).toEqual([unsetLeftOut(tenant.directory.userAt(5, SELECT)), { id: tenant.changes.userIdAt(6), "@removed": { reason: "deleted" } }]);
  });

  it("leaves deleted users out of a first round and includes added ones", async () => {
    const ids = (await round(firstUrl())).pages.flat().map((u) => u.id);
    expect(new Set(ids).size).toBe(tenant.changes.presentUserCount());
    expect(ids).not.toContain(tenant.changes.userIdAt(6));
    expect(ids).not.toContain(tenant.changes.userIdAt(7));
    expect(ids).toContain(tenant.changes.userIdAt(5));
  });

  it("replays a change made during a round in the next round", async () => {
    const first = await get(firstUrl());
    tenant.changes.changeUser(400, { displayName: "Changed Mid-Round" });
    let url: string | undefined = first.body["@odata.nextLink"];
    let deltaLinkAfter = "";
    let seenInRound: Record<string, unknown> | undefined;
    while (url !== undefined) {
      const page = await get(url);
      seenInRound ??= page.body.value.find((u: any) => u.id === tenant.changes.userIdAt(400));
      deltaLinkAfter = page.body["@odata.deltaLink"] ?? "";
      url = page.body["@odata.nextLink"];
    }
    expect(seenInRound?.displayName).toBe("Changed Mid-Round");
    const again = (await round(deltaLinkAfter)).pages.flat();
    expect(again.map((u) => u.id)).toEqual([tenant.changes.userIdAt(400)]);
  });

  it("answers an expired token with 400 syncStateNotFound and an invalidated one with 410 Gone and a Location", async () => {
    const link = (await round(firstUrl())).deltaLink;
    tenant.changes.expireDeltaTokens();
    const expired = await get(link);
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe("syncStateNotFound");

    const fresh = (await round(firstUrl())).deltaLink;
    expect((await get(fresh)).status).toBe(200);
    tenant.changes.invalidateDeltaTokens();
    const gone = await get(fresh);
    expect(gone.status).toBe(410);
    const location = new URL(gone.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${tenant.graphEndpoint}/v1.0/users/delta`);
    expect(location.searchParams.get("$select")).toBe(SELECT.join(","));
    // Starting over at the Location works.
    expect((await get(gone.headers.location!)).status).toBe(200);
  });

  it("refuses altered tokens, a different $select with a token, and unsupported query options", async () => {
    const link = (await round(firstUrl())).deltaLink;
    const tampered = new URL(link);
    tampered.searchParams.set("$deltatoken", `${tampered.searchParams.get("$deltatoken")!.slice(0, -2)}AA`);
    expect((await get(tampered.toString())).status).toBe(400);
    expect((await get(`${link}&$select=id,displayName`)).status).toBe(400);
    expect((await get(`${tenant.graphEndpoint}/v1.0/users/delta?$orderby=displayName`)).status).toBe(400);
    expect((await get(`${tenant.graphEndpoint}/v1.0/users/delta?$select=id,noSuchProperty`)).body.error.code).toBe("Request_BadRequest");
    const skip = new URL(link);
    // A deltatoken is not a skiptoken.
    expect((await get(`${tenant.graphEndpoint}/v1.0/users/delta?$skiptoken=${skip.searchParams.get("$deltatoken")}`)).status).toBe(400);
    expect((await rawRequest("GET", firstUrl())).status).toBe(401);
  });

  it("gives only a deltaLink for $deltatoken=latest, which then returns later changes", async () => {
    const latest = await get(`${tenant.graphEndpoint}/v1.0/users/delta?$select=id,displayName&$deltatoken=latest`);
    expect(latest.body.value).toEqual([]);
    tenant.changes.changeUser(9, { displayName: "After Latest" });
    const result = (await round(latest.body["@odata.deltaLink"])).pages.flat();
    expect(result).toEqual([{ id: tenant.changes.userIdAt(9), displayName: "After Latest" }]);
  });
});
