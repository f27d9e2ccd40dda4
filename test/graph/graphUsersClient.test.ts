import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { CLOUDS, type CloudName } from "../../src/configuration/clouds.js";
import { adminConsentUrl } from "../../src/credentials/consent.js";
import { GraphUsersClient, linkDigest, type ListUserPagesOptions } from "../../src/graph/graphUsersClient.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";

const GRAPH = "https://graph.example.test";

/** A fake HTTP boundary: answers each request from a script, and records what was sent where. */
function scriptedHttp(answer: (request: PipelineRequest, index: number) => { status: number; body: unknown }) {
  const sent: Array<{ url: string; authorization: string | undefined }> = [];
  const client: HttpClient = {
    async sendRequest(request): Promise<PipelineResponse> {
      sent.push({ url: request.url, authorization: request.headers.get("authorization") });
      const { status, body } = answer(request, sent.length - 1);
      return { request, status, headers: createHttpHeaders({ "content-type": "application/json" }), bodyAsText: typeof body === "string" ? body : JSON.stringify(body) };
    },
  };
  return { client, sent };
}

function tokens() {
  const calls: Array<{ forceRefresh?: boolean }> = [];
  let version = 0;
  return {
    calls,
    provider: {
      async getToken(options: { forceRefresh?: boolean } = {}) {
        calls.push({ ...(options.forceRefresh ? { forceRefresh: true } : {}) });
        if (options.forceRefresh) version += 1;
        return { token: `token-v${version}` };
      },
    },
  };
}

async function collect(client: GraphUsersClient, options: ListUserPagesOptions = {}) {
  const ids: string[] = [];
  for await (const page of client.listUserPages(options)) ids.push(...page.users.map((u) => u.id));
  return ids;
}

async function failureOf(client: GraphUsersClient, options: ListUserPagesOptions = {}): Promise<UserSyncError> {
  try {
    await collect(client, options);
  } catch (error) {
    if (isUserSyncError(error)) return error;
    throw error;
  }
  throw new Error("expected the listing to fail");
}

const noRetries = { maxRetries: 0 };

describe("GraphUsersClient", () => {
  it("asks for $select and $top=999 and follows @odata.nextLink to the end", async () => {
    const http = scriptedHttp((_request, index) =>
      index === 0
        ? { status: 200, body: { value: [{ id: "a" }, { id: "b" }], "@odata.nextLink": `${GRAPH}/v1.0/users?$skiptoken=X1` } }
        : { status: 200, body: { value: [{ id: "c" }] } },
    );
    const t = tokens();
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: t.provider, select: ["id", "displayName"], httpClient: http.client });
    expect(await collect(client)).toEqual(["a", "b", "c"]);
    const first = new URL(http.sent[0]!.url);
    expect(first.pathname).toBe("/v1.0/users");
    expect(first.searchParams.get("$select")).toBe("id,displayName");
    expect(first.searchParams.get("$top")).toBe("999");
    expect(http.sent[1]!.url).toBe(`${GRAPH}/v1.0/users?$skiptoken=X1`);
    expect(http.sent.every((s) => s.authorization === "Bearer token-v0")).toBe(true);
  });

  it("asks for at most 500 per page when signInActivity is selected", () => {
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id", "signInActivity"] });
    expect(new URL(client.firstPageUrl).searchParams.get("$top")).toBe("500");
  });

  it.each([
    ["another host", "https://evil.example.test/v1.0/users?$skiptoken=X"],
    ["plain http on the Graph host", "http://graph.example.test/v1.0/users?$skiptoken=X"],
    ["another port", "https://graph.example.test:8443/v1.0/users?$skiptoken=X"],
  ])("stops before following a nextLink to %s, so the token never leaves Graph", async (_label, link) => {
    const http = scriptedHttp(() => ({ status: 200, body: { value: [{ id: "a" }], "@odata.nextLink": link } }));
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
    const error = await failureOf(client);
    expect(error.code).toBe("graph_untrusted_next_link");
    expect(error.message).toContain("not the configured Graph endpoint");
    expect(http.sent).toHaveLength(1);
  });

  it.each([
    ["a body that is not JSON", "<html>gateway</html>", /is not JSON/],
    ["a page without a value array", { users: [] }, /has no "value" array/],
    ["a user without an id", { value: [{ id: "a" }, { displayName: "x" }] }, /holds a user without an id \(item 1\)/],
  ])("fails the run with a clear reason on %s", async (_label, body, reason) => {
    const http = scriptedHttp(() => ({ status: 200, body }));
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
    const error = await failureOf(client);
    expect(error.code).toBe("graph_bad_response");
    expect(error.message).toMatch(reason);
  });

  it("explains a 403 with the permission needed and the admin-consent URL", async () => {
    const http = scriptedHttp(() => ({ status: 403, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } }));
    const consent = "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=00000000-0000-0000-0000-000000000001";
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client, adminConsentUrl: consent, retryOptions: noRetries });
    const error = await failureOf(client);
    expect(error.code).toBe("graph_forbidden");
    expect(error.message).toContain("User.Read.All");
    expect(error.message).toContain(consent);
    expect(error.details.graphCode).toBe("Authorization_RequestDenied");
  });

  it.each([
    ["AzurePublic", "https://login.microsoftonline.com"],
    ["AzureChina", "https://login.partner.microsoftonline.cn"],
    ["AzureUSGovernment", "https://login.microsoftonline.us"],
    ["AzureUSGovernmentDoD", "https://login.microsoftonline.us"],
  ] as Array<[CloudName, string]>)("points a 403 in %s at that cloud's admin-consent page", async (cloud, loginHost) => {
    const http = scriptedHttp(() => ({ status: 403, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } }));
    const clientId = "00000000-0000-0000-0000-000000000001";
    const consent = adminConsentUrl(CLOUDS[cloud].authorityHost, "contoso.onmicrosoft.com", clientId, CLOUDS[cloud].consentRedirectUri);
    expect(consent).toBe(`${loginHost}/contoso.onmicrosoft.com/adminconsent?client_id=${clientId}&redirect_uri=${encodeURIComponent(CLOUDS[cloud].consentRedirectUri)}`);
    const client = new GraphUsersClient({ graphEndpoint: CLOUDS[cloud].graphEndpoint, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client, adminConsentUrl: consent });
    const error = await failureOf(client);
    expect(error.message).toContain(`An administrator can grant it at ${consent}`);
    expect(http.sent).toHaveLength(1);
  });

  it("answers a 401 with one forced token refresh and a retry", async () => {
    const http = scriptedHttp((request) =>
      request.headers.get("authorization") === "Bearer token-v0"
        ? { status: 401, body: { error: { code: "InvalidAuthenticationToken", message: "Access token has expired." } } }
        : { status: 200, body: { value: [{ id: "a" }] } },
    );
    const t = tokens();
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: t.provider, select: ["id"], httpClient: http.client, retryOptions: noRetries });
    expect(await collect(client)).toEqual(["a"]);
    expect(t.calls).toEqual([{}, { forceRefresh: true }]);
  });

  it("fails the run on a second 401 after the refresh", async () => {
    const http = scriptedHttp(() => ({ status: 401, body: { error: { code: "InvalidAuthenticationToken", message: "Access token validation failure." } } }));
    const t = tokens();
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: t.provider, select: ["id"], httpClient: http.client, retryOptions: noRetries });
    const error = await failureOf(client);
    expect(error.code).toBe("graph_unauthorized");
    expect(t.calls.filter((c) => c.forceRefresh)).toHaveLength(1);
    expect(error.message).not.toContain("token-v");
  });

  it("names USER_SYNC_SELECT when Graph rejects a property", async () => {
    const http = scriptedHttp(() => ({ status: 400, body: { error: { code: "Request_BadRequest", message: "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'." } } }));
    const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id", "favouriteColour"], httpClient: http.client, retryOptions: noRetries });
    const error = await failureOf(client);
    expect(error.message).toContain("favouriteColour");
    expect(error.message).toContain("USER_SYNC_SELECT");
  });

  describe("paging loops", () => {
    const link = (n: number) => `${GRAPH}/v1.0/users?$skiptoken=P${n}`;
    /** Pages 1..`pages`; page `from` links back to page `to` (1: the first page's URL). */
    function cyclingGraph(pages: number, from: number, to: number) {
      return scriptedHttp((request) => {
        const token = new URL(request.url).searchParams.get("$skiptoken");
        const n = token === null ? 1 : Number(token.slice(1));
        const next = n === from ? (to === 1 ? undefined : link(to)) : n < pages ? link(n + 1) : undefined;
        return { status: 200, body: { value: [{ id: `u${n}` }], ...(next ? { "@odata.nextLink": next } : {}) } };
      });
    }

    it.each([
      [1, 3, 3, "Graph page 3's @odata.nextLink points back at itself (page 3)"],
      [2, 4, 3, "Graph page 4's @odata.nextLink points back at page 3, already read in this pass (a cycle of 2 pages)"],
      [3, 5, 3, "Graph page 5's @odata.nextLink points back at page 3, already read in this pass (a cycle of 3 pages)"],
      [10, 12, 3, "Graph page 12's @odata.nextLink points back at page 3, already read in this pass (a cycle of 10 pages)"],
    ])("stops at a cycle of %i page(s) before requesting a page twice", async (length, from, to, message) => {
      const http = cyclingGraph(20, from, to);
      const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
      const error = await failureOf(client);
      expect(error.code).toBe("graph_bad_response");
      expect(error.message).toBe(`${message}; the run stopped instead of looping, and no snapshot from it will be promoted.`);
      expect(error.details).toEqual({ reason: "repeated_link", pageNumber: from, repeatedPage: to, cycleLength: length });
      expect(http.sent).toHaveLength(from);
      expect(new Set(http.sent.map((s) => s.url)).size).toBe(from);
    });

    it("yields the digest of the link that fetched each page", async () => {
      const http = cyclingGraph(3, 0, 0);
      const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
      const digests = (await Array.fromAsync(client.listUserPages())).map((p) => p.linkDigest);
      expect(digests).toEqual([linkDigest(client.firstPageUrl), linkDigest(link(2)), linkDigest(link(3))]);
    });

    it("stops a resumed pass at a link read before the pause (seenLinks from the checkpoint)", async () => {
      // Before the pause the pass read pages 1 and 2; page 3 then points back at page 1.
      const http = cyclingGraph(5, 3, 2);
      const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
      const seenLinks = new Set([linkDigest(client.firstPageUrl), linkDigest(link(2))]);
      const error = await failureOf(client, { startLink: link(3), seenLinks });
      expect(error.code).toBe("graph_bad_response");
      expect(error.message).toBe(
        "Graph page 1's @odata.nextLink points back at a page already read before this run paused (the link is in its checkpoint); the run stopped instead of looping, and no snapshot from it will be promoted.",
      );
      expect(error.details).toEqual({ reason: "repeated_link", pageNumber: 1, repeatedBeforeResume: true });
      expect(http.sent.map((s) => s.url)).toEqual([link(3)]);
      expect(seenLinks.size).toBe(2);
    });

    it("refuses a saved link to continue from that the checkpoint lists as read", async () => {
      const http = cyclingGraph(5, 0, 0);
      const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
      const error = await failureOf(client, { startLink: link(2), seenLinks: [linkDigest(link(2))] });
      expect(error.message).toMatch(/^The saved link to continue from points back at a page already read before this run paused/);
      expect(http.sent).toHaveLength(0);
    });

    it("resumes a pass whose earlier links are all different", async () => {
      const http = cyclingGraph(4, 0, 0);
      const client = new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens().provider, select: ["id"], httpClient: http.client });
      expect(await collect(client, { startLink: link(3), seenLinks: [linkDigest(client.firstPageUrl), linkDigest(link(2))] })).toEqual(["u3", "u4"]);
    });
  });
});
