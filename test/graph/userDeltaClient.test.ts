import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deltaTokenProblemOf, linkDigest, parseDeltaPage, UserDeltaClient, type DeltaPage } from "../../src/graph/userDeltaClient.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { graphTokenFor, startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

let tenant: SimulatedTenant;
let token: string;
const refreshes: boolean[] = [];

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 500, seed: 3 });
  token = await graphTokenFor(tenant);
});
afterAll(async () => tenant?.close());

function client(select = ["id", "displayName"]): UserDeltaClient {
  return new UserDeltaClient({
    graphEndpoint: tenant.graphEndpoint,
    select,
    retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    tokenProvider: {
      getToken: async (options) => {
        refreshes.push(options?.forceRefresh === true);
        return { token };
      },
    },
  });
}

async function readAll(iterable: AsyncIterable<DeltaPage>): Promise<DeltaPage[]> {
  return Array.fromAsync(iterable);
}

describe("UserDeltaClient against the simulated tenant", () => {
  it("reads a first round to its deltaLink, then only the changes from it", async () => {
    const counters: Record<string, number> = {};
    const pages = await readAll(client().listDeltaPages({ counters }));
    expect(pages.map((p) => p.items.length)).toEqual([200, 200, 102]);
    expect(pages.at(-1)!.deltaLink).toContain("$deltatoken=");
    expect(pages.slice(0, -1).every((p) => p.nextLink !== undefined && p.deltaLink === undefined)).toBe(true);
    expect(counters).toMatchObject({ graphRequests: 3, deltaPages: 3, deltaItems: 502 });

    tenant.changes.changeUser(1, { displayName: "Changed" });
    tenant.changes.softDeleteUser(2);
    const changes = await readAll(client().listDeltaPages({ startLink: pages.at(-1)!.deltaLink! }));
    expect(changes).toHaveLength(1);
    expect(changes[0]!.items).toEqual([
      { kind: "user", user: { id: tenant.changes.userIdAt(1), displayName: "Changed" } },
      { kind: "removed", id: tenant.changes.userIdAt(2), reason: "changed" },
    ]);
  });

  it("reports an expired token (400 syncStateNotFound) and a 410 as graph_delta_token_invalid with the reason", async () => {
    const link = (await readAll(client().listDeltaPages())).at(-1)!.deltaLink!;
    tenant.changes.expireDeltaTokens();
    await expect(readAll(client().listDeltaPages({ startLink: link }))).rejects.toMatchObject({ code: "graph_delta_token_invalid", details: { reason: "expired", status: 400 } });
    const fresh = (await readAll(client().listDeltaPages())).at(-1)!.deltaLink!;
    tenant.changes.invalidateDeltaTokens();
    await expect(readAll(client().listDeltaPages({ startLink: fresh }))).rejects.toMatchObject({ code: "graph_delta_token_invalid", details: { reason: "gone", status: 410, hasLocation: true } });
  });

  it("never sends the token to a saved link on another host, or over http", async () => {
    tenant.requests.reset();
    const foreign = "https://graph.example.net/v1.0/users/delta?$deltatoken=abc";
    await expect(readAll(client().listDeltaPages({ startLink: foreign }))).rejects.toMatchObject({ code: "graph_untrusted_next_link" });
    await expect(readAll(client().listDeltaPages({ startLink: tenant.graphEndpoint.replace("https:", "http:") + "/v1.0/users/delta" }))).rejects.toMatchObject({ code: "graph_untrusted_next_link" });
    expect(tenant.requests.count("graph")).toBe(0);
  });

  it("refreshes the token once after a 401", async () => {
    let first = true;
    const remove = tenant.intercept("graph", () => {
      if (!first) return undefined;
      first = false;
      return { status: 401, headers: { "content-type": "application/json" }, body: { error: { code: "InvalidAuthenticationToken", message: "Lifetime validation failed, the token is expired." } } };
    });
    refreshes.length = 0;
    try {
      const pages = await readAll(client().listDeltaPages());
      expect(pages.at(-1)!.deltaLink).toBeDefined();
    } finally {
      remove();
    }
    expect(refreshes.slice(0, 2)).toEqual([false, true]);
  });

  it("gives each page the digest of its link, and stops a resumed round at a link read before the pause", async () => {
    const c = client();
    const pages = await readAll(c.listDeltaPages());
    expect(pages.map((p) => p.linkDigest)).toEqual([linkDigest(c.firstRoundUrl), linkDigest(pages[0]!.nextLink!), linkDigest(pages[1]!.nextLink!)]);

    // Resuming at page 3 after pages 1 and 2 were applied: fine.
    const applied = pages.slice(0, 2).map((p) => p.linkDigest!);
    const rest = await readAll(c.listDeltaPages({ startLink: pages[1]!.nextLink!, seenLinks: applied }));
    expect(rest.map((p) => p.items.length)).toEqual([pages[2]!.items.length]);
    expect(rest[0]!.deltaLink).toContain("$deltatoken=");

    // Page 3 points back at page 2, read before the pause: stopped before requesting it again.
    tenant.requests.reset();
    const script = tenant.faults.graph.script([{ nextLink: pages[0]!.nextLink! }]);
    await expect(readAll(c.listDeltaPages({ startLink: pages[1]!.nextLink!, seenLinks: applied }))).rejects.toMatchObject({
      code: "graph_bad_response",
      message: expect.stringMatching(/^Graph delta page 1's @odata.nextLink points back at a page already read before this run paused/),
      details: { reason: "repeated_link", repeatedBeforeResume: true },
    });
    expect(tenant.requests.count("graph")).toBe(1);
    script.cancel();
  });

  it("explains an unknown $select property", async () => {
    await expect(readAll(client(["id", "noSuchThing"]).listDeltaPages())).rejects.toMatchObject({ code: "graph_request_failed", message: expect.stringContaining("USER_SYNC_SELECT") });
  });
});

describe("parseDeltaPage", () => {
  it("refuses pages Graph would not send", () => {
    expect(() => parseDeltaPage("<html>", 1)).toThrow(expect.objectContaining({ code: "graph_bad_response" }));
    expect(() => parseDeltaPage(JSON.stringify({ value: [], "@odata.deltaLink": 5 }), 1)).toThrow(/deltaLink/);
    expect(() => parseDeltaPage(JSON.stringify({ value: [] }), 1)).toThrow(/neither/);
    expect(() => parseDeltaPage(JSON.stringify({ value: [{ displayName: "x" }], "@odata.deltaLink": "https://g/x" }), 1)).toThrow(/without an id/);
    expect(() => parseDeltaPage(JSON.stringify({ value: [{ id: "a", "@removed": { reason: "gone" } }], "@odata.deltaLink": "https://g/x" }), 1)).toThrow(/unknown reason/);
  });
  it("keeps Graph's order and tells users from removals", () => {
    const page = parseDeltaPage(JSON.stringify({ "@odata.nextLink": "https://g/n", value: [{ id: "a", x: 1 }, { id: "b", "@removed": { reason: "deleted" } }] }), 2);
    expect(page).toEqual({ pageNumber: 2, nextLink: "https://g/n", items: [{ kind: "user", user: { id: "a", x: 1 } }, { kind: "removed", id: "b", reason: "deleted" }] });
  });
});

describe("deltaTokenProblemOf: every documented sign of an unusable token, and nothing else", () => {
  it.each([
    [400, "syncStateNotFound", "The sync state generation is not found.", "expired"],
    [400, "SyncStateNotFound", "", "expired"],
    [400, "SyncStateInvalid", "Invalid synchronization state.", "invalid"],
    [400, "resyncRequired", "Resync required.", "resyncRequired"],
    [409, "resyncRequired", "", "resyncRequired"],
    [400, "Request_BadRequest", "Badly formed token.", "malformed"],
    [400, "BadRequest", "The delta token is invalid.", "malformed"],
    [410, "", "", "gone"],
    [410, "resyncRequired", "", "gone"],
  ] as const)("%i %s %s → %s", (status, code, message, expected) => {
    expect(deltaTokenProblemOf(status, code, `${status} ${code}: ${message}`)).toBe(expected);
  });

  it.each([
    [400, "Request_BadRequest", "Could not find a property named 'noSuch' on type 'microsoft.graph.user'."],
    [400, "BadRequest", "Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: signInActivity"],
    [401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."],
    [403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."],
    [429, "TooManyRequests", "syncStateNotFound"],
    [503, "syncStateNotFound", ""],
  ] as const)("%i %s is not about the token", (status, code, message) => {
    expect(deltaTokenProblemOf(status, code, `${status} ${code}: ${message}`)).toBeUndefined();
  });
});
