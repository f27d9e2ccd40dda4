/** The simulator's fault scripts, observed over real HTTPS with a real token (no product code involved). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { graphTokenFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

let tenant: SimulatedTenant;
let token: string;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 30, seed: 7 });
  token = await graphTokenFor(tenant);
});
afterAll(async () => tenant?.close());

const auth = () => ({ authorization: `Bearer ${token}` });
const firstPage = () => `${tenant.graphEndpoint}/v1.0/users?$select=id,displayName&$top=10`;
const get = (url = firstPage()) => rawRequest("GET", url, { headers: auth() });

describe("simulated Graph fault scripts", () => {
  it("applies one step per request, in order, then lets Graph answer again", async () => {
    const script = tenant.faults.graph.script([{ status: 429, retryAfterSeconds: 2 }, {}, { status: 503 }]);
    expect(script.pending).toBe(3);
    const first = await get();
    expect(first.status).toBe(429);
    expect(first.headers["retry-after"]).toBe("2");
    expect(first.body.error.code).toBe("TooManyRequests");
    expect((await get()).status).toBe(200);
    const third = await get();
    expect(third.status).toBe(503);
    expect(third.headers["retry-after"]).toBeUndefined();
    expect(script).toMatchObject({ pending: 0, applied: 3 });
    expect((await get()).status).toBe(200);
  });

  it("sends Retry-After as an HTTP date, and 504 and 401 with Graph's error body", async () => {
    const when = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    tenant.faults.graph.script([{ status: 504, retryAfterDate: when }, { status: 401 }]);
    const gateway = await get();
    expect(gateway.status).toBe(504);
    expect(gateway.headers["retry-after"]).toBe("Wed, 02 Jan 2030 03:04:05 GMT");
    const unauthorized = await get();
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body.error.code).toBe("InvalidAuthenticationToken");
  });

  it("resets the connection", async () => {
    tenant.faults.graph.script([{ reset: true }]);
    await expect(get()).rejects.toMatchObject({ code: "ECONNRESET" });
    expect((await get()).status).toBe(200);
  });

  it("answers a body that is not JSON, a page without value, and a user without id", async () => {
    tenant.faults.graph.script([{ notJson: true }, { withoutValue: true }, { userWithoutId: true }]);
    const html = await get();
    expect(html.status).toBe(200);
    expect(html.headers["content-type"]).toContain("text/html");
    expect(typeof html.body).toBe("string");
    const noValue = await get();
    expect(noValue.body.value).toBeUndefined();
    expect(new URL(noValue.body["@odata.nextLink"]).searchParams.get("$skiptoken")).toEqual(expect.any(String));
    const noId = await get();
    expect(noId.body.value).toHaveLength(10);
    expect(noId.body.value[0].id).toBeUndefined();
    expect(noId.body.value[0].displayName).toEqual(expect.any(String));
    expect(noId.body.value[1].id).toEqual(expect.any(String));
  });

  it("points nextLink elsewhere, repeats the previous page's last users, and adds throttle headers", async () => {
    const page1 = await get();
    tenant.faults.graph.script([{ nextLink: "https://foreign.example.test/v1.0/users?$skiptoken=x" }, { repeatUsers: 3, throttleLimitPercentage: 0.9 }]);
    const foreign = await get();
    expect(foreign.body["@odata.nextLink"]).toBe("https://foreign.example.test/v1.0/users?$skiptoken=x");
    const page2 = await get(page1.body["@odata.nextLink"]);
    expect(page2.headers["x-ms-throttle-limit-percentage"]).toBe("0.9");
    const ids = page2.body.value.map((u: { id: string }) => u.id);
    expect(ids).toHaveLength(13);
    expect(ids.slice(0, 3)).toEqual(page1.body.value.slice(7).map((u: { id: string }) => u.id));
    expect(page2.body.value[0]).toEqual(page1.body.value[7]);
  });

  it("points nextLink back at an earlier request, on /users and on /users/delta", async () => {
    const page1 = await get();
    tenant.faults.graph.script([{}, { nextLinkBack: 0 }, { nextLinkBack: 2 }]);
    const page2Url = page1.body["@odata.nextLink"];
    const page2 = await get(page2Url);
    const self = await get(page2.body["@odata.nextLink"]);
    expect(self.body["@odata.nextLink"]).toBe(page2.body["@odata.nextLink"]);
    expect(self.body.value).toHaveLength(10);
    const delta = await get(`${tenant.graphEndpoint}/v1.0/users/delta?$select=id,displayName`);
    expect(delta.status).toBe(200);
    expect(delta.body.value.length).toBeGreaterThan(0);
    expect(delta.body["@odata.nextLink"]).toBe(page2Url);
  });

  it("leaves properties out of every user of a page", async () => {
    tenant.faults.graph.script([{ omitProperties: ["displayName"] }]);
    const page = await get();
    expect(page.body.value.map((u: Record<string, unknown>) => Object.keys(u))).toEqual(Array.from({ length: 10 }, () => ["id"]));
    expect(Object.keys((await get()).body.value[0])).toEqual(["id", "displayName"]);
  });

  it("adds properties to the first user of a page, __proto__ included, as own properties", async () => {
    tenant.faults.graph.script([{ addProperties: JSON.parse('{"__proto__":{"x":1},"constructor":"c","displayName":"Replaced"}') as Record<string, unknown> }]);
    const page = await get();
    const first = page.body.value[0] as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(["id", "displayName", "__proto__", "constructor"]);
    expect(first.displayName).toBe("Replaced");
    expect(Object.getOwnPropertyDescriptor(first, "__proto__")?.value).toEqual({ x: 1 });
    expect(Object.keys(page.body.value[1] as object)).toEqual(["id", "displayName"]);
  });

  it("delays an answer", async () => {
    tenant.requests.reset();
    tenant.faults.graph.script([{ delayInMs: 50 }]);
    expect((await get()).status).toBe(200);
    expect(tenant.faults.graph.pending).toBe(0);
    expect(tenant.requests.count("graph")).toBe(1);
  });

  it("cancels a script's pending steps", async () => {
    const script = tenant.faults.graph.script([{ status: 500 }, { status: 500 }]);
    script.cancel();
    expect(script.pending).toBe(0);
    expect((await get()).status).toBe(200);
  });

  it("runs a foreign host that the simulator's CA vouches for, and records what reached it", async () => {
    const foreign = await tenant.faults.startForeignHost();
    expect(new URL(foreign.origin).origin).not.toBe(new URL(tenant.graphEndpoint).origin);
    const answer = await rawRequest("GET", `${foreign.origin}/v1.0/users?$skiptoken=x`, { headers: { authorization: "Bearer not-a-real-token" } });
    expect(answer.status).toBe(200);
    expect(foreign.requests).toEqual([{ method: "GET", path: "/v1.0/users", authorization: true }]);
    await foreign.close();
  });
});
