import {
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { UserSyncError } from "../shared/errors.js";
import type { GraphUser, UserPage } from "./types.js";

/** Anything that hands out Graph access tokens (the GraphTokenClient in production). */
export interface GraphTokenProvider {
  getToken(options?: { forceRefresh?: boolean; abortSignal?: AbortSignal }): Promise<{ token: string }>;
}

export interface GraphRetryOptions {
  /** Retries per request after a throttle (429), a transient failure (503, 504, ...) or a connection reset. */
  maxRetries?: number;
  /** First backoff delay when Graph gives no Retry-After. */
  retryDelayInMs?: number;
  /** Ceiling of one backoff delay. */
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
  /** Per-request timeout. Default 100 s. */
  requestTimeoutInMs?: number;
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
}

const USER_AGENT = "entra-user-sync/0.1";

/**
 * Reads `/v1.0/users` page by page. Built once per process; each `listUserPages` call is one pass
 * over the directory. Retries (Retry-After, exponential backoff, connection resets) come from Azure
 * Core's pipeline policies.
 */
export class GraphUsersClient {
  readonly #graphOrigin: string;
  readonly #select: readonly string[];
  readonly #pageSize: number;
  readonly #timeoutInMs: number;
  readonly #pipeline: Pipeline;
  readonly #httpClient: HttpClient;
  readonly #adminConsentUrl: string | undefined;

  constructor(options: GraphUsersClientOptions) {
    this.#graphOrigin = new URL(options.graphEndpoint).origin;
    if (!options.select.includes("id")) throw new Error("select must include id");
    this.#select = options.select;
    const maxTop = options.select.some((p) => p.toLowerCase() === "signinactivity") ? 500 : 999;
    this.#pageSize = Math.min(options.pageSize ?? maxTop, maxTop);
    this.#timeoutInMs = options.requestTimeoutInMs ?? 100_000;
    this.#adminConsentUrl = options.adminConsentUrl;
    this.#httpClient = options.httpClient ?? createDefaultHttpClient();
    this.#pipeline = createPipelineFromOptions({
      retryOptions: {
        maxRetries: options.retryOptions?.maxRetries ?? 6,
        retryDelayInMs: options.retryOptions?.retryDelayInMs ?? 1_000,
        maxRetryDelayInMs: options.retryOptions?.maxRetryDelayInMs ?? 60_000,
      },
      userAgentOptions: { userAgentPrefix: USER_AGENT },
      // Graph does not redirect /users; following a redirect could carry the token elsewhere.
      redirectOptions: { maxRetries: 0 },
    });
    this.#pipeline.addPolicy(graphBearerTokenPolicy(this.#graphOrigin, options.tokenProvider), { phase: "Sign" });
  }

  /** The first request of a pass: `/v1.0/users?$select=…&$top=…`. */
  get firstPageUrl(): string {
    const url = new URL("/v1.0/users", this.#graphOrigin);
    url.searchParams.set("$select", this.#select.join(","));
    url.searchParams.set("$top", String(this.#pageSize));
    return url.toString();
  }

  /** Yields the directory one page at a time; only the page being handed out is held. */
  async *listUserPages(options: ListUserPagesOptions = {}): AsyncIterableIterator<UserPage> {
    let link: string | undefined = options.startLink ?? this.firstPageUrl;
    let pageNumber = 0;
    while (link !== undefined) {
      this.#assertGraphLink(link);
      pageNumber += 1;
      const response = await this.#get(link, options.abortSignal);
      const page = this.#parsePage(response, pageNumber);
      link = page.nextLink;
      yield page;
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

  async #get(url: string, abortSignal: AbortSignal | undefined): Promise<PipelineResponse> {
    const request = createPipelineRequest({ url, method: "GET", timeout: this.#timeoutInMs, ...(abortSignal ? { abortSignal } : {}) });
    request.headers.set("Accept", "application/json");
    let response: PipelineResponse;
    try {
      response = await this.#pipeline.sendRequest(this.#httpClient, request);
    } catch (error) {
      if ((error as { name?: string }).name === "AbortError") throw error;
      throw new UserSyncError(
        "graph_request_failed",
        `Could not reach Microsoft Graph at ${this.#graphOrigin} (${(error as Error).message}). Check the network path to Graph and GRAPH_ENDPOINT / GRAPH_CLOUD.`,
        { cause: error },
      );
    }
    if (response.status !== 200) throw this.#errorFor(response);
    return response;
  }

  #errorFor(response: PipelineResponse): UserSyncError {
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
    const details = { status: response.status, graphCode: code || undefined, requestId };
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
    return new UserSyncError("graph_request_failed", `Microsoft Graph answered ${said} after retries.`, { details });
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
function graphBearerTokenPolicy(graphOrigin: string, tokens: GraphTokenProvider): PipelinePolicy {
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
      const refreshed = await tokens.getToken({ forceRefresh: true, ...(abortSignal ? { abortSignal } : {}) });
      request.headers.set("Authorization", `Bearer ${refreshed.token}`);
      return next(request);
    },
  };
}
