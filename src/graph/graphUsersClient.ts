import {
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  isRestError,
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { UserSyncError } from "../shared/errors.js";
import {
  addCount,
  DEFAULT_PACING,
  formatSeconds,
  GRAPH_COUNTERS,
  graphPacingPolicy,
  graphRetryPolicy,
  graphTimeoutPolicy,
  newContext,
  REQUEST_TIMEOUT_CODE,
  type GraphPacingSettings,
  type GraphRequestContext,
  type GraphRequestContexts,
  type GraphRetrySettings,
} from "./graphPolicies.js";
import type { GraphUser, UserPage } from "./types.js";

/** Anything that hands out Graph access tokens (the GraphTokenClient in production). */
export interface GraphTokenProvider {
  getToken(options?: { forceRefresh?: boolean; abortSignal?: AbortSignal }): Promise<{ token: string }>;
}

export interface GraphRetryOptions {
  /** Retries per request after a throttle (429), a transient status (500, 502, 503, 504), a connection failure or a timeout. Default 6. */
  maxRetries?: number;
  /** Total time one request may spend waiting between its retries (Retry-After or backoff). Default 300 s. */
  maxRetryWaitInMs?: number;
  /** First backoff delay when Graph gives no Retry-After. Default 1 s. */
  retryDelayInMs?: number;
  /** Ceiling of one backoff delay. Default 30 s. */
  maxRetryDelayInMs?: number;
}

export interface GraphUsersClientOptions {
  /** e.g. https://graph.microsoft.com — the only origin the token is ever sent to. */
  graphEndpoint: string;
  tokenProvider: GraphTokenProvider;
  /** Properties to `$select`; `id` must be among them. */
  select: readonly string[];
  /** `$top`, 1–999 (Graph's limit; 500 when signInActivity is selected). Default: the largest allowed. */
  pageSize?: number;
  retryOptions?: GraphRetryOptions;
  /** Per-attempt timeout (headers and body). Default 60 s. A timed-out attempt is retried. */
  requestTimeoutInMs?: number;
  /** Pacing when Graph reports x-ms-throttle-limit-percentage (see pacingDelayInMs). */
  pacingOptions?: Partial<GraphPacingSettings>;
  /** Explains a 403 (the admin-consent URL for the configured cloud, tenant and client). */
  adminConsentUrl?: string;
  httpClient?: HttpClient;
}

export interface ListUserPagesOptions {
  abortSignal?: AbortSignal;
  /**
   * Continue a pass from a saved `@odata.nextLink` (a checkpoint) instead of the first page. It is
   * checked like every nextLink: https, and the configured Graph origin only.
   */
  startLink?: string;
  /** The run's bag of named counts; the reader adds graphRequests, graphThrottled, graphRetries, graphWaitedInMs... */
  counters?: Record<string, number>;
}

export const DEFAULT_GRAPH_RETRY: Readonly<GraphRetrySettings> = {
  maxRetries: 6,
  maxRetryWaitInMs: 300_000,
  retryDelayInMs: 1_000,
  maxRetryDelayInMs: 30_000,
};
export const DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS = 60_000;

const USER_AGENT = "entra-user-sync/0.1";

/**
 * Reads `/v1.0/users` page by page. Built once per process; each `listUserPages` call is one pass
 * over the directory. The pipeline is Azure Core's, with its retry phase replaced by
 * graphRetryPolicy (Azure Core's retryPolicy with a Graph strategy: Retry-After on 429/503/504,
 * backoff with jitter, bounded attempts and total wait), then pacing, then the Graph bearer token,
 * then a per-attempt timeout that the retry policy retries.
 */
export class GraphUsersClient {
  readonly #graphOrigin: string;
  readonly #select: readonly string[];
  readonly #pageSize: number;
  readonly #retry: GraphRetrySettings;
  readonly #timeoutInMs: number;
  readonly #pipeline: Pipeline;
  readonly #httpClient: HttpClient;
  readonly #adminConsentUrl: string | undefined;
  readonly #contexts: GraphRequestContexts = new WeakMap();

  constructor(options: GraphUsersClientOptions) {
    this.#graphOrigin = new URL(options.graphEndpoint).origin;
    if (!options.select.includes("id")) throw new Error("select must include id");
    this.#select = options.select;
    const maxTop = options.select.some((p) => p.toLowerCase() === "signinactivity") ? 500 : 999;
    this.#pageSize = Math.min(options.pageSize ?? maxTop, maxTop);
    this.#timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS;
    this.#retry = { ...DEFAULT_GRAPH_RETRY, ...definedOnly(options.retryOptions ?? {}) };
    this.#adminConsentUrl = options.adminConsentUrl;
    this.#httpClient = options.httpClient ?? createDefaultHttpClient();
    this.#pipeline = createPipelineFromOptions({
      userAgentOptions: { userAgentPrefix: USER_AGENT },
      // Graph does not redirect /users; following a redirect could carry the token elsewhere.
      redirectOptions: { maxRetries: 0 },
    });
    // Azure Core's default retry policy is the only policy of the Retry phase: replace it.
    this.#pipeline.removePolicy({ phase: "Retry" });
    this.#pipeline.addPolicy(graphRetryPolicy(this.#contexts, this.#retry), { phase: "Retry" });
    this.#pipeline.addPolicy(graphPacingPolicy(this.#contexts, { ...DEFAULT_PACING, ...definedOnly(options.pacingOptions ?? {}) }), {
      phase: "Retry",
      afterPolicies: ["graphRetryPolicy"],
    });
    this.#pipeline.addPolicy(graphBearerTokenPolicy(this.#graphOrigin, options.tokenProvider, this.#contexts), { phase: "Sign" });
    this.#pipeline.addPolicy(graphTimeoutPolicy(this.#timeoutInMs, this.#contexts), { afterPhase: "Sign" });
  }

  /** The first request of a pass: `/v1.0/users?$select=…&$top=…`. */
  get firstPageUrl(): string {
    const url = new URL("/v1.0/users", this.#graphOrigin);
    url.searchParams.set("$select", this.#select.join(","));
    url.searchParams.set("$top", String(this.#pageSize));
    return url.toString();
  }

  /**
   * Yields the directory one page at a time; only the page being handed out is held. A user whose id
   * was already read in the same or the previous page is dropped (and counted as
   * graphDuplicateUsers): Graph's paging can repeat users across a page boundary. Only the ids of two
   * pages are kept, so memory stays bounded; a repeat further apart is written again under the same
   * key (an idempotent replace), so the snapshot still holds each user once.
   */
  async *listUserPages(options: ListUserPagesOptions = {}): AsyncIterableIterator<UserPage> {
    const counters = options.counters ?? {};
    let link: string | undefined = options.startLink ?? this.firstPageUrl;
    let pageNumber = 0;
    let previousIds = new Set<string>();
    const seenLinks = new Set<string>();
    while (link !== undefined) {
      this.#assertGraphLink(link);
      if (seenLinks.has(link)) {
        throw new UserSyncError("graph_bad_response", `Graph page ${pageNumber} points @odata.nextLink back at a page already read in this run; the run stopped instead of looping.`, {
          details: { pageNumber },
        });
      }
      // Only the last two links: enough to catch a page pointing at itself or at its predecessor.
      if (seenLinks.size >= 2) seenLinks.delete(seenLinks.values().next().value!);
      seenLinks.add(link);
      pageNumber += 1;
      const response = await this.#get(link, counters, options.abortSignal);
      const page = this.#parsePage(response, pageNumber);
      const ids = new Set<string>();
      const users: GraphUser[] = [];
      for (const user of page.users) {
        if (ids.has(user.id) || previousIds.has(user.id)) {
          addCount(counters, GRAPH_COUNTERS.duplicateUsers);
          continue;
        }
        ids.add(user.id);
        users.push(user);
      }
      previousIds = ids;
      link = page.nextLink;
      yield { ...page, users };
    }
  }

  #assertGraphLink(link: string): void {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new UserSyncError("graph_untrusted_next_link", "Graph returned an @odata.nextLink that is not a URL; the run stopped without following it.");
    }
    if (url.protocol !== "https:" || url.origin !== this.#graphOrigin) {
      throw new UserSyncError(
        "graph_untrusted_next_link",
        `Graph returned an @odata.nextLink to ${url.protocol}//${url.host}, which is not the configured Graph endpoint ${this.#graphOrigin}; the run stopped without sending anything there. If Graph really lives elsewhere for this tenant, set GRAPH_ENDPOINT (or GRAPH_CLOUD).`,
        { details: { host: url.host } },
      );
    }
  }

  async #get(url: string, counters: Record<string, number>, abortSignal: AbortSignal | undefined): Promise<PipelineResponse> {
    const request = createPipelineRequest({ url, method: "GET", ...(abortSignal ? { abortSignal } : {}) });
    request.headers.set("Accept", "application/json");
    const context = newContext(counters);
    this.#contexts.set(request, context);
    let response: PipelineResponse;
    try {
      response = await this.#pipeline.sendRequest(this.#httpClient, request);
    } catch (error) {
      if (error instanceof UserSyncError || (error as { name?: string }).name === "AbortError") throw error;
      const timedOut = isRestError(error) && error.code === REQUEST_TIMEOUT_CODE;
      const what = timedOut
        ? `Microsoft Graph at ${this.#graphOrigin} gave no complete answer within ${formatSeconds(this.#timeoutInMs)} (GRAPH_REQUEST_TIMEOUT_SECONDS)`
        : `Could not reach Microsoft Graph at ${this.#graphOrigin} (${(error as Error).message})`;
      throw new UserSyncError(
        "graph_request_failed",
        `${what}, ${this.#gaveUp(context)}. Check the network path to Graph and GRAPH_ENDPOINT / GRAPH_CLOUD${timedOut ? ", or raise GRAPH_REQUEST_TIMEOUT_SECONDS" : ""}.`,
        { cause: error, details: { retries: context.retries, waitedInMs: context.waitedInMs, errorCode: isRestError(error) ? error.code : undefined } },
      );
    }
    if (response.status !== 200) throw this.#errorFor(response, context);
    return response;
  }

  /** Why retrying ended: the budget, or the retry count. */
  #gaveUp(context: GraphRequestContext): string {
    if (context.stoppedBecause) return `and the sync gave up after ${context.retries} ${context.retries === 1 ? "retry" : "retries"}: ${context.stoppedBecause}`;
    return `after ${context.retries} ${context.retries === 1 ? "retry" : "retries"} (GRAPH_MAX_RETRIES=${this.#retry.maxRetries}) and ${formatSeconds(context.waitedInMs)} of waiting`;
  }

  #errorFor(response: PipelineResponse, context: GraphRequestContext): UserSyncError {
    let code = "";
    let message = "";
    try {
      const body = JSON.parse(response.bodyAsText ?? "") as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? "";
      message = body.error?.message ?? "";
    } catch {
      // not JSON: described by status alone
    }
    const requestId = response.headers.get("request-id") ?? response.headers.get("client-request-id") ?? undefined;
    const details = { status: response.status, graphCode: code || undefined, requestId, retries: context.retries, waitedInMs: context.waitedInMs };
    const said = `${response.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
    if (response.status === 403) {
      return new UserSyncError(
        "graph_forbidden",
        `Microsoft Graph refused to list users (${said}). The app registration needs the Microsoft Graph application permission User.Read.All with admin consent.${this.#adminConsentUrl ? ` An administrator can grant it at ${this.#adminConsentUrl}` : ""}`,
        { details },
      );
    }
    if (response.status === 401) {
      return new UserSyncError(
        "graph_unauthorized",
        `Microsoft Graph rejected the access token (${said}). Check that GRAPH_CLOUD / GRAPH_ENDPOINT match the cloud of GRAPH_AUTHORITY_HOST.`,
        { details },
      );
    }
    if (response.status === 400) {
      return new UserSyncError(
        "graph_request_failed",
        `Microsoft Graph rejected the request (${said}). If it names a property, fix USER_SYNC_SELECT.`,
        { details },
      );
    }
    if (response.status === 429) {
      return new UserSyncError(
        "graph_throttled",
        `Microsoft Graph kept throttling the sync (${said}) ${this.#gaveUp(context)}. Other apps may share this tenant's limits; run the sync less often or at a quieter time, or raise GRAPH_MAX_RETRIES / GRAPH_MAX_RETRY_WAIT_SECONDS.`,
        { details },
      );
    }
    return new UserSyncError(
      "graph_request_failed",
      `Microsoft Graph answered ${said} ${this.#gaveUp(context)}.${RETRYABLE.has(response.status) ? " Graph is having trouble; the next scheduled run will try again." : ""}`,
      { details },
    );
  }

  #parsePage(response: PipelineResponse, pageNumber: number): UserPage {
    let body: unknown;
    try {
      body = JSON.parse(response.bodyAsText ?? "");
    } catch {
      throw new UserSyncError("graph_bad_response", `Graph page ${pageNumber} is not JSON; the run stopped and no snapshot from it will be promoted.`, {
        details: { pageNumber, contentType: response.headers.get("content-type") ?? undefined },
      });
    }
    const value = (body as { value?: unknown }).value;
    if (typeof body !== "object" || body === null || !Array.isArray(value)) {
      throw new UserSyncError("graph_bad_response", `Graph page ${pageNumber} has no "value" array; the run stopped and no snapshot from it will be promoted.`, {
        details: { pageNumber },
      });
    }
    for (const [index, user] of value.entries()) {
      const id = (user as { id?: unknown } | null)?.id;
      if (typeof id !== "string" || id === "") {
        throw new UserSyncError("graph_bad_response", `Graph page ${pageNumber} holds a user without an id (item ${index}); the run stopped and no snapshot from it will be promoted.`, {
          details: { pageNumber, index },
        });
      }
    }
    const nextLink = (body as { "@odata.nextLink"?: unknown })["@odata.nextLink"];
    if (nextLink !== undefined && typeof nextLink !== "string") {
      throw new UserSyncError("graph_bad_response", `Graph page ${pageNumber} has an @odata.nextLink that is not a string.`, { details: { pageNumber } });
    }
    return { pageNumber, users: value as GraphUser[], ...(nextLink ? { nextLink } : {}) };
  }
}

/**
 * Puts the Graph token on requests to the Graph origin, and only there. Runs in the Sign phase, after
 * the retry policies, so every attempt carries a current token.
 */
function graphBearerTokenPolicy(graphOrigin: string, tokens: GraphTokenProvider, contexts: GraphRequestContexts): PipelinePolicy {
  return {
    name: "graphBearerTokenPolicy",
    async sendRequest(request, next) {
      if (new URL(request.url).origin !== graphOrigin || !request.url.startsWith("https:")) {
        throw new UserSyncError("graph_untrusted_next_link", `Refusing to send the Graph token to ${new URL(request.url).host}.`);
      }
      const abortSignal = request.abortSignal as AbortSignal | undefined;
      const { token } = await tokens.getToken(abortSignal ? { abortSignal } : {});
      request.headers.set("Authorization", `Bearer ${token}`);
      const response = await next(request);
      if (response.status !== 401) return response;
      // The token expired or was revoked mid-run: one forced refresh (bypassing the cache), one retry.
      addCount(contexts.get(request)?.counters ?? {}, GRAPH_COUNTERS.tokenRefreshes);
      const refreshed = await tokens.getToken({ forceRefresh: true, ...(abortSignal ? { abortSignal } : {}) });
      request.headers.set("Authorization", `Bearer ${refreshed.token}`);
      return next(request);
    },
  };
}

const RETRYABLE: ReadonlySet<number> = new Set([500, 502, 503, 504]);

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
