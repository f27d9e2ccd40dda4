import type { HttpClient, PipelineResponse } from "@azure/core-rest-pipeline";
import { extraPermissionsOf, maxUsersPageSize } from "../configuration/userProperties.js";
import type { UserSyncError } from "../shared/errors.js";
import { canonicalUser } from "./canonicalUser.js";
import { addCount, GRAPH_COUNTERS, type GraphPacingSettings } from "./graphPolicies.js";
import { GraphRequestClient, type GraphFailure, type GraphRetryOptions, type GraphTokenProvider } from "./graphRequestClient.js";
import { PagingLinkGuard } from "./pagingLinks.js";
import type { GraphUser, UserPage } from "./types.js";
import type { OperationOptions } from "../shared/abort.js";
import { createGraphError } from "./graphErrors.js";
import { EXPAND_MAX_PAGE_SIZE, MANAGER_EXPAND, takeExpandedManager, type ManagerChange } from "./managerLinks.js";

export { linkDigest } from "./pagingLinks.js";
export { type GraphRetryOptions, type GraphTokenProvider } from "./graphRequestClient.js";

/** The users' collection, from the Graph origin (the users' kind declares it: src/kinds/users.ts). */
export const USERS_COLLECTION_PATH = "/v1.0/users";

export interface GraphUsersClientOptions {
  /** A request stage to share with the other reader (one pipeline, one throttling pacing per process); built from these options when absent. */
  requests?: GraphRequestClient;
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
  /** USER_SYNC_GROUPS: `$expand=manager($select=id)`; each page hands out its users' managers (`UserPage.managers`). */
  expandManager?: boolean;
}

export interface ListUserPagesOptions extends OperationOptions {
  /**
   * Continue a pass from a saved `@odata.nextLink` (a checkpoint) instead of the first page. It is
   * checked like every nextLink: https, and the configured Graph origin only.
   */
  startLink?: string;
  /**
   * Digests (`linkDigest`) of the links this pass read before it paused, from the checkpoint: a link
   * among them fails the pass as a loop, as a link read earlier in this run does. Save the
   * `linkDigest` of each page the run committed, not the links the reader has requested: the reader
   * may be one page ahead of the last checkpoint. Not modified.
   */
  seenLinks?: Iterable<string>;
  /** The run's bag of named counts; the reader adds graphRequests, graphThrottled, graphRetries, graphWaitedInMs... */
  counters?: Record<string, number>;
}

/**
 * Reads `/v1.0/users` page by page. Built once per process; each `listUserPages` call is one pass
 * over the directory. The pipeline is Azure Core's, with its retry phase replaced by
 * graphRetryPolicy (Azure Core's retryPolicy with a Graph strategy: Retry-After on 429/503/504,
 * backoff with jitter, bounded attempts and total wait), then pacing, then the Graph bearer token,
 * then a per-attempt timeout that the retry policy retries.
 */
export class GraphUsersClient {
  readonly #requests: GraphRequestClient;
  readonly #select: readonly string[];
  readonly #pageSize: number;
  readonly #adminConsentUrl: string | undefined;
  readonly #expandManager: boolean;

  constructor(options: GraphUsersClientOptions) {
    if (!options.select.includes("id")) throw new Error("select must include id");
    this.#requests = options.requests ?? new GraphRequestClient(options);
    this.#select = options.select;
    const maxTop = options.expandManager === true ? Math.min(maxUsersPageSize(options.select), EXPAND_MAX_PAGE_SIZE) : maxUsersPageSize(options.select);
    this.#pageSize = Math.min(options.pageSize ?? maxTop, maxTop);
    this.#adminConsentUrl = options.adminConsentUrl;
    this.#expandManager = options.expandManager === true;
  }

  /** The first request of a pass: `/v1.0/users?$select=…&$top=…` (and `$expand=manager($select=id)` with expandManager). */
  get firstPageUrl(): string {
    const url = new URL(USERS_COLLECTION_PATH, this.#requests.graphOrigin);
    url.searchParams.set("$select", this.#select.join(","));
    url.searchParams.set("$top", String(this.#pageSize));
    if (this.#expandManager) url.searchParams.set("$expand", MANAGER_EXPAND);
    return url.toString();
  }

  /**
   * Yields the directory one page at a time; only the page being handed out is held. Users are in
   * the canonical form (canonicalUser.ts: the selected properties in USER_SYNC_SELECT order). A user whose id
   * was already read in the same or the previous page is dropped (and counted as
   * graphDuplicateUsers): Graph's paging can repeat users across a page boundary. Only the ids of two
   * pages are kept, so memory stays bounded; a repeat further apart is written again under the same
   * key (an idempotent replace), so the snapshot still holds each user once.
   *
   * A link read before in the pass (or listed in `seenLinks`) fails the pass with UserSyncError
   * `graph_bad_response` (details.reason `repeated_link`) before it is requested: Graph's paging
   * would otherwise loop forever.
   */
  async *listUserPages(options: ListUserPagesOptions = {}): AsyncIterableIterator<UserPage> {
    const counters = options.counters ?? {};
    let link: string | undefined = options.startLink ?? this.firstPageUrl;
    let pageNumber = 0;
    let previousIds = new Set<string>();
    const links = new PagingLinkGuard({ page: "Graph page", consequence: "; the run stopped instead of looping, and no snapshot from it will be promoted." }, options.seenLinks);
    while (link !== undefined) {
      this.#requests.assertGraphLink(link, pageNumber === 0 && options.startLink !== undefined ? "saved @odata.nextLink" : "@odata.nextLink");
      pageNumber += 1;
      const linkDigest = links.visit(link, pageNumber);
      const response = await this.#requests.get(link, {
        counters,
        abortSignal: options.abortSignal,
        action: "list users",
        adminConsentUrl: this.#adminConsentUrl,
        describe: (failure) => describeSelectFailure(failure, this.#select, this.#adminConsentUrl),
      });
      const page = this.#parsePage(response, pageNumber);
      const ids = new Set<string>();
      const users: GraphUser[] = [];
      const managers: ManagerChange[] = [];
      for (const read of page.users) {
        if (ids.has(read.id) || previousIds.has(read.id)) {
          addCount(counters, GRAPH_COUNTERS.duplicateUsers);
          continue;
        }
        ids.add(read.id);
        // The manager is a relationship (edges), never a property of the stored user.
        const { user, change } = this.#expandManager ? takeExpandedManager(read) : { user: read, change: undefined };
        if (change) managers.push(change);
        users.push(canonicalUser(user, this.#select));
      }
      previousIds = ids;
      link = page.nextLink;
      yield { ...page, users, linkDigest, ...(this.#expandManager ? { managers } : {}) };
    }
  }

  #parsePage(response: PipelineResponse, pageNumber: number): UserPage {
    let body: unknown;
    try {
      body = JSON.parse(response.bodyAsText ?? "");
    } catch {
      throw createGraphError("badUsersPage", { pageNumber, what: "is not JSON" }, { details: { contentType: response.headers.get("content-type") ?? undefined } });
    }
    const value = (body as { value?: unknown }).value;
    if (typeof body !== "object" || body === null || !Array.isArray(value)) {
      throw createGraphError("badUsersPage", { pageNumber, what: 'has no "value" array' });
    }
    for (const [index, user] of value.entries()) {
      const id = (user as { id?: unknown } | null)?.id;
      if (typeof id !== "string" || id === "") {
        throw createGraphError("badUsersPage", { pageNumber, what: `holds a user without an id (item ${index})` }, { details: { index } });
      }
    }
    const nextLink = (body as { "@odata.nextLink"?: unknown })["@odata.nextLink"];
    if (nextLink !== undefined && typeof nextLink !== "string") {
      throw createGraphError("badUsersNextLink", { pageNumber });
    }
    return { pageNumber, users: value as GraphUser[], ...(nextLink ? { nextLink } : {}) };
  }
}

/**
 * Failures that depend on the selection: a 403 while a property needing another permission is
 * selected (signInActivity: AuditLog.Read.All), a 429 with such a property (Graph limits it
 * separately), and a 501 (a property Graph cannot list). Otherwise undefined (the usual wording).
 */
function describeSelectFailure(failure: GraphFailure, select: readonly string[], adminConsentUrl: string | undefined): UserSyncError | undefined {
  const extra = extraPermissionsOf(select);
  const names = extra.map((e) => e.property).join(", ");
  if (failure.status === 403 && extra.length > 0) {
    const permissions = [...new Set(["User.Read.All", ...extra.map((e) => e.permission)])].join(" and ");
    return createGraphError("forbiddenForSelection", { said: failure.said, names, permissions, adminConsentUrl }, { details: failure.details });
  }
  if (failure.status === 429 && extra.length > 0) {
    return createGraphError("throttledSelection", { said: failure.said, gaveUp: failure.gaveUp, names }, { details: failure.details });
  }
  if (failure.status === 501) {
    return createGraphError("notListable", { said: failure.said }, { details: failure.details });
  }
  return undefined;
}
