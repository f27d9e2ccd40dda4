/**
 * The simulated Graph does what Microsoft documents for `/users` and `/users/delta` beyond the happy
 * path (issue 18): each refusal of a saved token, `@removed` in first rounds, empty pages with a
 * nextLink, `manager@delta`, 501 for properties returned only for a single user, and signInActivity
 * (500 a page, AuditLog.Read.All, refused by delta).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { graphTokenFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

const USERS = 250;
let tenant: SimulatedTenant;
let token: string;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: USERS, seed: 21 });
  token = await graphTokenFor(tenant);
});
afterAll(async () => tenant?.close());
afterEach(() => Object.assign(tenant.changes.scenario, { omitUnset: true, firstRoundRemovals: false, emptyPages: false }));

const get = (url: string) => rawRequest("GET", url, { headers: { authorization: `Bearer ${token}` } });
const deltaUrl = (select: string) => `${tenant.graphEndpoint}/v1.0/users/delta?$select=${select}`;

async function round(first: string): Promise<{ pages: Array<Array<Record<string, any>>>; deltaLink: string }> {
  const pages: Array<Array<Record<string, any>>> = [];
  let url = first;
  for (let i = 0; i < 50; i++) {
    const response = await get(url);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    pages.push(response.body.value);
    if (response.body["@odata.deltaLink"]) return { pages, deltaLink: response.body["@odata.deltaLink"] };
    url = response.body["@odata.nextLink"];
  }
  throw new Error("round did not end");
}

describe("simulated Graph: refused delta tokens", () => {
  it.each([
    ["syncStateNotFound", "syncStateNotFound"],
    ["SyncStateInvalid", "SyncStateInvalid"],
    ["resyncRequired", "resyncRequired"],
    ["badlyFormed", "Request_BadRequest"],
  ] as const)("answers %s with 400 and Graph's code, while a new round still works", async (answer, code) => {
    const { deltaLink } = await round(deltaUrl("id,displayName"));
    tenant.changes.expireDeltaTokens(answer);
    const refused = await get(deltaLink);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe(code);
    if (answer === "badlyFormed") expect(refused.body.error.message).toMatch(/badly formed token/i);
    expect((await round(deltaUrl("id,displayName"))).pages.flat().length).toBeGreaterThanOrEqual(USERS);
  });
});

describe("simulated Graph: delta items", () => {
  it("lists soft-deleted users as @removed in a first round when the scenario asks, and not otherwise", async () => {
    const id = tenant.changes.userIdAt(10);
    tenant.changes.softDeleteUser(10);
    const without = (await round(deltaUrl("id,displayName"))).pages.flat();
    expect(without.some((u) => u.id === id)).toBe(false);
    tenant.changes.scenario.firstRoundRemovals = true;
    const withRemovals = (await round(deltaUrl("id,displayName"))).pages.flat();
    expect(withRemovals.filter((u) => u.id === id)).toEqual([{ id, "@removed": { reason: "changed" } }]);
    tenant.changes.restoreUser(10);
  });

  it("puts an empty page with a nextLink before every page when the scenario asks", async () => {
    tenant.changes.scenario.emptyPages = true;
    const first = await round(deltaUrl("id,displayName"));
    expect(first.pages.map((p) => p.length)).toEqual([0, 200, 0, 51]);
    tenant.changes.changeUser(3, { displayName: "After Empty Pages" });
    const next = await round(first.deltaLink);
    expect(next.pages).toEqual([[], [{ id: tenant.changes.userIdAt(3), displayName: "After Empty Pages" }]]);
  });

  it("keeps unset properties as null when omitUnset is off", async () => {
    tenant.changes.scenario.omitUnset = false;
    const users = (await round(deltaUrl("id,displayName,faxNumber"))).pages.flat();
    expect(users.every((u) => "faxNumber" in u && u.faxNumber === null)).toBe(true);
    tenant.changes.scenario.omitUnset = true;
    const omitted = (await round(deltaUrl("id,displayName,faxNumber"))).pages.flat();
    expect(omitted.some((u) => "faxNumber" in u)).toBe(false);
  });

  it("annotates users with manager@delta (ids only) when manager is selected", async () => {
    const users = (await round(deltaUrl("id,displayName,manager"))).pages.flat();
    const user17 = users.find((u) => u.id === tenant.changes.userIdAt(17))!;
    expect(user17["manager@delta"]).toEqual([{ "@odata.type": "#microsoft.graph.user", id: tenant.changes.userIdAt(2) }]);
    expect(users.find((u) => u.id === tenant.changes.userIdAt(0))).not.toHaveProperty("manager@delta");
    expect(user17).not.toHaveProperty("manager");
  });

  it("refuses signInActivity (400) and answers 501 for a property Graph returns only for a single user", async () => {
    const signIn = await get(deltaUrl("id,signInActivity"));
    expect(signIn.status).toBe(400);
    expect(signIn.body.error.message).toContain("signInActivity");
    const aboutMe = await get(deltaUrl("id,aboutMe"));
    expect(aboutMe.status).toBe(501);
    expect(aboutMe.body.error.code).toBe("NotImplemented");
  });
});

describe("simulated Graph: /users and its selection", () => {
  it("answers 501 NotImplemented for properties returned only for a single user", async () => {
    for (const property of ["aboutMe", "skills", "mailboxSettings", "hireDate", "birthday"]) {
      const response = await get(`${tenant.graphEndpoint}/v1.0/users?$select=id,${property}`);
      expect(response.status, property).toBe(501);
      expect(response.body.error.code).toBe("NotImplemented");
    }
  });

  it("needs AuditLog.Read.All for signInActivity and refuses more than 500 a page with it", async () => {
    const denied = await get(`${tenant.graphEndpoint}/v1.0/users?$select=id,signInActivity&$top=500`);
    expect(denied.status).toBe(403);
    const granted = await startTrustedSimulatedTenant({ userCount: 20, seed: 21, grantAuditLogReadAll: true });
    try {
      const grantedToken = await graphTokenFor(granted);
      const read = (top: number) => rawRequest("GET", `${granted.graphEndpoint}/v1.0/users?$select=id,signInActivity&$top=${top}`, { headers: { authorization: `Bearer ${grantedToken}` } });
      expect((await read(501)).status).toBe(400);
      const page = await read(500);
      expect(page.status).toBe(200);
      expect(page.body.value).toHaveLength(20);
      expect(page.body.value.some((u: any) => typeof u.signInActivity?.lastSignInDateTime === "string")).toBe(true);
      expect(page.body.value.some((u: any) => u.signInActivity === null)).toBe(true);
    } finally {
      await granted.close();
    }
  });
});
