/**
 * The simulated `GET /v1.0/groups` and `GET /v1.0/groups/delta` over SimulatedGroups (groups.ts).
 *
 * As in Graph:
 * - both need GroupMember.Read.All, Group.Read.All or Directory.Read.All (403
 *   Authorization_RequestDenied otherwise);
 * - `/groups` pages by `$top` (default 100, at most 999) and an opaque `$skiptoken`;
 * - `/groups/delta?$select=…,members` returns each group's members in `members@delta`, as
 *   `{ "@odata.type": "#microsoft.graph.<kind>", id }` (type and id only, whatever the kind), about
 *   500 links a page: a large group's members span pages, and the same group object comes again on
 *   the next page carrying more `members@delta` (only its `id` and the links, to be merged);
 * - a member that left the group, or was deleted from the directory, comes with
 *   `"@removed": { "reason": "deleted" }`; a deleted group with `@removed` (`changed`: restorable,
 *   `deleted`: for good); a restored group comes back with all its members;
 * - `$expand` and `$top` are refused on `/groups/delta` (400); `$filter` is not simulated (400);
 * - delta tokens follow the users' rules (delta.ts): the same test controls expire them
 *   (`syncStateNotFound` and its kin) or make them answer 410 Gone with a Location.
 */
import { createHmac } from "node:crypto";
import { decodeDeltaToken, encodeDeltaToken, type SimulatedDirectoryChanges } from "./delta.js";
import { authorizeGraphRequest, graphError, readQueryOptions, sameSelect } from "./graph.js";
import type { Route, SimulatedRequest, SimulatedResponse } from "./http.js";
import { openToken, sealToken } from "./sealedToken.js";
import type { TenantState } from "./state.js";
import { resolveGroupSelect, type SimulatedGroups, type SimulatedMember } from "./groups.js";

/** Roles that let an app list groups and their members (Graph's least privilege first). */
export const GROUP_READ_ROLES: readonly string[] = ["GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"];
/** Directory link objects (members) per delta page, about what Graph hands out. */
export const MEMBER_LINKS_PER_PAGE = 500;
/** Group objects per delta page at most. */
export const GROUPS_PER_DELTA_PAGE = 100;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 999;
const ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const LIST_OPTIONS = new Set(["$select", "$top", "$skiptoken"]);
const DELTA_OPTIONS = new Set(["$select", "$skiptoken", "$deltatoken", "$expand", "$top"]);

interface GroupToken {
  kind: "page" | "delta";
  /** Token generation (the users' delta controls expire both). */
  g: number;
  s: string[] | undefined;
  /** Watermark (SimulatedGroups.sequence). */
  w: number;
  f?: boolean;
  /** Group slot to resume at. */
  c?: number;
  /** Member slot to resume at within that group. */
  m?: number;
  /** The sequence number the round started at (its deltaLink's watermark). */
  u?: number;
}

function ok(state: TenantState, request: SimulatedRequest, body: Record<string, unknown>): SimulatedResponse {
  const header = request.headers["client-request-id"];
  return {
    status: 200,
    body,
    delayInMs: state.graphLatencyInMs,
    headers: {
      "request-id": request.requestId,
      "client-request-id": (Array.isArray(header) ? header[0] : header) ?? request.requestId,
      "odata-version": "4.0",
      "content-type": ODATA_JSON,
      "x-ms-resource-unit": "1",
    },
  };
}

function pick(group: Record<string, unknown>, properties: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of properties) out[p] = group[p] ?? null;
  return out;
}

function link(member: SimulatedMember, removed = false): Record<string, unknown> {
  const entry: Record<string, unknown> = { "@odata.type": `#microsoft.graph.${member.type}`, id: member.id };
  if (removed) entry["@removed"] = { reason: "deleted" };
  return entry;
}

async function listGroups(state: TenantState, groups: SimulatedGroups, request: SimulatedRequest): Promise<SimulatedResponse> {
  const denied = await authorizeGraphRequest(state, request, GROUP_READ_ROLES);
  if (denied) return denied;
  const bad = (message: string) => graphError(request, 400, "Request_BadRequest", message);
  const options = readQueryOptions(request, LIST_OPTIONS, "/groups");
  if (!(options instanceof Map)) return options;
  const key = createHmac("sha256", state.skipTokenKey).update("groups").digest();
  let select = options.get("$select")?.split(",").filter((s) => s.trim() !== "");
  let top = DEFAULT_PAGE_SIZE;
  const topText = options.get("$top");
  if (topText !== undefined) {
    top = /^\d+$/.test(topText.trim()) ? Number(topText.trim()) : NaN;
    if (!(top >= 1 && top <= MAX_PAGE_SIZE)) return bad(`Invalid page size specified: '${topText}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`);
  }
  let offset = 0;
  const skip = options.get("$skiptoken");
  if (skip !== undefined) {
    const decoded = openToken(key, skip) as { o: number; s: string[] | null; t: number } | undefined;
    if (typeof decoded !== "object" || decoded === null || !Number.isSafeInteger(decoded.o)) return bad("The specified page token value is invalid: it was altered or was not issued by this service.");
    if (select !== undefined && !sameSelect(select, decoded.s ?? undefined)) return bad("$select differs from the one the page token was issued for.");
    ({ o: offset, t: top } = decoded);
    select = decoded.s ?? undefined;
  }
  let properties: string[];
  try {
    properties = resolveGroupSelect(select);
  } catch (error) {
    return bad((error as Error).message);
  }
  const value: Array<Record<string, unknown>> = [];
  let slot = offset;
  for (; slot < groups.slotCount && value.length < top; slot++) {
    const group = groups.groupInSlot(slot);
    if (group !== undefined) value.push(pick(group, properties));
  }
  const body: Record<string, unknown> = { "@odata.context": `${state.graphEndpoint}/v1.0/$metadata#groups` };
  if (slot < groups.slotCount) {
    const next = new URLSearchParams();
    if (select !== undefined) next.set("$select", select.join(","));
    next.set("$top", String(top));
    next.set("$skiptoken", sealToken(key, { o: slot, s: select ?? null, t: top }));
    body["@odata.nextLink"] = `${state.graphEndpoint}/v1.0/groups?${next.toString()}`;
  }
  body.value = value;
  return ok(state, request, body);
}

/** A delta `$select`: the group properties, and whether members are tracked. */
function deltaSelect(select: readonly string[] | undefined): { properties: string[]; withMembers: boolean } {
  const withMembers = select?.some((p) => p.trim().toLowerCase() === "members") ?? false;
  const rest = select?.filter((p) => p.trim().toLowerCase() !== "members");
  return { properties: resolveGroupSelect(rest === undefined || rest.length > 0 ? rest : ["id"]), withMembers };
}

async function listGroupsDelta(state: TenantState, groups: SimulatedGroups, changes: SimulatedDirectoryChanges, request: SimulatedRequest): Promise<SimulatedResponse> {
  const denied = await authorizeGraphRequest(state, request, GROUP_READ_ROLES);
  if (denied) return denied;
  const bad = (message: string, code = "Request_BadRequest") => graphError(request, 400, code, message);
  const options = readQueryOptions(request, DELTA_OPTIONS, "/groups/delta");
  if (!(options instanceof Map)) return options;
  if (options.has("$expand")) return bad("The query option '$expand' is not supported with the delta function on groups; select 'members' instead.", "Request_UnsupportedQuery");
  if (options.has("$top")) return bad("The query option '$top' is not supported with the delta function on groups.", "Request_UnsupportedQuery");
  const key = createHmac("sha256", state.skipTokenKey).update("groups-delta").digest();
  const selectText = options.get("$select");
  const requested = selectText === undefined ? undefined : selectText.split(",").filter((s) => s.trim() !== "");
  const skipText = options.get("$skiptoken");
  const deltaText = options.get("$deltatoken");
  if (skipText !== undefined && deltaText !== undefined) return bad("Only one of $skiptoken and $deltatoken can be given.");

  let token: GroupToken;
  const tokenText = skipText ?? deltaText;
  if (deltaText === "latest") {
    token = { kind: "delta", g: changes.generation, s: requested, w: groups.sequence };
  } else if (tokenText === undefined) {
    token = { kind: "page", g: changes.generation, s: requested, w: 0, f: true, c: 0, m: 0, u: groups.sequence };
  } else {
    const decoded = decodeDeltaToken(key, tokenText) as GroupToken | undefined;
    if (decoded === undefined || (skipText !== undefined) !== (decoded.kind === "page")) return bad("The specified delta or skip token is invalid: it was altered or was not issued by this service.");
    const status = changes.tokenStatus(decoded.g);
    if (status === "syncStateNotFound") return bad("The sync state generation is not found. The delta token has expired; start a new round without a token.", "syncStateNotFound");
    if (status === "SyncStateInvalid") return bad("Invalid synchronization state. Start a new round without a token.", "SyncStateInvalid");
    if (status === "resyncRequired") return bad("Resync required. Replace any local items with the server's version and start a new round without a token.", "resyncRequired");
    if (status === "badlyFormed") return bad("Badly formed token.");
    if (status === "gone") {
      const restart = new URLSearchParams();
      if (decoded.s !== undefined) restart.set("$select", decoded.s.join(","));
      const location = `${state.graphEndpoint}/v1.0/groups/delta${restart.size > 0 ? `?${restart.toString()}` : ""}`;
      return graphError(request, 410, "resyncRequired", "The delta token can no longer be served; start a full synchronization at the Location given.", { location });
    }
    if (selectText !== undefined && !sameSelect(requested, decoded.s)) return bad("$select differs from the one the delta token was issued for; query parameters can only be given on the first request.");
    token = decoded.kind === "delta" ? { kind: "page", g: decoded.g, s: decoded.s, w: decoded.w, f: false, c: 0, m: 0, u: groups.sequence } : decoded;
  }
  let properties: string[];
  let withMembers: boolean;
  try {
    ({ properties, withMembers } = deltaSelect(token.s));
  } catch (error) {
    return bad((error as Error).message);
  }
  const deltaLinkOf = (t: GroupToken) => `${state.graphEndpoint}/v1.0/groups/delta?$deltatoken=${encodeDeltaToken(key, t)}`;
  const body = (value: Array<Record<string, unknown>>, links: { next?: GroupToken; delta?: GroupToken }) => {
    const out: Record<string, unknown> = { "@odata.context": `${state.graphEndpoint}/v1.0/$metadata#groups` };
    if (links.next) out["@odata.nextLink"] = `${state.graphEndpoint}/v1.0/groups/delta?$skiptoken=${encodeDeltaToken(key, links.next)}`;
    if (links.delta) out["@odata.deltaLink"] = deltaLinkOf(links.delta);
    out.value = value;
    return ok(state, request, out);
  };
  if (token.kind === "delta") return body([], { delta: token });

  const page = token.f ? firstRoundPage(groups, token, properties, withMembers) : changesPage(groups, token, properties, withMembers);
  if (page.resume !== undefined) return body(page.value, { next: { ...token, c: page.resume.c, m: page.resume.m } });
  return body(page.value, { delta: { kind: "delta", g: changes.generation, s: token.s, w: token.u! } });
}

interface Page {
  value: Array<Record<string, unknown>>;
  /** Where the next page starts; undefined at the end of the round. */
  resume?: { c: number; m: number };
}

/** Adds members from member slot `from` until the page is full; returns the member slot to resume at, or undefined when the group is done. */
function fillMembers(
  object: Record<string, unknown>,
  budget: { links: number },
  from: number,
  end: number,
  memberAt: (memberSlot: number) => Record<string, unknown> | undefined,
): number | undefined {
  const links: Array<Record<string, unknown>> = [];
  let m = from;
  for (; m < end && budget.links < MEMBER_LINKS_PER_PAGE; m++) {
    const entry = memberAt(m);
    if (entry === undefined) continue;
    links.push(entry);
    budget.links += 1;
  }
  object["members@delta"] = links;
  return m < end ? m : undefined;
}

function firstRoundPage(groups: SimulatedGroups, token: GroupToken, properties: string[], withMembers: boolean): Page {
  const value: Array<Record<string, unknown>> = [];
  const budget = { links: 0 };
  let slot = token.c!;
  let m = token.m ?? 0;
  for (; slot < groups.slotCount; slot++, m = 0) {
    if (value.length >= GROUPS_PER_DELTA_PAGE || budget.links >= MEMBER_LINKS_PER_PAGE) return { value, resume: { c: slot, m } };
    const group = groups.groupInSlot(slot);
    if (group === undefined) continue;
    // A group continued from the page before: only its id and more members.
    const object = m === 0 ? pick(group, properties) : { id: group.id };
    value.push(object);
    if (!withMembers) continue;
    const s = slot;
    const more = fillMembers(object, budget, m, groups.memberSlotCount(slot), (ms) => {
      const member = groups.memberInSlot(s, ms);
      return member === undefined ? undefined : link(member);
    });
    if (more !== undefined) return { value, resume: { c: slot, m: more } };
  }
  return { value };
}

function changesPage(groups: SimulatedGroups, token: GroupToken, properties: string[], withMembers: boolean): Page {
  const value: Array<Record<string, unknown>> = [];
  const budget = { links: 0 };
  for (const change of groups.changesSince(token.w, token.c!)) {
    const m = change.slot === token.c ? (token.m ?? 0) : 0;
    if (value.length >= GROUPS_PER_DELTA_PAGE || budget.links >= MEMBER_LINKS_PER_PAGE) return { value, resume: { c: change.slot, m } };
    if (change.lifecycle !== "present") {
      value.push({ id: change.id, "@removed": { reason: change.lifecycle === "softDeleted" ? "changed" : "deleted" } });
      continue;
    }
    const group = groups.groupInSlot(change.slot)!;
    const membersChanged = withMembers && (change.reappeared || change.changedMembers.length > 0);
    if (!change.reappeared && !change.propertiesChanged(properties) && !membersChanged) continue;
    const object = m === 0 ? pick(group, properties) : { id: change.id };
    value.push(object);
    if (!withMembers) continue;
    let more: number | undefined;
    if (change.reappeared) {
      more = fillMembers(object, budget, m, groups.memberSlotCount(change.slot), (ms) => {
        const member = groups.memberInSlot(change.slot, ms);
        return member === undefined ? undefined : link(member);
      });
    } else {
      const bySlot = new Map(change.changedMembers.map((e) => [e.slot, e]));
      const end = (change.changedMembers.at(-1)?.slot ?? -1) + 1;
      more = fillMembers(object, budget, m, end, (ms) => {
        const entry = bySlot.get(ms);
        return entry === undefined ? undefined : link(entry.member, !entry.present);
      });
    }
    if (more !== undefined) return { value, resume: { c: change.slot, m: more } };
  }
  return { value };
}

export function groupRoutes(state: TenantState, groups: SimulatedGroups, changes: SimulatedDirectoryChanges): Route[] {
  return [
    { service: "graph", method: "GET", path: /^\/v1\.0\/groups\/?$/, handler: (request) => listGroups(state, groups, request) },
    {
      service: "graph",
      method: "GET",
      path: /^\/v1\.0\/groups\/(?:microsoft\.graph\.)?delta(?:\(\))?\/?$/,
      handler: (request) => listGroupsDelta(state, groups, changes, request),
    },
  ];
}
