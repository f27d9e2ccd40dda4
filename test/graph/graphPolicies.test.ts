/**
 * The Graph pipeline policies in isolation: Retry-After parsing, backoff, pacing, and the retry
 * decisions through GraphUsersClient with a fake HTTP boundary (waits kept at zero or a few ms).
 */
import { createHttpHeaders, RestError, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { backoffDelayInMs, pacingDelayInMs, parseRetryAfterInMs } from "../../src/graph/graphPolicies.js";
import { GraphUsersClient, type GraphUsersClientOptions } from "../../src/graph/graphUsersClient.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";

const GRAPH = "https://graph.example.test";
const tokens = { getToken: async () => ({ token: "token-v0" }) };

type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | { error: string } | { hang: true };

/** Answers each request with the next scripted answer (the last one repeats). */
function scripted(answers: Answer[]) {
  const sent: string[] = [];
  const client: HttpClient = {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      sent.push(request.url);
      const answer = answers[Math.min(sent.length - 1, answers.length - 1)]!;
      if ("error" in answer) throw new RestError(`socket ${answer.error}`, { code: answer.error, request });
      if ("hang" in answer) {
        await new Promise((_resolve, reject) =>
          request.abortSignal?.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }))),
        );
      }
      const { status, headers = {}, body = { value: [{ id: "a" }] } } = answer as { status: number; headers?: Record<string, string>; body?: unknown };
      return { request, status, headers: createHttpHeaders({ "content-type": "application/json", ...headers }), bodyAsText: JSON.stringify(body) };
    },
  };
  return { client, sent };
}

function clientWith(http: HttpClient, options: Partial<GraphUsersClientOptions> = {}) {
  return new GraphUsersClient({ graphEndpoint: GRAPH, tokenProvider: tokens, select: ["id"], httpClient: http, ...options });
}

async function read(client: GraphUsersClient, counters: Record<string, number> = {}) {
  const ids: string[] = [];
  for await (const page of client.listUserPages({ counters })) ids.push(...page.users.map((u) => u.id));
  return ids;
}

async function failure(client: GraphUsersClient, counters: Record<string, number> = {}): Promise<UserSyncError> {
  try {
    await read(client, counters);
  } catch (error) {
    if (isUserSyncError(error)) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

describe("parseRetryAfterInMs", () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  it.each([
    ["2", 2_000],
    ["0", 0],
    [" 1.5 ", 1_500],
    ["Thu, 01 Jan 2026 00:00:03 GMT", 3_000],
    ["Wed, 31 Dec 2025 23:59:00 GMT", 0],
  ])("reads %j as %d ms", (value, expected) => {
    expect(parseRetryAfterInMs(value, now)).toBe(expected);
  });
  it.each([[undefined], [""], ["-1"], ["soon"], ["1e3"]])("ignores %j", (value) => {
    expect(parseRetryAfterInMs(value, now)).toBeUndefined();
  });
});

describe("backoffDelayInMs", () => {
  const settings = { retryDelayInMs: 1_000, maxRetryDelayInMs: 30_000 };
  it("doubles per retry, with jitter between half and all of the delay, up to the ceiling", () => {
    expect(backoffDelayInMs(0, settings, () => 0)).toBe(500);
    expect(backoffDelayInMs(0, settings, () => 1)).toBe(1_000);
    expect(backoffDelayInMs(3, settings, () => 0.5)).toBe(6_000);
    expect(backoffDelayInMs(10, settings, () => 1)).toBe(30_000);
  });
});

describe("pacingDelayInMs", () => {
  it("pauses 1 s at 80 % of a limit, 1 s more per further 10 %, at most 10 s", () => {
    expect(pacingDelayInMs(0.79)).toBe(0);
    expect(pacingDelayInMs(0.8)).toBe(1_000);
    expect(pacingDelayInMs(0.9)).toBe(2_000);
    expect(pacingDelayInMs(1.0)).toBe(3_000);
    expect(pacingDelayInMs(1.8)).toBe(10_000);
    expect(pacingDelayInMs(Number.NaN)).toBe(0);
  });
});

describe("Graph retries through GraphUsersClient", () => {
  it("retries 429, 500, 502, 503 and 504 and counts them", async () => {
    const http = scripted([...[429, 500, 502, 503, 504].map((status): Answer => ({ status, headers: { "retry-after": "0" } })), { status: 200 }]);
    const counters: Record<string, number> = {};
    expect(await read(clientWith(http.client), counters)).toEqual(["a"]);
    expect(counters).toMatchObject({ graphRetries: 5, graphThrottled: 1, graphWaitedInMs: 0, graphRequests: 6 });
  });

  it.each([400, 401, 403, 404, 501])("does not retry %d", async (status) => {
    const http = scripted([{ status, body: { error: { code: "x", message: "y" } } }]);
    await failure(clientWith(http.client));
    expect(http.sent).toHaveLength(status === 401 ? 2 : 1); // a 401 gets its one token refresh, not a retry
  });

  it.each(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN"])("retries a transport failure %s", async (code) => {
    const http = scripted([{ error: code }, { status: 200 }]);
    const counters: Record<string, number> = {};
    expect(await read(clientWith(http.client, { retryOptions: { retryDelayInMs: 1 } }), counters)).toEqual(["a"]);
    expect(counters).toMatchObject({ graphRetries: 1, graphConnectionErrors: 1 });
  });

  it("does not retry a TLS failure", async () => {
    const http = scripted([{ error: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }]);
    const error = await failure(clientWith(http.client));
    expect(error.code).toBe("graph_request_failed");
    expect(http.sent).toHaveLength(1);
  });

  it("retries an attempt that outlives the per-request timeout, and says so when they all do", async () => {
    const http = scripted([{ hang: true }]);
    const counters: Record<string, number> = {};
    const error = await failure(clientWith(http.client, { requestTimeoutInMs: 20, retryOptions: { maxRetries: 2, retryDelayInMs: 1 } }), counters);
    expect(error.code).toBe("graph_request_failed");
    expect(error.message).toContain("gave no complete answer within 20 ms (GRAPH_REQUEST_TIMEOUT_SECONDS), after 2 retries");
    expect(counters).toMatchObject({ graphTimeouts: 3, graphRetries: 2, graphRequests: 3 });
  });

  it("passes the caller's abort through as an AbortError, without retrying", async () => {
    const http = scripted([{ hang: true }]);
    const controller = new AbortController();
    const client = clientWith(http.client);
    const pages = client.listUserPages({ abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await expect(pages.next()).rejects.toMatchObject({ name: "AbortError" });
    expect(http.sent).toHaveLength(1);
  });

  it("gives up when Retry-After exceeds the wait budget, without waiting", async () => {
    const http = scripted([{ status: 503, headers: { "retry-after": "120" } }]);
    const counters: Record<string, number> = {};
    const error = await failure(clientWith(http.client, { retryOptions: { maxRetryWaitInMs: 60_000 } }), counters);
    expect(error.message).toContain("Graph asked to wait 120 s before retrying, more than the 60 s left");
    expect(http.sent).toHaveLength(1);
    expect(counters.graphWaitedInMs).toBeUndefined();
  });

  it("shortens a backoff to what is left of the wait budget, then stops", async () => {
    const http = scripted([{ status: 503 }, { status: 503 }, { status: 200 }]);
    const counters: Record<string, number> = {};
    const error = await failure(clientWith(http.client, { retryOptions: { retryDelayInMs: 1_000, maxRetryWaitInMs: 15 } }), counters);
    expect(error.message).toContain("gave up after 1 retry: the request's retry wait budget (GRAPH_MAX_RETRY_WAIT_SECONDS) is spent");
    expect(counters).toMatchObject({ graphRetries: 1, graphWaitedInMs: 15 });
    expect(http.sent).toHaveLength(2);
  });

  it("paces the next request after a throttle-percentage warning", async () => {
    const page = (next?: string) => ({ value: [{ id: next ? "a" : "b" }], ...(next ? { "@odata.nextLink": next } : {}) });
    const http = scripted([
      { status: 200, headers: { "x-ms-throttle-limit-percentage": "0.8" }, body: page(`${GRAPH}/v1.0/users?$skiptoken=2`) },
      { status: 200, body: page() },
    ]);
    const counters: Record<string, number> = {};
    expect(await read(clientWith(http.client, { pacingOptions: { delayInMs: 30 } }), counters)).toEqual(["a", "b"]);
    expect(counters.graphThrottleWarnings).toBe(1);
    expect(counters.graphPaced).toBe(1);
    expect(counters.graphPacedInMs).toBeGreaterThan(0);
    expect(counters.graphPacedInMs).toBeLessThanOrEqual(30);
  });

  it("drops users repeated within a page or from the previous page, and counts them", async () => {
    const http = scripted([
      { status: 200, body: { value: [{ id: "a" }, { id: "b" }, { id: "a" }], "@odata.nextLink": `${GRAPH}/v1.0/users?$skiptoken=2` } },
      { status: 200, body: { value: [{ id: "b" }, { id: "c" }], "@odata.nextLink": `${GRAPH}/v1.0/users?$skiptoken=3` } },
      { status: 200, body: { value: [{ id: "c" }, { id: "d" }] } },
    ]);
    const counters: Record<string, number> = {};
    expect(await read(clientWith(http.client), counters)).toEqual(["a", "b", "c", "d"]);
    expect(counters.graphDuplicateUsers).toBe(3);
  });

  it("stops when a nextLink points back at a page already read", async () => {
    const again = `${GRAPH}/v1.0/users?$skiptoken=loop`;
    const http = scripted([{ status: 200, body: { value: [{ id: "a" }], "@odata.nextLink": again } }]);
    const error = await failure(clientWith(http.client));
    expect(error.code).toBe("graph_bad_response");
    expect(error.message).toContain("instead of looping");
    expect(http.sent).toHaveLength(2);
  });
});
