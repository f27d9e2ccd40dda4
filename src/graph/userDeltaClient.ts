/**
 * Reads `/v1.0/users/delta`: a first round (every user, then an `@odata.deltaLink`) or a later round
 * from a saved deltaLink (only what changed). Same pipeline as GraphUsersClient: Azure Core with the
 * Graph retry strategy, pacing, a per-attempt timeout, and the Graph token sent to the configured
 * Graph origin only (over https), with one forced refresh after a 401.
 */
import type { HttpClient } from "@azure/core-rest-pipeline";
import { deltaSelectOf, snapshotOnlyProperties, type UserPropertyRule } from "../configuration/userProperties.js";
import type { UserSyncError } from "../shared/errors.js";
import { canonicalUser } from "./canonicalUser.js";
import { addCount, type GraphPacingSettings } from "./graphPolicies.js";
import { GraphRequestClient, type GraphFailure, type GraphRetryOptions, type GraphTokenProvider } from "./graphRequestClient.js";
import { PagingLinkGuard } from "./pagingLinks.js";
import type { GraphUser } from "./types.js";
import type { OperationOptions } from "../shared/abort.js";
import { createGraphError } from "./graphErrors.js";
import { MANAGER_PROPERTY, takeManagerDelta, type ManagerChange } from "./managerLinks.js";

export { linkDigest } from "./pagingLinks.js";

/** The users' delta endpoint, from the Graph origin (the users' kind declares it: src/kinds/users.ts). */
export const USERS_DELTA_PATH = "/v1.0/users/delta";

export interface UserDeltaClientOptions {
  /** A request stage to share with the other reader (one pipeline, one throttling pacing per process); built from these options when absent. */
  requests?: GraphRequestClient;
  /** e.g. https://graph.microsoft.com — the only origin the token is ever sent to. */
  graphEndpoint: string;
  tokenProvider: GraphTokenProvider;
  /**
   * USER_SYNC_SELECT; `id` must be among them. A first round selects these minus the properties
   * delta cannot track (userProperties.ts: snapshots only). Later rounds carry it in the token.
   */
  select: readonly string[];
  retryOptions?: GraphRetryOptions;
  /** Per-attempt timeout. Default 60 s. */
  requestTimeoutInMs?: number;
  pacingOptions?: Partial<GraphPacingSettings>;
  /** Explains a 403 (the admin-consent URL for the configured cloud, tenant and client). */
  adminConsentUrl?: string;
  httpClient?: HttpClient;
  /**
   * USER_SYNC_GROUPS: a first round selects `manager` too (after the properties), so that rounds
   * hand out `manager@delta` (`DeltaPage.managers`); the manager never becomes a user property.
   */
  manager?: boolean;
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
  /** `linkDigest` of the link that fetched this page: a checkpoint of an unfinished round saves those of applied pages (see ListDeltaPagesOptions.seenLinks). */
  linkDigest?: string;
  /** With `manager` selected: the users whose `manager@delta` the page carries (null: the manager was cleared). */
  managers?: ManagerChange[];
}

export interface ListDeltaPagesOptions extends OperationOptions {
  /**
   * A saved `@odata.deltaLink` (or a `@odata.nextLink` of an unfinished round). Without it, a first
   * round starts. It is checked like every link: https, and the configured Graph origin only.
   */
  startLink?: string;
  /**
   * Resuming an unfinished round from one of its nextLinks: the digests (`linkDigest`) of the links
   * the round read before it paused. A link among them fails the round as a loop, as a link read
   * earlier in this call does. Save the `linkDigest` of each page applied, not of each page requested.
   * Not modified.
   */
  seenLinks?: Iterable<string>;
  /** The run's bag of named counts: graphRequests, graphRetries, ... and deltaPages, deltaItems. */
  counters?: Record<string, number>;
}

/**
 * Why a saved token cannot be used, from UserSyncError `graph_delta_token_invalid`'s details.reason:
 * - `expired`: 400 `syncStateNotFound` (tokens for users last 7 days);
 * - `invalid`: 400 `SyncStateInvalid`;
 * - `resyncRequired`: 400 `resyncRequired`;
 * - `malformed`: 400 saying the token is badly formed or invalid;
 * - `gone`: 410 Gone (Graph asks for a full synchronization).
 */
export type DeltaTokenProblem = "expired" | "invalid" | "resyncRequired" | "malformed" | "gone";

export class UserDeltaClient {
  readonly #requests: GraphRequestClient;
  readonly #select: readonly string[];
  /** The users' properties (#select without `manager`): their canonical form. */
  readonly #properties: readonly string[];
  readonly #manager: boolean;
  readonly #snapshotOnly: readonly UserPropertyRule[];
  readonly #adminConsentUrl: string | undefined;

  constructor(options: UserDeltaClientOptions) {
    if (!options.select.includes("id")) throw new Error("select must include id");
    // A 410's Location is not followed either: the pipeline follows no redirect.
    this.#requests = options.requests ?? new GraphRequestClient(options);
    this.#properties = deltaSelectOf(options.select);
    this.#manager = options.manager === true;
    this.#select = this.#manager ? [...this.#properties, MANAGER_PROPERTY] : this.#properties;
    this.#snapshotOnly = snapshotOnlyProperties(options.select);
    this.#adminConsentUrl = options.adminConsentUrl;
  }

  /** The properties a first round selects: USER_SYNC_SELECT without the snapshot-only ones (then `manager`, with USER_SYNC_GROUPS). */
  get select(): readonly string[] {
    return this.#select;
  }

  /** The selected properties delta cannot track, left to snapshots (with the reason of each). */
  get snapshotOnly(): readonly UserPropertyRule[] {
    return this.#snapshotOnly;
  }

  /** The first request of a first round: `/v1.0/users/delta?$select=…` (no `$top`: Graph ignores it). */
  get firstRoundUrl(): string {
    const url = new URL(USERS_DELTA_PATH, this.#requests.graphOrigin);
    url.searchParams.set("$select", this.#select.join(","));
    return url.toString();
  }

  /** `/v1.0/users/delta?$select=…&$deltatoken=latest`: Graph answers with a delta link from now and no users. */
  get latestUrl(): string {
    const url = new URL(this.firstRoundUrl);
    url.searchParams.set("$deltatoken", "latest");
    return url.toString();
  }

  /**
   * "Sync from now": one request for a delta link that returns what changes from this moment on,
   * without reading the directory (the mirror's full round reads it through `/users`). Checked like
   * every delta link (https, the configured Graph origin).
   */
  async latestDeltaLink(options: OperationOptions & { counters?: Record<string, number> } = {}): Promise<string> {
    let deltaLink: string | undefined;
    for await (const page of this.listDeltaPages({ ...options, startLink: this.latestUrl })) deltaLink = page.deltaLink ?? deltaLink;
    // listDeltaPages ends only after a page that carries a deltaLink.
    return deltaLink!;
  }

  /**
   * Yields one round page by page (only the page handed out is held). The last page carries the
   * deltaLink. Users are in the canonical form (canonicalUser.ts): every selected property, `null`
   * when Graph left it out. A page may be empty and still have a nextLink. A saved token that Graph
   * no longer accepts (see DeltaTokenProblem) throws UserSyncError `graph_delta_token_invalid` with
   * details.reason saying which: start a first round instead. A nextLink read before in the round (or listed in `seenLinks`) fails the round
   * with UserSyncError `graph_bad_response` (details.reason `repeated_link`) before it is requested.
   */
  async *listDeltaPages(options: ListDeltaPagesOptions = {}): AsyncIterableIterator<DeltaPage> {
    const counters = options.counters ?? {};
    let link: string | undefined = options.startLink ?? this.firstRoundUrl;
    let pageNumber = 0;
    const links = new PagingLinkGuard({ page: "Graph delta page", consequence: "; the run stopped instead of looping, and its delta link was not saved." }, options.seenLinks);
    while (link !== undefined) {
      this.#requests.assertGraphLink(link, pageNumber === 0 && options.startLink !== undefined ? "saved delta link" : "@odata.nextLink");
      pageNumber += 1;
      const linkDigest = links.visit(link, pageNumber);
      const response = await this.#requests.get(link, {
        counters,
        abortSignal: options.abortSignal,
        action: "list user changes",
        adminConsentUrl: this.#adminConsentUrl,
        describe: describeDeltaTokenFailure,
      });
      const page = parseDeltaPage(response.bodyAsText ?? undefined, pageNumber, this.#properties, this.#manager);
      addCount(counters, "deltaPages");
      addCount(counters, "deltaItems", page.items.length);
      link = page.nextLink;
      if (page.nextLink === undefined && page.deltaLink !== undefined) this.#requests.assertGraphLink(page.deltaLink, "@odata.deltaLink");
      yield { ...page, linkDigest };
    }
  }
}

/** Graph error codes that say a saved token is no longer valid (compared case-insensitively). */
const TOKEN_CODES: ReadonlyMap<string, DeltaTokenProblem> = new Map([
  ["syncstatenotfound", "expired"],
  ["syncstateinvalid", "invalid"],
  ["resyncrequired", "resyncRequired"],
]);
/** A 400 whose message says the token itself is bad ("Badly formed token", "Invalid delta token", …). */
const BAD_TOKEN_MESSAGE = /\b(badly formed|malformed|invalid|not valid|cannot be parsed|could not be parsed)\b[^.]*\b(delta ?token|skip ?token|token)\b|\b(delta ?token|skip ?token|token)\b[^.]*\b(badly formed|malformed|invalid|not valid)\b/i;

const WHY: Record<DeltaTokenProblem, string> = {
  expired: "no longer knows the delta token (tokens for users expire after 7 days)",
  invalid: "says the delta token's sync state is invalid",
  resyncRequired: "asks for a full resynchronization",
  malformed: "cannot read the delta token",
  gone: "can no longer serve the delta token and asks for a full synchronization",
};

/**
 * Whether a Graph failure says the saved token cannot be used (Graph documents "a 40X-series error
 * with error codes such as syncStateNotFound"): one of TOKEN_CODES on any 4xx but 401, 403 and 429;
 * a 400 that says the token is badly formed; or 410 Gone. Anything else is not about the token.
 * Exported for unit tests.
 */
export function deltaTokenProblemOf(status: number, graphCode: string, message: string): DeltaTokenProblem | undefined {
  if (status === 410) return "gone";
  if (status < 400 || status >= 500 || status === 401 || status === 403 || status === 429) return undefined;
  const known = TOKEN_CODES.get(graphCode.toLowerCase());
  if (known) return known;
  if (status === 400 && BAD_TOKEN_MESSAGE.test(message)) return "malformed";
  return undefined;
}

/** A saved token Graph no longer accepts: graph_delta_token_invalid, with details.reason (DeltaTokenProblem). */
function describeDeltaTokenFailure(failure: GraphFailure): UserSyncError | undefined {
  const problem = deltaTokenProblemOf(failure.status, failure.graphCode, failure.said);
  if (problem === undefined) return undefined;
  return createGraphError("deltaTokenInvalid", { why: WHY[problem], said: failure.said }, {
    details: { ...failure.details, reason: problem, ...(problem === "gone" ? { hasLocation: failure.response.headers.has("location") } : {}) },
  });
}

/**
 * Parses and checks one delta page; with `select`, users are put in the canonical form; with
 * `manager`, their `manager@delta` is taken off them into `page.managers`. Exported for unit tests.
 */
export function parseDeltaPage(text: string | undefined, pageNumber: number, select?: readonly string[], manager = false): DeltaPage {
  const bad = (what: string, details: Record<string, string | number | undefined> = {}) =>
    createGraphError("badDeltaPage", { pageNumber, what }, { details });
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
  const managers: ManagerChange[] = [];
  for (const [index, entry] of value.entries()) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id !== "string" || id === "") throw bad(`holds an entry without an id (item ${index})`, { index });
    const removed = (entry as { "@removed"?: unknown })["@removed"];
    if (removed !== undefined) {
      const reason = (removed as { reason?: unknown } | null)?.reason;
      if (reason !== "changed" && reason !== "deleted") throw bad(`holds a removed entry with an unknown reason (item ${index})`, { index, reason: String(reason) });
      items.push({ kind: "removed", id, reason });
    } else {
      const { user, change } = manager ? takeManagerDelta(entry as GraphUser) : { user: entry as GraphUser, change: undefined };
      if (change) managers.push(change);
      items.push({ kind: "user", user: select ? canonicalUser(user, select) : user });
    }
  }
  const nextLink = record["@odata.nextLink"];
  const deltaLink = record["@odata.deltaLink"];
  if (nextLink !== undefined && typeof nextLink !== "string") throw bad("has an @odata.nextLink that is not a string");
  if (deltaLink !== undefined && typeof deltaLink !== "string") throw bad("has an @odata.deltaLink that is not a string");
  if (nextLink === undefined && deltaLink === undefined) throw bad("has neither @odata.nextLink nor @odata.deltaLink");
  const page: DeltaPage = { pageNumber, items, ...(manager ? { managers } : {}) };
  if (nextLink !== undefined) page.nextLink = nextLink;
  else if (deltaLink !== undefined) page.deltaLink = deltaLink;
  return page;
}
