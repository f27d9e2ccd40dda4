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
import { isAbortError, type OperationOptions } from "../shared/abort.js";
import { DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS, DEFAULT_GRAPH_RETRY, DEFAULT_PACING } from "../configuration/defaults.js";
import { createGraphError } from "./graphErrors.js";

/** Anything that hands out Graph access tokens (the GraphTokenClient in production). */
export interface GraphTokenProvider {
  getToken(options?: OperationOptions & { forceRefresh?: boolean }): Promise<{ token: string }>;
}

export interface GraphRetryOptions {
  /** Retries per request after a throttle (429), a transient failure (500, 502, 503, 504), a connection failure or a timeout. */
  maxRetries?: number;
  /** Total time one request may spend waiting between its retries; a longer Retry-After fails the request. */
  maxRetryWaitInMs?: number;
  /** First backoff delay when Graph gives no Retry-After (doubles each retry, with jitter). */
  retryDelayInMs?: number;
  /** Ceiling of one backoff delay. */
  maxRetryDelayInMs?: number;
}


export interface GraphRequestClientOptions {
  /** e.g. https://graph.microsoft.com — the only origin the token is ever sent to. */
  graphEndpoint: string;
  tokenProvider: GraphTokenProvider;
  retryOptions?: GraphRetryOptions;
  /** Per-attempt timeout (headers and body). Default 60 s. */
  requestTimeoutInMs?: number;
  pacingOptions?: Partial<GraphPacingSettings>;
  httpClient?: HttpClient;
}

/** A non-200 answer that outlived the retries, described for the reader that asked. */
export interface GraphFailure {
  response: PipelineResponse;
  status: number;
  /** Graph's `error.code`, or "" when the body is not Graph's error JSON. */
  graphCode: string;
  /** "403 Authorization_RequestDenied: Insufficient privileges…" */
  said: string;
  /** Why retrying ended, e.g. "after 3 retries (GRAPH_MAX_RETRIES=3) and 4 s of waiting". */
  gaveUp: string;
  details: Record<string, string | number | undefined>;
}

const USER_AGENT = "entra-user-sync/0.1";
const RETRYABLE: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/**
 * The Graph HTTP stage shared by the `/users` and `/users/delta` readers: Azure Core's pipeline with
 * its retry phase replaced by graphRetryPolicy (Retry-After on 429/503/504, backoff with jitter,
 * bounded attempts and total wait), then pacing, then the Graph bearer token (to the Graph origin
 * only, one forced refresh after a 401), then a per-attempt timeout that the retry policy retries.
 * Redirects are never followed: they could carry the token elsewhere.
 */
export class GraphRequestClient {
  readonly graphOrigin: string;
  readonly #retry: GraphRetrySettings;
  readonly #timeoutInMs: number;
  readonly #pipeline: Pipeline;
  readonly #httpClient: HttpClient;
  readonly #contexts: GraphRequestContexts = new WeakMap();

  constructor(options: GraphRequestClientOptions) {
    this.graphOrigin = new URL(options.graphEndpoint).origin;
    this.#timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS;
    this.#retry = { ...DEFAULT_GRAPH_RETRY, ...definedOnly(options.retryOptions ?? {}) };
    this.#httpClient = options.httpClient ?? createDefaultHttpClient();
    this.#pipeline = createPipelineFromOptions({ userAgentOptions: { userAgentPrefix: USER_AGENT }, redirectOptions: { maxRetries: 0 } });
    // Azure Core's default retry policy is the only policy of the Retry phase: replace it.
    this.#pipeline.removePolicy({ phase: "Retry" });
    this.#pipeline.addPolicy(graphRetryPolicy(this.#contexts, this.#retry), { phase: "Retry" });
    this.#pipeline.addPolicy(graphPacingPolicy(this.#contexts, { ...DEFAULT_PACING, ...definedOnly(options.pacingOptions ?? {}) }), {
      phase: "Retry",
      afterPolicies: ["graphRetryPolicy"],
    });
    this.#pipeline.addPolicy(graphBearerTokenPolicy(this.graphOrigin, options.tokenProvider, this.#contexts), { phase: "Sign" });
    this.#pipeline.addPolicy(graphTimeoutPolicy(this.#timeoutInMs, this.#contexts), { afterPhase: "Sign" });
  }

  /** Throws `graph_untrusted_next_link` unless `link` is https on the configured Graph origin. */
  assertGraphLink(link: string, what: string): void {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw createGraphError("linkNotAUrl", { what });
    }
    if (url.protocol !== "https:" || url.origin !== this.graphOrigin) {
      throw createGraphError("linkElsewhere", { what, protocol: url.protocol, host: url.host, graphOrigin: this.graphOrigin });
    }
  }

  /**
   * GETs `url` (counting into `counters`) and returns the 200 response. A failure that outlived the
   * retries throws: `describe` may give a reader-specific error for a non-200 answer; otherwise
   * `describeGraphFailure` does.
   */
  async get(
    url: string,
    options: OperationOptions & { counters: Record<string, number>; action: string; adminConsentUrl?: string | undefined; describe?: (failure: GraphFailure) => UserSyncError | undefined },
  ): Promise<PipelineResponse> {
    const request = createPipelineRequest({ url, method: "GET", abortSignal: options.abortSignal });
    request.headers.set("Accept", "application/json");
    const context = newContext(options.counters);
    this.#contexts.set(request, context);
    let response: PipelineResponse;
    try {
      response = await this.#pipeline.sendRequest(this.#httpClient, request);
    } catch (error) {
      if (error instanceof UserSyncError || isAbortError(error)) throw error;
      const timedOut = isRestError(error) && error.code === REQUEST_TIMEOUT_CODE;
      throw createGraphError(
        "unreachable",
        { graphOrigin: this.graphOrigin, timedOut, timeout: formatSeconds(this.#timeoutInMs), reason: (error as Error).message, gaveUp: this.#gaveUp(context) },
        { cause: error, details: { retries: context.retries, waitedInMs: context.waitedInMs, errorCode: isRestError(error) ? error.code : undefined } },
      );
    }
    if (response.status === 200) return response;
    const failure = this.#failure(response, context);
    throw options.describe?.(failure) ?? describeGraphFailure(failure, options.action, options.adminConsentUrl);
  }

  /** Why retrying ended: the budget, or the retry count. */
  #gaveUp(context: GraphRequestContext): string {
    if (context.stoppedBecause) return `and the sync gave up after ${context.retries} ${context.retries === 1 ? "retry" : "retries"}: ${context.stoppedBecause}`;
    return `after ${context.retries} ${context.retries === 1 ? "retry" : "retries"} (GRAPH_MAX_RETRIES=${this.#retry.maxRetries}) and ${formatSeconds(context.waitedInMs)} of waiting`;
  }

  #failure(response: PipelineResponse, context: GraphRequestContext): GraphFailure {
    let graphCode = "";
    let message = "";
    try {
      const body = JSON.parse(response.bodyAsText ?? "") as { error?: { code?: string; message?: string } };
      graphCode = body.error?.code ?? "";
      message = body.error?.message ?? "";
    } catch {
      // not JSON: described by status alone
    }
    const requestId = response.headers.get("request-id") ?? response.headers.get("client-request-id") ?? undefined;
    return {
      response,
      status: response.status,
      graphCode,
      said: `${response.status}${graphCode ? ` ${graphCode}` : ""}${message ? `: ${message}` : ""}`,
      gaveUp: this.#gaveUp(context),
      details: { status: response.status, graphCode: graphCode || undefined, requestId, retries: context.retries, waitedInMs: context.waitedInMs },
    };
  }
}

/** What a non-200 Graph answer means for the operator; `action` is e.g. "list users". */
export function describeGraphFailure(failure: GraphFailure, action: string, adminConsentUrl: string | undefined): UserSyncError {
  const { status, said, gaveUp, details } = failure;
  if (status === 403) return createGraphError("forbidden", { action, said, adminConsentUrl }, { details });
  if (status === 401) return createGraphError("unauthorized", { said }, { details });
  if (status === 400) return createGraphError("rejected", { action, said }, { details });
  if (status === 429) return createGraphError("throttled", { said, gaveUp }, { details });
  return createGraphError("failed", { said, gaveUp, retryable: RETRYABLE.has(status) }, { details });
}

/**
 * Puts the Graph token on requests to the Graph origin over https, and only there. Runs in the Sign
 * phase, after the retry policies, so every attempt carries a current token; a 401 gets one forced
 * refresh (bypassing the token cache) and one more try.
 */
function graphBearerTokenPolicy(graphOrigin: string, tokens: GraphTokenProvider, contexts: GraphRequestContexts): PipelinePolicy {
  return {
    name: "graphBearerTokenPolicy",
    async sendRequest(request, next) {
      const url = new URL(request.url);
      if (url.origin !== graphOrigin || url.protocol !== "https:") {
        throw createGraphError("tokenElsewhere", { host: url.host });
      }
      const abortSignal = request.abortSignal as AbortSignal | undefined;
      const { token } = await tokens.getToken({ abortSignal });
      request.headers.set("Authorization", `Bearer ${token}`);
      const response = await next(request);
      if (response.status !== 401) return response;
      addCount(contexts.get(request)?.counters ?? {}, GRAPH_COUNTERS.tokenRefreshes);
      const refreshed = await tokens.getToken({ forceRefresh: true, abortSignal });
      request.headers.set("Authorization", `Bearer ${refreshed.token}`);
      return next(request);
    },
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
