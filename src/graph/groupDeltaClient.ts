/**
 * Reads `/v1.0/groups/delta?$select=…,members`: a first round (every group with its members, then
 * an `@odata.deltaLink`) or a later round from a saved link (only what changed), over the same
 * request stage as the users' readers (GraphRequestClient: retries, pacing, timeouts, the token to
 * the Graph origin only) and the same paging-loop guard.
 *
 * Graph hands out about 500 member links a page: a large group's members span pages, and the same
 * group comes again on later pages carrying more `members@delta`. The reader never gathers a
 * group's members: each page yields the groups whose properties it carries and the membership
 * edges it carries, as they arrive. A group that comes again with only its id and more members is
 * not yielded again as a group (its edges are); one that comes again with its properties is
 * yielded again, to be merged by id. Memory follows the page, never the size of a group.
 */
import type { HttpClient } from "@azure/core-rest-pipeline";
import { DEFAULT_GROUP_SELECT } from "../configuration/defaults.js";
import type { OperationOptions } from "../shared/abort.js";
import type { UserSyncError } from "../shared/errors.js";
import { canonicalUser } from "./canonicalUser.js";
import { createGroupError } from "./groupErrors.js";
import { addCount, type GraphPacingSettings } from "./graphPolicies.js";
import { GraphRequestClient, type GraphFailure, type GraphRetryOptions, type GraphTokenProvider } from "./graphRequestClient.js";
import { PagingLinkGuard } from "./pagingLinks.js";
import { deltaTokenProblemOf, type DeltaTokenProblem } from "./userDeltaClient.js";

export interface GroupDeltaClientOptions {
  /** A request stage to share with the users' readers (one pipeline, one throttling pacing per process); built from these options when absent. */
  requests?: GraphRequestClient;
  /** e.g. https://graph.microsoft.com — the only origin the token is ever sent to. */
  graphEndpoint: string;
  tokenProvider: GraphTokenProvider;
  /** Group properties to read (`id` among them); `members` is added. Default DEFAULT_GROUP_SELECT. */
  select?: readonly string[];
  retryOptions?: GraphRetryOptions;
  /** Per-attempt timeout. Default 60 s. */
  requestTimeoutInMs?: number;
  pacingOptions?: Partial<GraphPacingSettings>;
  /** Explains a 403 (the admin-consent URL for the configured cloud, tenant and client). */
  adminConsentUrl?: string;
  httpClient?: HttpClient;
}

/** A group's properties as Graph returned them, in the canonical form (every selected property, `null` when left out). */
export type GraphGroup = { id: string } & Record<string, unknown>;

/** One membership edge that changed: a member joined (`removed` absent) or left the group. */
export interface MembershipEdgeChange {
  groupId: string;
  memberId: string;
  /** `user`, `group`, `device`, `servicePrincipal`, `orgContact` (the `@odata.type` without `#microsoft.graph.`). */
  memberType: string;
  /** Graph says `deleted` both when the member was removed from the group and when it was deleted from the directory. */
  removed?: { reason: string };
}

/** Why Graph removed a group: `changed` = soft-deleted (restorable about 30 days), `deleted` = permanently. */
export type GroupRemovedReason = "changed" | "deleted";

export type GroupDeltaItem = { kind: "group"; group: GraphGroup } | { kind: "removed"; id: string; reason: GroupRemovedReason };

export interface GroupDeltaPage {
  /** 1-based page number within the round. */
  pageNumber: number;
  /** Groups whose properties this page carries (one item per group id), and removed groups. */
  groups: GroupDeltaItem[];
  /** Membership changes, in the order Graph listed them. */
  edges: MembershipEdgeChange[];
  nextLink?: string;
  /** On the last page: the link that starts the next round (save it). */
  deltaLink?: string;
  /** `linkDigest` of the link that fetched this page (for a checkpoint; see ListGroupDeltaPagesOptions.seenLinks). */
  linkDigest?: string;
}

export interface ListGroupDeltaPagesOptions extends OperationOptions {
  /** A saved deltaLink, or a nextLink of an unfinished round; a first round starts without it. */
  startLink?: string;
  /** Resuming an unfinished round: the `linkDigest`s of the pages it applied. Not modified. */
  seenLinks?: Iterable<string>;
  /** The run's bag of named counts: graphRequests, … and groupDeltaPages, groupDeltaGroups, membershipChanges. */
  counters?: Record<string, number>;
}

const MEMBER_TYPE_PREFIX = "#microsoft.graph.";

export class GroupDeltaClient {
  readonly #requests: GraphRequestClient;
  readonly #select: readonly string[];
  readonly #adminConsentUrl: string | undefined;

  constructor(options: GroupDeltaClientOptions) {
    const select = (options.select ?? DEFAULT_GROUP_SELECT).filter((name) => name.toLowerCase() !== "members");
    if (!select.includes("id")) throw new Error("select must include id");
    this.#requests = options.requests ?? new GraphRequestClient(options);
    this.#select = select;
    this.#adminConsentUrl = options.adminConsentUrl;
  }

  /** The group properties read (without `members`). */
  get select(): readonly string[] {
    return this.#select;
  }

  /** The first request of a first round: `/v1.0/groups/delta?$select=…,members` (no `$top`, no `$expand`: Graph refuses both there). */
  get firstRoundUrl(): string {
    const url = new URL("/v1.0/groups/delta", this.#requests.graphOrigin);
    url.searchParams.set("$select", [...this.#select, "members"].join(","));
    return url.toString();
  }

  /** The same with `$deltatoken=latest`: a delta link from now, and no groups. */
  get latestUrl(): string {
    const url = new URL(this.firstRoundUrl);
    url.searchParams.set("$deltatoken", "latest");
    return url.toString();
  }

  /**
   * Yields one round page by page (only the page handed out is held); the last page carries the
   * deltaLink. A saved token Graph no longer accepts throws UserSyncError `graph_delta_token_invalid`
   * (details.reason: DeltaTokenProblem): start a first round instead. A 403 throws `graph_forbidden`
   * naming GroupMember.Read.All and the admin-consent URL. A nextLink read before in the round (or
   * listed in `seenLinks`) fails the round with `graph_bad_response` before it is requested.
   */
  async *listDeltaPages(options: ListGroupDeltaPagesOptions = {}): AsyncIterableIterator<GroupDeltaPage> {
    const counters = options.counters ?? {};
    let link: string | undefined = options.startLink ?? this.firstRoundUrl;
    let pageNumber = 0;
    const links = new PagingLinkGuard({ page: "Graph groups delta page", consequence: "; the run stopped instead of looping, and its delta link was not saved." }, options.seenLinks);
    while (link !== undefined) {
      this.#requests.assertGraphLink(link, pageNumber === 0 && options.startLink !== undefined ? "saved delta link" : "@odata.nextLink");
      pageNumber += 1;
      const linkDigest = links.visit(link, pageNumber);
      const response = await this.#requests.get(link, {
        counters,
        abortSignal: options.abortSignal,
        action: "list groups and their members",
        describe: (failure) => this.#describe(failure),
      });
      const page = parseGroupDeltaPage(response.bodyAsText ?? undefined, pageNumber, this.#select);
      addCount(counters, "groupDeltaPages");
      addCount(counters, "groupDeltaGroups", page.groups.length);
      addCount(counters, "membershipChanges", page.edges.length);
      link = page.nextLink;
      if (page.nextLink === undefined && page.deltaLink !== undefined) this.#requests.assertGraphLink(page.deltaLink, "@odata.deltaLink");
      yield { ...page, linkDigest };
    }
  }

  #describe(failure: GraphFailure): UserSyncError | undefined {
    if (failure.status === 403) return createGroupError("forbidden", { adminConsentUrl: this.#adminConsentUrl, said: failure.said }, { details: failure.details });
    const problem = deltaTokenProblemOf(failure.status, failure.graphCode, failure.said);
    if (problem === undefined) return undefined;
    return createGroupError(
      "deltaTokenInvalid",
      { why: WHY[problem], said: failure.said },
      { details: { ...failure.details, reason: problem, ...(problem === "gone" ? { hasLocation: failure.response.headers.has("location") } : {}) } },
    );
  }
}

const WHY: Record<DeltaTokenProblem, string> = {
  expired: "no longer knows the delta token (tokens for groups expire after 7 days)",
  invalid: "says the delta token's sync state is invalid",
  resyncRequired: "asks for a full resynchronization",
  malformed: "cannot read the delta token",
  gone: "can no longer serve the delta token and asks for a full synchronization",
};

/** Parses and checks one groups delta page; groups are put in the canonical form for `select`. Exported for unit tests. */
export function parseGroupDeltaPage(text: string | undefined, pageNumber: number, select: readonly string[]): GroupDeltaPage {
  const bad = (what: string, details: Record<string, string | number | undefined> = {}) => createGroupError("badDeltaPage", { pageNumber, what }, { details });
  let body: unknown;
  try {
    body = JSON.parse(text ?? "");
  } catch {
    throw bad("is not JSON");
  }
  if (typeof body !== "object" || body === null || !Array.isArray((body as { value?: unknown }).value)) throw bad('has no "value" array');
  const record = body as Record<string, unknown>;
  const groups = new Map<string, GroupDeltaItem>();
  const edges: MembershipEdgeChange[] = [];
  const selected = new Set(select.filter((name) => name !== "id").map((name) => name.toLowerCase()));
  for (const [index, entry] of (record.value as unknown[]).entries()) {
    const object = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    const id = object.id;
    if (typeof id !== "string" || id === "") throw bad(`holds an entry without an id (item ${index})`, { index });
    const removed = object["@removed"];
    if (removed !== undefined) {
      const reason = (removed as { reason?: unknown } | null)?.reason;
      if (reason !== "changed" && reason !== "deleted") throw bad(`holds a removed group with an unknown reason (item ${index})`, { index, reason: String(reason) });
      groups.set(id, { kind: "removed", id, reason });
      continue;
    }
    const { ["members@delta"]: members, ...properties } = object;
    // A group that comes again with only its id and more members is a continuation, not a change of its properties.
    if (Object.keys(properties).some((key) => selected.has(key.toLowerCase()))) {
      const group = canonicalUser(properties as GraphGroup, select);
      const earlier = groups.get(id);
      groups.set(id, { kind: "group", group: earlier?.kind === "group" ? { ...earlier.group, ...group } : group });
    }
    if (members === undefined) continue;
    if (!Array.isArray(members)) throw bad(`holds a group whose members@delta is not an array (item ${index})`, { index });
    for (const [at, link] of members.entries()) edges.push(edgeOf(id, link, () => bad(`holds a member without an id (item ${index}, member ${at})`, { index, member: at })));
  }
  const nextLink = record["@odata.nextLink"];
  const deltaLink = record["@odata.deltaLink"];
  if (nextLink !== undefined && typeof nextLink !== "string") throw bad("has an @odata.nextLink that is not a string");
  if (deltaLink !== undefined && typeof deltaLink !== "string") throw bad("has an @odata.deltaLink that is not a string");
  if (nextLink === undefined && deltaLink === undefined) throw bad("has neither @odata.nextLink nor @odata.deltaLink");
  const page: GroupDeltaPage = { pageNumber, groups: [...groups.values()], edges };
  if (nextLink !== undefined) page.nextLink = nextLink;
  else if (deltaLink !== undefined) page.deltaLink = deltaLink;
  return page;
}

/** One `members@delta` entry as an edge change; a missing `@odata.type` reads as Graph's base type, `directoryObject`. */
function edgeOf(groupId: string, link: unknown, bad: () => UserSyncError): MembershipEdgeChange {
  const object = (typeof link === "object" && link !== null ? link : {}) as Record<string, unknown>;
  if (typeof object.id !== "string" || object.id === "") throw bad();
  const type = typeof object["@odata.type"] === "string" ? (object["@odata.type"] as string) : `${MEMBER_TYPE_PREFIX}directoryObject`;
  const edge: MembershipEdgeChange = { groupId, memberId: object.id, memberType: type.startsWith(MEMBER_TYPE_PREFIX) ? type.slice(MEMBER_TYPE_PREFIX.length) : type.replace(/^#/, "") };
  const removed = object["@removed"];
  if (removed !== undefined) {
    const reason = (removed as { reason?: unknown } | null)?.reason;
    edge.removed = { reason: typeof reason === "string" ? reason : "deleted" };
  }
  return edge;
}
