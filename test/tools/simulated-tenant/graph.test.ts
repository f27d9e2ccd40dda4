import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../../src/configuration/settings.js";
import { GRAPH_DEFAULT_USER_PROPERTIES, type SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { graphTokenFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

let tenant: SimulatedTenant;
let token: string;
let noConsent: SimulatedTenant;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 2_500, seed: 42 });
  token = await graphTokenFor(tenant);
  noConsent = await startTrustedSimulatedTenant({ userCount: 10, grantUserReadAll: false });
});
afterAll(async () => {
  await tenant?.close();
  await noConsent?.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });

function expectGraphError(response: { status: number; body: any }, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.body.error.code).toBe(code);
  expect(typeof response.body.error.message).toBe("string");
  expect(response.body.error.innerError["request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  expect(response.body.error.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
}

describe("simulated Graph /users", () => {
  it("pages 2,500 users with $top=999 in three pages, every generated user exactly once, in order", async () => {
    tenant.requests.reset();
    const select = [...DEFAULT_SELECT];
    let url: string | undefined = `${tenant.graphEndpoint}/v1.0/users?$select=${select.join(",")}&$top=999`;
    const sizes: number[] = [];
    const seen: string[] = [];
    let index = 0;
    while (url !== undefined) {
      const page = await rawRequest("GET", url, { headers: auth() });
      expect(page.status).toBe(200);
      expect(page.headers["x-ms-resource-unit"]).toBe("1");
      expect(page.body["@odata.context"]).toBe(`${tenant.graphEndpoint}/v1.0/$metadata#users(${select.join(",")})`);
      sizes.push(page.body.value.length);
      for (const user of page.body.value) {
        expect(user).toEqual(tenant.directory.userAt(index, select));
        expect(Object.keys(user)).toEqual(select);
        seen.push(user.id);
        index++;
      }
      url = page.body["@odata.nextLink"];
      if (url !== undefined) {
        expect(url.startsWith(`${tenant.graphEndpoint}/v1.0/users?`)).toBe(true);
        expect(new URL(url).searchParams.get("$skiptoken")).toMatch(/^[A-Za-z0-9_-]+$/);
      }
    }
    expect(sizes).toEqual([999, 999, 502]);
    expect(new Set(seen).size).toBe(2_500);
    expect(seen).toEqual([...tenant.directory.users(["id"])].map((u) => u.id));
    expect(tenant.requests.count("graph")).toBe(3);
  });

  it("returns the 11 v1.0 default properties and 100 users per page without $select or $top", async () => {
    const page = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: auth() });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^application\/json;odata\.metadata=minimal/);
    expect(page.headers["x-ms-resource-unit"]).toBe("2");
    expect(page.body["@odata.context"]).toBe(`${tenant.graphEndpoint}/v1.0/$metadata#users`);
    expect(page.body.value).toHaveLength(100);
    expect(Object.keys(page.body.value[0]).sort()).toEqual([...GRAPH_DEFAULT_USER_PROPERTIES].sort());
    const next = await rawRequest("GET", page.body["@odata.nextLink"], { headers: auth() });
    expect(next.body.value[0]).toEqual(tenant.directory.userAt(100));
  });

  it("matches $select names case-insensitively and answers in Graph's spelling", async () => {
    const page = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$select=ID,userprincipalname&$top=2`, { headers: auth() });
    expect(page.status).toBe(200);
    expect(Object.keys(page.body.value[0])).toEqual(["id", "userPrincipalName"]);
  });

  it("refuses an unknown $select property with 400 Request_BadRequest", async () => {
    const response = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$select=id,favouriteColour`, { headers: auth() });
    expectGraphError(response, 400, "Request_BadRequest");
    expect(response.body.error.message).toContain("favouriteColour");
  });

  it("refuses $top outside 1..999 with 400", async () => {
    for (const top of ["1000", "0", "-1", "abc"]) {
      expectGraphError(await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$top=${top}`, { headers: auth() }), 400, "Request_BadRequest");
    }
    expect((await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$top=999`, { headers: auth() })).status).toBe(200);
  });

  it("reads query option names in any case, and refuses an unsupported or repeated option with 400", async () => {
    const page = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$TOP=3&$Select=id`, { headers: auth() });
    expect(page.status).toBe(200);
    expect(page.body.value).toEqual([0, 1, 2].map((i) => tenant.directory.userAt(i, ["id"])));
    const unsupported = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$filter=accountEnabled eq true`, { headers: auth() });
    expectGraphError(unsupported, 400, "Request_BadRequest");
    expect(unsupported.body.error.message).toBe("The query option '$filter' is not supported by the simulated tenant on /users.");
    const repeated = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$top=3&$top=4`, { headers: auth() });
    expectGraphError(repeated, 400, "Request_BadRequest");
    expect(repeated.body.error.message).toBe("Query option '$top' was specified more than once, but it can be specified at most once.");
  });

  it("refuses a tampered or foreign $skiptoken with 400, and a $top that disagrees with it", async () => {
    const first = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$top=5`, { headers: auth() });
    const next = new URL(first.body["@odata.nextLink"]);
    const skipToken = next.searchParams.get("$skiptoken")!;
    const raw = Buffer.from(skipToken, "base64url");
    const json = raw.subarray(16).toString("utf8").replace('"o":5', '"o":7');
    const tampered = Buffer.concat([raw.subarray(0, 16), Buffer.from(json)]).toString("base64url");
    expect(tampered).not.toBe(skipToken);
    const bad = new URL(next);
    bad.searchParams.set("$skiptoken", tampered);
    expectGraphError(await rawRequest("GET", bad.toString(), { headers: auth() }), 400, "Request_BadRequest");
    expectGraphError(await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users?$skiptoken=RFNwdAIAAQAAAD8`, { headers: auth() }), 400, "Request_BadRequest");
    const otherTop = new URL(next);
    otherTop.searchParams.set("$top", "6");
    expectGraphError(await rawRequest("GET", otherTop.toString(), { headers: auth() }), 400, "Request_BadRequest");
    const good = await rawRequest("GET", next.toString(), { headers: auth() });
    expect(good.body.value[0].id).toBe(tenant.directory.userAt(5).id);
  });

  it("answers 401 InvalidAuthenticationToken without a token, with a forged one, and with a token for another audience", async () => {
    const none = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`);
    expectGraphError(none, 401, "InvalidAuthenticationToken");
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer /);
    const [header, payload] = token.split(".");
    const forged = `${header}.${payload}.${Buffer.from("not the signature").toString("base64url")}`;
    expectGraphError(await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: { authorization: `Bearer ${forged}` } }), 401, "InvalidAuthenticationToken");
    // A token from another simulated tenant is signed by another key.
    const foreign = await graphTokenFor(noConsent);
    expectGraphError(await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: { authorization: `Bearer ${foreign}` } }), 401, "InvalidAuthenticationToken");
    const vaultToken = await rawRequest("GET", `${tenant.identityEndpoint}?resource=${encodeURIComponent("https://vault.azure.net")}&api-version=2019-08-01`, {
      headers: { "x-identity-header": tenant.identityHeader },
    });
    const wrongAudience = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: { authorization: `Bearer ${vaultToken.body.access_token}` } });
    expectGraphError(wrongAudience, 401, "InvalidAuthenticationToken");
    expect(wrongAudience.body.error.message).toContain("audience");
  });

  it("answers 403 Authorization_RequestDenied when User.Read.All is not granted", async () => {
    const response = await rawRequest("GET", `${noConsent.graphEndpoint}/v1.0/users`, { headers: { authorization: `Bearer ${await graphTokenFor(noConsent)}` } });
    expectGraphError(response, 403, "Authorization_RequestDenied");
    expect(response.body.error.message).toBe("Insufficient privileges to complete the operation.");
  });

  it("lets a test answer in place of Graph through intercept()", async () => {
    const remove = tenant.intercept("graph", () => ({ status: 429, headers: { "retry-after": "2" }, body: { error: { code: "TooManyRequests", message: "throttled" } } }));
    const throttled = await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: auth() });
    remove();
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("2");
    expect((await rawRequest("GET", `${tenant.graphEndpoint}/v1.0/users`, { headers: auth() })).status).toBe(200);
  });
});
