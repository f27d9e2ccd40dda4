/**
 * Reads `/v1.0/users/delta`: a first round (every user, then an `@odata.deltaLink`) or a later round
 * from a saved deltaLink (only what changed). Same pipeline as GraphUsersClient: Azure Core with the
 * Graph retry strategy, pacing, a per-attempt timeout, and the Graph token sent to the configured
 * Graph origin only (over https), with one forced refresh after a 401.
 */
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
import { DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS, DEFAULT_GRAPH_RETRY, type GraphRetryOptions, type GraphTokenProvider } from "./graphUsersClient.js";
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
import type { GraphUser } from "./types.js";

export interface UserDeltaClientOptions {
  /** e.g. https://graph.microsoft.com — the only origin the token is ever sent to. */
  graphEndpoint: string;
  tokenProvider: GraphTokenProvider;
  /** Properties to `$select` on a first round; `id` must be among them. Later rounds carry it in the token. */
  select: readonly string[];
  retryOptions?: GraphRetryOptions;
  /** Per-attempt timeout. Default 60 s. */
  requestTimeoutInMs?: number;
  pacingOptions?: Partial<GraphPacingSettings>;
  /** Explains a 403 (the admin-consent URL for the configured cloud, tenant and client). */
  adminConsentUrl?: string;
  httpClient?: HttpClient;
}

/** Why Graph removed a user: `changed` = soft-deleted (restorable about 30 days), `deleted` = permanently. */
export type DeltaRemovedReason = "changed" | "deleted";

/** One entry of a delta page: a user as it is now, or the id of a removed user. */
export type DeltaItem = { kind: "user"; user: GraphUser } | { kind: "removed"; id: string; reason: DeltaRemovedReason };

export interface DeltaPage {
  /** 1-based page number within the round. */
  pageNumber: number;
  items: DeltaItem[];
  /** The link to the next page of this round. */
  nextLink?: string;
  /** On the last page: the link that starts the next round (save it). */
  deltaLink?: string;
}

export interface ListDeltaPagesOptions {
  abortSignal?: AbortSignal;
  /**
   * A saved `@odata.deltaLink` (or a `@odata.nextLink` of an unfinished round). Without it, a first
   * round starts. It is checked like every link: https, and the configured Graph origin only.
   */
  startLink?: string;
  /** The run's bag of named counts: graphRequests, graphRetries, ... and deltaPages, deltaItems. */
  counters?: Record<string, number>;
}

/** Why a saved token cannot be used, from UserSyncError `graph_delta_token_invalid`'s details.reason. */
export type DeltaTokenProblem = "expired" | "gone";

const USER_AGENT = "entra-user-sync/0.1";

export class UserDeltaClient {
  readonly #graphOrigin: string;
  readonly #select: readonly string[];
  readonly #retry: GraphRetrySettings;
  readonly #timeoutInMs: number;
  readonly #pipeline: Pipeline;
  readonly #httpClient: HttpClient;
  readonly #adminConsentUrl: string | undefined;
  readonly #contexts: GraphRequestContexts = new WeakMap();

  constructor(options: UserDeltaClientOptions) {
    this.#graphOrigin = new URL(options.graphEndpoint).origin;
    if (!options.select.includes("id")) throw new Error("select must include id");
    this.#select = options.select;
    this.#timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS;
    this.#retry = { ...DEFAULT_GRAPH_RETRY, ...definedOnly(options.retryOptions ?? {}) };
    this.#adminConsentUrl = options.adminConsentUrl;
    this.#httpClient = options.httpClient ?? createDefaultHttpClient();
    this.#pipeline = createPipelineFromOptions({
      userAgentOptions: { userAgentPrefix: USER_AGENT },
      // Following a redirect could carry the token elsewhere; a 410's Location is not followed either.
      redirectOptions: { maxRetries: 0 },
    });
    this.#pipeline.removePolicy({ phase: "Retry" });
    this.#pipeline.addPolicy(graphRetryPolicy(this.#contexts, this.#retry), { phase: "Retry" });
    this.#pipeline.addPolicy(graphPacingPolicy(this.#contexts, { ...DEFAULT_PACING, ...definedOnly(options.pacingOptions ?? {}) }), {
      phase: "Retry",
      afterPolicies: ["graphRetryPolicy"],
    });
    this.#pipeline.addPolicy(deltaBearerTokenPolicy(this.#graphOrigin, options.tokenProvider, this.#contexts), { phase: "Sign" });
    this.#pipeline.addPolicy(graphTimeoutPolicy(this.#timeoutInMs, this.#contexts), { afterPhase: "Sign" });
  }

  /** The properties a first round selects. */
  get select(): readonly string[] {
    return this.#select;
  }

  /** The first request of a first round: `/v1.0/users/delta?$select=…` (no `$top`: Graph ignores it). */
  get firstRoundUrl(): string {
    const url = new URL("/v1.0/users/delta", this.#graphOrigin);
    url.searchParams.set("$select", this.#select.join(","));
    return url.toString();
  }

  /**
   * Yields one round page by page (only the page handed out is held). The last page carries the
   * deltaLink. A saved token that Graph no longer accepts (400 syncStateNotFound, 410 Gone) throws
   * UserSyncError `graph_delta_token_invalid` with details.reason "expired" or "gone": start a first
   * round instead.
   */
  async *listDeltaPages(options: ListDeltaPagesOptions = {}): AsyncIterableIterator<DeltaPage> {
    const counters = options.counters ?? {};
    let link: string | undefined = options.startLink ?? this.firstRoundUrl;
    let pageNumber = 0;
    while (link !== undefined) {
      this.#assertGraphLink(link, pageNumber === 0 ? "saved delta link" : "@odata.nextLink");
      pageNumber += 1;
      const response = await this.#get(link, counters, options.abortSignal);
      const page = parseDeltaPage(response.bodyAsText ?? undefined, pageNumber);
      addCount(counters, "deltaPages");
      addCount(counters, "deltaItems", page.items.length);
      link = page.nextLink;
      if (page.nextLink === undefined && page.deltaLink !== undefined) this.#assertGraphLink(page.deltaLink, "@odata.deltaLink");
      yield page;
    }
  }

  #assertGraphLink(link: string, what: string): void {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new UserSyncError("graph_untrusted_next_link", `The ${what} is not a URL; the run stopped without following it.`);
    }
    if (url.protocol !== "https:" || url.origin !== this.#graphOrigin) {
      throw new UserSyncError(
        "graph_untrusted_next_link",
        `The ${what} points to ${url.protocol}//${url.host}, which is not the configured Graph endpoint ${this.#graphOrigin}; the run stopped without sending anything there. If Graph really lives elsewhere for this tenant, set GRAPH_ENDPOINT (or GRAPH_CLOUD); a saved link from another endpoint is dropped by the next full round.`,
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
      throw new UserSyncError("graph_request_failed", `${what} after ${context.retries} retries. Check the network path to Graph and GRAPH_ENDPOINT / GRAPH_CLOUD.`, {
        cause: error,
        details: { retries: context.retries, waitedInMs: context.waitedInMs },
      });
    }
    if (response.status !== 200) throw this.#errorFor(response, context);
    return response;
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
    const details = { status: response.status, graphCode: code || undefined, requestId, retries: context.retries };
    const said = `${response.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
    if (response.status === 400 && code.toLowerCase() === "syncstatenotfound") {
      return new UserSyncError("graph_delta_token_invalid", `Microsoft Graph no longer knows the saved delta token (${said}); tokens for users expire after 7 days. A full round is needed.`, {
        details: { ...details, reason: "expired" satisfies DeltaTokenProblem },
      });
    }
    if (response.status === 410) {
      return new UserSyncError("graph_delta_token_invalid", `Microsoft Graph can no longer serve the saved delta token (${said}) and asks for a full synchronization.`, {
        details: { ...details, reason: "gone" satisfies DeltaTokenProblem, hasLocation: response.headers.has("location") },
      });
    }
    if (response.status === 403) {
      return new UserSyncError(
        "graph_forbidden",
        `Microsoft Graph refused to list user changes (${said}). The app registration needs the Microsoft Graph application permission User.Read.All with admin consent.${this.#adminConsentUrl ? ` An administrator can grant it at ${this.#adminConsentUrl}` : ""}`,
        { details },
      );
    }
    if (response.status === 401) {
      return new UserSyncError("graph_unauthorized", `Microsoft Graph rejected the access token (${said}). Check that GRAPH_CLOUD / GRAPH_ENDPOINT match the cloud of GRAPH_AUTHORITY_HOST.`, { details });
    }
    if (response.status === 400) {
      return new UserSyncError("graph_request_failed", `Microsoft Graph rejected the delta request (${said}). If it names a property, fix USER_SYNC_SELECT.`, { details });
    }
    if (response.status === 429) {
      return new UserSyncError("graph_throttled", `Microsoft Graph kept throttling the sync (${said}) after ${context.retries} retries. Run the sync less often, or raise GRAPH_MAX_RETRIES / GRAPH_MAX_RETRY_WAIT_SECONDS.`, { details });
    }
    return new UserSyncError("graph_request_failed", `Microsoft Graph answered ${said} after ${context.retries} retries.`, { details });
  }
}

/** Parses and checks one delta page. Exported for unit tests. */
export function parseDeltaPage(text: string | undefined, pageNumber: number): DeltaPage {
  const bad = (what: string, details: Record<string, string | number | undefined> = {}) =>
    new UserSyncError("graph_bad_response", `Graph delta page ${pageNumber} ${what}; the run stopped and its delta link was not saved.`, { details: { pageNumber, ...details } });
  let body: unknown;
  try {
    body = JSON.parse(text ?? "");
  } catch {
    throw bad("is not JSON");
  }
  if (typeof body !== "object" || body === null) throw bad("is not a JSON object");
  const record = body as Record<string, unknown>;
  const value = record.value;
  if (!Array.isArray(value)) throw bad('has no "value" array');
  const items: DeltaItem[] = [];
  for (const [index, entry] of value.entries()) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id !== "string" || id === "") throw bad(`holds an entry without an id (item ${index})`, { index });
    const removed = (entry as { "@removed"?: unknown })["@removed"];
    if (removed !== undefined) {
      const reason = (removed as { reason?: unknown } | null)?.reason;
      if (reason !== "changed" && reason !== "deleted") throw bad(`holds a removed entry with an unknown reason (item ${index})`, { index, reason: String(reason) });
      items.push({ kind: "removed", id, reason });
    } else {
      items.push({ kind: "user", user: entry as GraphUser });
    }
  }
  const nextLink = record["@odata.nextLink"];
  const deltaLink = record["@odata.deltaLink"];
  if (nextLink !== undefined && typeof nextLink !== "string") throw bad("has an @odata.nextLink that is not a string");
  if (deltaLink !== undefined && typeof deltaLink !== "string") throw bad("has an @odata.deltaLink that is not a string");
  if (nextLink === undefined && deltaLink === undefined) throw bad("has neither @odata.nextLink nor @odata.deltaLink");
  const page: DeltaPage = { pageNumber, items };
  if (nextLink !== undefined) page.nextLink = nextLink;
  else if (deltaLink !== undefined) page.deltaLink = deltaLink;
  return page;
}

/** The Graph token on requests to the Graph origin over https, and nowhere else; one forced refresh after a 401. */
function deltaBearerTokenPolicy(graphOrigin: string, tokens: GraphTokenProvider, contexts: GraphRequestContexts): PipelinePolicy {
  return {
    name: "graphDeltaBearerTokenPolicy",
    async sendRequest(request, next) {
      const url = new URL(request.url);
      if (url.origin !== graphOrigin || url.protocol !== "https:") {
        throw new UserSyncError("graph_untrusted_next_link", `Refusing to send the Graph token to ${url.host}.`);
      }
      const abortSignal = request.abortSignal as AbortSignal | undefined;
      const { token } = await tokens.getToken(abortSignal ? { abortSignal } : {});
      request.headers.set("Authorization", `Bearer ${token}`);
      const response = await next(request);
      if (response.status !== 401) return response;
      addCount(contexts.get(request)?.counters ?? {}, GRAPH_COUNTERS.tokenRefreshes);
      const refreshed = await tokens.getToken({ forceRefresh: true, ...(abortSignal ? { abortSignal } : {}) });
      request.headers.set("Authorization", `Bearer ${refreshed.token}`);
      return next(request);
    },
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
