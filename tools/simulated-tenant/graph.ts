/**
 * The simulated Microsoft Graph: `GET /v1.0/users` with bearer-token checks, `$select`, `$top` and
 * opaque, tamper-evident `$skiptoken` paging. Each page is generated from its index range only.
 * With the directory's changes (delta.ts), `/users` shows the directory as it is now: the changes a
 * test made, no deleted users, and added users after the generated ones, so that a full snapshot
 * and `/users/delta` agree.
 */
import { jsonResponse, type Route, type SimulatedRequest, type SimulatedResponse } from "./http.js";
import { openToken, sealToken } from "./sealedToken.js";
import type { TenantState } from "./state.js";
import { resolveSelect, selectsSignInActivity, singleUserOnlyProperty } from "./users.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 999;
/** `$top` limit when signInActivity is selected. */
export const MAX_SIGN_IN_ACTIVITY_PAGE_SIZE = 500;
const ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const SUPPORTED_QUERY_OPTIONS = new Set(["$select", "$top", "$skiptoken", "$expand"]);
/** The one `$expand` simulated on `/users`: the manager (its id only, whatever the inner `$select`). */
const MANAGER_EXPAND = /^manager(\(\s*\$select\s*=\s*id\s*\))?$/i;

export interface SkipTokenState {
  /** Index of the next user. */
  offset: number;
  /** The `$select` as the client gave it (undefined: the default set). */
  select: string[] | undefined;
  top: number;
  /** `$expand=manager($select=id)` was asked. */
  expandManager?: boolean;
}

export function encodeSkipToken(key: Buffer, state: SkipTokenState): string {
  return sealToken(key, { v: 1, o: state.offset, s: state.select ?? null, t: state.top, ...(state.expandManager ? { x: 1 } : {}) });
}

/** The token's state, or undefined when it was not made by this tenant or was altered. */
export function decodeSkipToken(key: Buffer, token: string): SkipTokenState | undefined {
  const parsed = openToken(key, token) as { v: number; o: number; s: string[] | null; t: number; x?: 1 } | undefined;
  if (typeof parsed !== "object" || parsed === null || parsed.v !== 1 || !Number.isSafeInteger(parsed.o) || !Number.isSafeInteger(parsed.t)) return undefined;
  return { offset: parsed.o, select: parsed.s ?? undefined, top: parsed.t, ...(parsed.x === 1 ? { expandManager: true } : {}) };
}

function headerValue(request: SimulatedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function graphHeaders(request: SimulatedRequest): Record<string, string> {
  const clientRequestId = headerValue(request, "client-request-id") ?? request.requestId;
  return {
    "request-id": request.requestId,
    "client-request-id": clientRequestId,
    "x-ms-ags-diagnostic": JSON.stringify({ ServerInfo: { DataCenter: "Simulated", Slice: "E", Ring: "0", ScaleUnit: "000", RoleInstance: "SIMULATED" } }),
    "odata-version": "4.0",
  };
}

export function graphError(request: SimulatedRequest, status: number, code: string, message: string, headers: Record<string, string> = {}): SimulatedResponse {
  const base = graphHeaders(request);
  return jsonResponse(
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d{3}Z$/, ""),
          "request-id": request.requestId,
          "client-request-id": base["client-request-id"],
        },
      },
    },
    { ...base, ...headers },
  );
}

/**
 * Checks the bearer token of a Graph request. Returns the error response, or undefined when the
 * token is valid for this tenant and carries `requiredRole` (one of them, when several are given).
 */
export async function authorizeGraphRequest(state: TenantState, request: SimulatedRequest, requiredRole: string | readonly string[]): Promise<SimulatedResponse | undefined> {
  const authorization = headerValue(request, "authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  const challenge = {
    "www-authenticate": `Bearer realm="", authorization_uri="${state.authorityHost}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
  };
  const verification = await state.tokens.verify(match?.[1], state.graphResources);
  if (!verification.ok) return graphError(request, 401, "InvalidAuthenticationToken", verification.message, challenge);
  if (verification.claims.tid !== state.tenantId) {
    return graphError(request, 401, "InvalidAuthenticationToken", "Access token validation failure. The token was issued for another tenant.", challenge);
  }
  const roles = Array.isArray(verification.claims.roles) ? verification.claims.roles : [];
  const accepted: readonly string[] = typeof requiredRole === "string" ? [requiredRole] : requiredRole;
  if (!accepted.some((role) => roles.includes(role))) {
    return graphError(request, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  }
  return undefined;
}

/** Whether two `$select` lists name the same properties in the same order (names are case-insensitive). */
export function sameSelect(a: string[] | undefined, b: string[] | undefined): boolean {
  const norm = (s: string[] | undefined) => (s === undefined ? "" : s.map((x) => x.trim().toLowerCase()).join(","));
  return norm(a) === norm(b);
}

/**
 * A collection request's query options as Graph reads them, by lower-case name (the first when a
 * name is given in two spellings), or Graph's 400 for a `$` option `supported` does not hold or one
 * given twice. `path` names the collection in the message.
 */
export function readQueryOptions(request: SimulatedRequest, supported: ReadonlySet<string>, path: string): Map<string, string> | SimulatedResponse {
  const bad = (message: string) => graphError(request, 400, "Request_BadRequest", message);
  const query = request.url.searchParams;
  for (const name of new Set(query.keys())) {
    if (name.startsWith("$") && !supported.has(name.toLowerCase())) {
      return bad(`The query option '${name}' is not supported by the simulated tenant on ${path}.`);
    }
    if (query.getAll(name).length > 1) return bad(`Query option '${name}' was specified more than once, but it can be specified at most once.`);
  }
  const options = new Map<string, string>();
  for (const [key, value] of query) if (!options.has(key.toLowerCase())) options.set(key.toLowerCase(), value);
  return options;
}

/** The directory as changed by a test (SimulatedDirectoryChanges): users by slot, deleted ones undefined. */
export interface CurrentDirectory {
  readonly slotCount: number;
  userInSlot(slot: number, properties: readonly string[]): Record<string, unknown> | undefined;
  /** The id of the manager of the user in a slot, or undefined when it has none. */
  managerIdInSlot(slot: number): string | undefined;
}

async function listUsers(state: TenantState, request: SimulatedRequest, current: CurrentDirectory | undefined): Promise<SimulatedResponse> {
  const denied = await authorizeGraphRequest(state, request, "User.Read.All");
  if (denied) return denied;
  const bad = (message: string) => graphError(request, 400, "Request_BadRequest", message);
  const options = readQueryOptions(request, SUPPORTED_QUERY_OPTIONS, "/users");
  if (!(options instanceof Map)) return options;
  const selectText = options.get("$select");
  const topText = options.get("$top");
  const skipTokenText = options.get("$skiptoken");
  const expandText = options.get("$expand");
  if (expandText !== undefined && !MANAGER_EXPAND.test(expandText.trim())) {
    return bad(`The simulated tenant expands only manager($select=id) on /users (got '${expandText}').`);
  }
  let expandManager = expandText !== undefined;

  let select: string[] | undefined = selectText === undefined ? undefined : selectText.split(",").filter((s) => s.trim() !== "");
  let top = DEFAULT_PAGE_SIZE;
  if (topText !== undefined) {
    if (!/^\d+$/.test(topText.trim())) return bad(`Invalid page size specified: '${topText}'. It must be a whole number between 1 and ${MAX_PAGE_SIZE}.`);
    top = Number(topText.trim());
    if (top < 1 || top > MAX_PAGE_SIZE) return bad(`Invalid page size specified: '${topText}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`);
  }
  let offset = 0;
  if (skipTokenText !== undefined) {
    const decoded = decodeSkipToken(state.skipTokenKey, skipTokenText);
    if (decoded === undefined) return bad("The specified page token value is invalid: it was altered or was not issued by this service.");
    if (selectText !== undefined && !sameSelect(select, decoded.select)) return bad("$select differs from the one the page token was issued for.");
    if (topText !== undefined && top !== decoded.top) return bad("$top differs from the one the page token was issued for.");
    ({ offset, select, top } = decoded);
    expandManager = decoded.expandManager === true;
  }
  // As Graph: properties stored outside the directory are not returned in a collection.
  if (singleUserOnlyProperty(select) !== undefined) return graphError(request, 501, "NotImplemented", "This operation target is not yet supported.");
  if (selectsSignInActivity(select)) {
    if (top > MAX_SIGN_IN_ACTIVITY_PAGE_SIZE) return bad(`Invalid page size specified: '${top}'. Must be between 1 and ${MAX_SIGN_IN_ACTIVITY_PAGE_SIZE} inclusive when signInActivity is selected.`);
    const denied = await authorizeGraphRequest(state, request, "AuditLog.Read.All");
    if (denied) return denied;
  }
  let properties: readonly string[];
  try {
    properties = resolveSelect(select);
  } catch (error) {
    return bad((error as Error).message);
  }

  const directory = state.directory;
  // As Graph: `manager` is the expanded object (here its id), absent for a user without one.
  const withManager = (user: Record<string, unknown>, slot: number): Record<string, unknown> => {
    if (!expandManager) return user;
    const managerId = current !== undefined ? current.managerIdInSlot(slot) : slot >= 1 ? directory.userAt(Math.floor((slot - 1) / 8), ["id"]).id : undefined;
    if (managerId !== undefined) user.manager = { "@odata.type": "#microsoft.graph.user", id: managerId };
    return user;
  };
  // Graph may return fewer users than $top: a tenant can be set to return pages of at most graphPageSize.
  const pageSize = Math.min(top, state.graphPageSize ?? top);
  const value: Array<Record<string, unknown>> = [];
  let end: number;
  let slots: number;
  if (current === undefined) {
    slots = directory.userCount;
    end = Math.min(offset + pageSize, slots);
    for (let index = offset; index < end; index++) value.push(withManager(directory.userAt(index, properties), index));
  } else {
    // Skiptoken offsets are slots: deleted users leave theirs empty, so pages stay stable.
    slots = current.slotCount;
    end = offset;
    for (; end < slots && value.length < pageSize; end++) {
      const user = current.userInSlot(end, properties);
      if (user !== undefined) value.push(withManager(user, end));
    }
    while (end < slots && current.userInSlot(end, ["id"]) === undefined) end++;
  }
  const contextSuffix = select === undefined ? "" : `(${properties.join(",")})`;
  const body: Record<string, unknown> = { "@odata.context": `${state.graphEndpoint}/v1.0/$metadata#users${contextSuffix}` };
  if (end < slots) {
    const next = new URLSearchParams();
    if (select !== undefined) next.set("$select", select.join(","));
    next.set("$top", String(top));
    if (expandManager) next.set("$expand", "manager($select=id)");
    next.set("$skiptoken", encodeSkipToken(state.skipTokenKey, { offset: end, select, top, expandManager }));
    body["@odata.nextLink"] = `${state.graphEndpoint}/v1.0/users?${next.toString()}`;
  }
  body.value = value;
  return {
    status: 200,
    body,
    delayInMs: state.graphLatencyInMs,
    headers: {
      ...graphHeaders(request),
      "content-type": ODATA_JSON,
      "x-ms-resource-unit": String((select === undefined ? 2 : 1) + (expandManager ? 1 : 0)),
    },
  };
}

export function graphRoutes(state: TenantState, current?: CurrentDirectory): Route[] {
  return [{ service: "graph", method: "GET", path: /^\/v1\.0\/users\/?$/, handler: (request) => listUsers(state, request, current) }];
}

export function graphNotFound(request: SimulatedRequest): SimulatedResponse {
  const segment = request.url.pathname.split("/").filter((s) => s !== "").slice(1).join("/") || request.url.pathname;
  return graphError(request, 400, "BadRequest", `Resource not found for the segment '${segment}'.`);
}
