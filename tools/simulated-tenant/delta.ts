/**
 * The simulated `GET /v1.0/users/delta`, and the changes a test makes to the directory between runs.
 *
 * The generated directory (users.ts) is immutable; `DirectoryChanges` is a small overlay on it that
 * holds only the users a test touched: added users, changed properties, soft and hard deletes,
 * restores. Memory follows the number of changes, never the size of the directory.
 *
 * Every change gets the next sequence number. A delta token remembers the sequence number it was
 * issued at (its watermark): a later round returns the users whose tracked state changed after it.
 * As in Graph:
 * - a first round (no token) lists every current user, about 200 per page whatever `$top`, then a
 *   deltaLink; a change made during a round is returned again by the next round (replay);
 * - `$select` is given once, on the first request, and lives in the tokens; only changes to
 *   selected properties (and deletes, restores, adds) make a user come back;
 * - removed users come back as `{ id, "@removed": { reason: "changed" | "deleted" } }`;
 * - every page after the first repeats the last user of the page before (Graph may return a user
 *   more than once; clients must be idempotent);
 * - users leave out properties that were never set (`/users` shows them as null); a property
 *   cleared since the token was issued comes back as null;
 * - `$select=manager` adds a `manager@delta` annotation with the manager's id (generated user i
 *   reports to user ⌊(i−1)/8⌋; `setManager` changes it, and a cleared manager comes back once as
 *   the old one with `@removed`); `signInActivity` is refused (400), and properties Graph returns only
 *   for a single user answer 501, as on `/users`;
 * - a token that can no longer be used answers as Graph does: 400 `syncStateNotFound`,
 *   `SyncStateInvalid`, `resyncRequired` or a badly formed token, or 410 Gone with a `Location` to
 *   start over (test controls make each happen);
 * - scenario switches (`scenario`): first rounds that also list users soft-deleted in the last 30
 *   days as `@removed` (Graph does), and empty pages with a nextLink before every page.
 */
import { createHash, createHmac } from "node:crypto";
import type { GraphUser } from "../../src/graph/types.js";
import { authorizeGraphRequest, graphError, readQueryOptions, sameSelect } from "./graph.js";
import type { Route, SimulatedRequest, SimulatedResponse } from "./http.js";
import { openToken, sealToken } from "./sealedToken.js";
import type { TenantState } from "./state.js";
import { canonicalUserProperty, resolveSelect, selectsSignInActivity, SIMULATED_USER_PROPERTIES, singleUserOnlyProperty, type SimulatedDirectory } from "./users.js";

/** Users per delta page (Graph: about 200, whatever `$top`). */
export const DELTA_PAGE_SIZE = 200;
const ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const SUPPORTED_QUERY_OPTIONS = new Set(["$select", "$top", "$skiptoken", "$deltatoken"]);

/** A generated user by its 0-based index, or any user by its object id once a test touched it. */
export type SimulatedUserRef = number | string;

type Lifecycle = "present" | "softDeleted" | "hardDeleted";

interface ChangedUser {
  id: string;
  /** The generated user's index; undefined for users a test added. */
  index: number | undefined;
  /** Property values that differ from the generated user (every property, for added users). */
  overrides: Record<string, unknown>;
  lifecycle: Lifecycle;
  /** Sequence number of the latest change of any kind. */
  seq: number;
  /** Sequence number of the latest add, delete or restore. */
  lifecycleSeq: number;
  /** Sequence number of the latest change of each property (`manager` for the manager). */
  propertySeq: Map<string, number>;
  /** The manager's id set by a test (null: none); undefined: the generated one. */
  managerId?: string | null;
  /** The manager before the latest change (for `manager@delta`'s `@removed`). */
  previousManagerId?: string;
}

/** Told when a user leaves or comes back, so that its group memberships follow (groups.ts). */
export interface UserLifecycleListener {
  userRemoved(id: string, index: number | undefined): void;
  userRestored(id: string, index: number | undefined): void;
}

/** How a refused delta token is answered (all 400s; `invalidateDeltaTokens` gives the 410). */
export type DeltaTokenRefusal = "syncStateNotFound" | "SyncStateInvalid" | "resyncRequired" | "badlyFormed";

/** Graph behaviours a test turns on or off (the defaults are what the comments say). */
export interface DeltaScenario {
  /** Users leave out properties that were never set. Default true (Graph does). */
  omitUnset: boolean;
  /** First rounds end with `@removed` (reason `changed`) for every soft-deleted user. Default false. */
  firstRoundRemovals: boolean;
  /** Every page is preceded by an empty page with a nextLink. Default false. */
  emptyPages: boolean;
}

/** Test controls: change the directory between runs, and invalidate delta tokens. */
export interface DirectoryChanges {
  /** Switches of the delta endpoint's behaviour; change them between runs. */
  readonly scenario: DeltaScenario;
  /** Changes made so far (the sequence number of the latest one). */
  readonly sequence: number;
  /** The object id of the generated user at `index`. */
  userIdAt(index: number): string;
  /** The user as Graph shows it now (every simulated property), or undefined when deleted. */
  currentUser(ref: SimulatedUserRef): GraphUser | undefined;
  /** Adds a user (unset properties are null) and returns its object id. */
  addUser(properties?: Record<string, unknown>): string;
  /** Sets properties (null clears one). Names are Graph's; `id` cannot change. */
  changeUser(ref: SimulatedUserRef, properties: Record<string, unknown>): void;
  /** Changes the userPrincipalName (and mail, when it equalled the old UPN). */
  renameUser(ref: SimulatedUserRef, userPrincipalName: string): void;
  /** Moves the user to the deleted items (restorable): delta reports `@removed` reason `changed`. */
  softDeleteUser(ref: SimulatedUserRef): void;
  /** Deletes the user for good: delta reports `@removed` reason `deleted`. */
  hardDeleteUser(ref: SimulatedUserRef): void;
  /** Restores a soft-deleted user: delta returns the user again. */
  restoreUser(ref: SimulatedUserRef): void;
  /**
   * Every delta token issued so far is refused with a 400: `syncStateNotFound` (the default, as after
   * 7 days), `SyncStateInvalid`, `resyncRequired`, or Request_BadRequest "Badly formed token".
   */
  expireDeltaTokens(answer?: DeltaTokenRefusal): void;
  /** Every delta token issued so far now answers 410 Gone with a Location to start over. */
  invalidateDeltaTokens(): void;
  /** Users currently present (generated minus deleted, plus added). */
  presentUserCount(): number;
  /**
   * Sets the user's manager (null: none). `/users/delta?$select=…,manager` returns the user again
   * with `manager@delta` (the old manager with `@removed` when it is cleared).
   */
  setManager(ref: SimulatedUserRef, manager: SimulatedUserRef | null): void;
  /** The id of the user's manager now, or undefined when it has none. */
  managerOf(ref: SimulatedUserRef): string | undefined;
}

interface TokenState {
  /** "page": a round in progress (skiptoken); "delta": a finished round's deltaLink. */
  kind: "page" | "delta";
  /** Token generation at issue; controls expire or invalidate generations. */
  g: number;
  /** The client's `$select` (undefined: the default set). */
  s: string[] | undefined;
  /** Watermark: changes after this sequence number are returned by the round this token continues or starts. */
  w: number;
  /** For "page": whether the round is a first (full) round. */
  f?: boolean;
  /** For "page": full rounds, the next slot; change rounds, the sequence number to resume at (inclusive). */
  c?: number;
  /** For "page": the sequence number the round started at (its deltaLink's watermark). */
  u?: number;
  /** For "page" with scenario.emptyPages: the empty page before this one was served. */
  e?: 1;
}

export class SimulatedDirectoryChanges implements DirectoryChanges {
  readonly #directory: SimulatedDirectory;
  readonly #seed: number;
  /** Ordered by `seq`: each change deletes and re-inserts the user. */
  readonly #changed = new Map<string, ChangedUser>();
  /** Object ids of generated users a test touched, by index (generated ids cannot be inverted). */
  readonly #indexIds = new Map<number, string>();
  /** Added users in the order they were added: their slots follow the generated ones. */
  readonly #added: string[] = [];
  #sequence = 0;
  #removedCount = 0;
  /** Token generations: a token is valid when its generation is above both floors. */
  #generation = 1;
  /** Refusals, oldest first: tokens of a generation up to `upTo` get `answer`. */
  readonly #refusals: Array<{ upTo: number; answer: DeltaTokenRefusal | "gone" }> = [];
  readonly scenario: DeltaScenario = { omitUnset: true, firstRoundRemovals: false, emptyPages: false };
  /** Group memberships (groups.ts) follow users' deletes and restores through it. */
  lifecycleListener: UserLifecycleListener | undefined;

  constructor(directory: SimulatedDirectory, seed: number) {
    this.#directory = directory;
    this.#seed = seed;
  }

  get sequence(): number {
    return this.#sequence;
  }

  userIdAt(index: number): string {
    return this.#directory.userAt(index, ["id"]).id;
  }

  #resolve(ref: SimulatedUserRef): ChangedUser | undefined {
    if (typeof ref === "string") return this.#changed.get(ref.toLowerCase());
    const id = this.#indexIds.get(ref) ?? this.userIdAt(ref);
    return this.#changed.get(id);
  }

  /** The user's overlay entry, created (for a generated user) on first touch. */
  #entry(ref: SimulatedUserRef): ChangedUser {
    const existing = this.#resolve(ref);
    if (existing) return existing;
    if (typeof ref === "string") {
      throw new Error(`No user ${ref} is known to the overlay: refer to a generated user by its index (userIdAt(index) gives its id).`);
    }
    const id = this.userIdAt(ref);
    this.#indexIds.set(ref, id);
    const entry: ChangedUser = { id, index: ref, overrides: {}, lifecycle: "present", seq: 0, lifecycleSeq: 0, propertySeq: new Map() };
    this.#changed.set(id, entry);
    return entry;
  }

  #touch(entry: ChangedUser): number {
    const seq = ++this.#sequence;
    entry.seq = seq;
    this.#changed.delete(entry.id);
    this.#changed.set(entry.id, entry);
    return seq;
  }

  #full(entry: ChangedUser): Record<string, unknown> {
    const base: Record<string, unknown> =
      entry.index === undefined ? { id: entry.id } : { ...this.#directory.userAt(entry.index, SIMULATED_USER_PROPERTIES) };
    const user: Record<string, unknown> = {};
    for (const property of SIMULATED_USER_PROPERTIES) user[property] = property in entry.overrides ? entry.overrides[property] : (base[property] ?? null);
    return user;
  }

  currentUser(ref: SimulatedUserRef): GraphUser | undefined {
    const entry = this.#resolve(ref);
    if (entry === undefined) return typeof ref === "number" ? this.#directory.userAt(ref, SIMULATED_USER_PROPERTIES) : undefined;
    return entry.lifecycle === "present" ? (this.#full(entry) as GraphUser) : undefined;
  }

  addUser(properties: Record<string, unknown> = {}): string {
    const n = this.#added.length;
    const bytes = createHash("sha256").update(`simulated-added-user:${this.#seed}:${n}`).digest();
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const h = bytes.toString("hex");
    const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    const entry: ChangedUser = { id, index: undefined, overrides: {}, lifecycle: "present", seq: 0, lifecycleSeq: 0, propertySeq: new Map() };
    const domain = this.#directory.domain;
    const defaults: Record<string, unknown> = {
      userPrincipalName: `added.${n}@${domain}`,
      displayName: `Added User ${n}`,
      accountEnabled: true,
      userType: "Member",
      createdDateTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      businessPhones: [],
      otherMails: [],
      proxyAddresses: [],
      imAddresses: [],
      identities: [],
    };
    for (const [name, value] of Object.entries({ ...defaults, ...properties })) entry.overrides[this.#property(name)] = value;
    this.#added.push(id);
    this.#changed.set(id, entry);
    entry.lifecycleSeq = this.#touch(entry);
    return id;
  }

  #property(name: string): string {
    const canonical = canonicalUserProperty(name);
    if (canonical === undefined) throw new Error(`The simulated directory has no user property "${name}".`);
    if (canonical === "id") throw new Error("A user's id never changes.");
    return canonical;
  }

  changeUser(ref: SimulatedUserRef, properties: Record<string, unknown>): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "present") throw new Error(`User ${entry.id} is deleted; restore it before changing it.`);
    const resolved = Object.entries(properties).map(([name, value]) => [this.#property(name), value] as const);
    const seq = this.#touch(entry);
    for (const [property, value] of resolved) {
      entry.overrides[property] = value;
      entry.propertySeq.set(property, seq);
    }
  }

  renameUser(ref: SimulatedUserRef, userPrincipalName: string): void {
    const current = this.currentUser(ref);
    if (current === undefined) throw new Error(`User ${String(ref)} is deleted; restore it before renaming it.`);
    const changes: Record<string, unknown> = { userPrincipalName };
    if (current.mail === current.userPrincipalName) changes.mail = userPrincipalName;
    this.changeUser(ref, changes);
  }

  softDeleteUser(ref: SimulatedUserRef): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "present") throw new Error(`User ${entry.id} is already deleted.`);
    entry.lifecycle = "softDeleted";
    entry.lifecycleSeq = this.#touch(entry);
    this.#removedCount += 1;
    this.lifecycleListener?.userRemoved(entry.id, entry.index);
  }

  hardDeleteUser(ref: SimulatedUserRef): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle === "hardDeleted") throw new Error(`User ${entry.id} is already permanently deleted.`);
    const wasPresent = entry.lifecycle === "present";
    if (wasPresent) this.#removedCount += 1;
    entry.lifecycle = "hardDeleted";
    entry.lifecycleSeq = this.#touch(entry);
    if (wasPresent) this.lifecycleListener?.userRemoved(entry.id, entry.index);
  }

  restoreUser(ref: SimulatedUserRef): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "softDeleted") throw new Error(`User ${entry.id} is not in the deleted items (only soft-deleted users can be restored).`);
    entry.lifecycle = "present";
    entry.lifecycleSeq = this.#touch(entry);
    this.#removedCount -= 1;
    this.lifecycleListener?.userRestored(entry.id, entry.index);
  }

  setManager(ref: SimulatedUserRef, manager: SimulatedUserRef | null): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "present") throw new Error(`User ${entry.id} is deleted; restore it before changing its manager.`);
    const managerId = manager === null ? null : typeof manager === "number" ? this.userIdAt(manager) : manager.toLowerCase();
    if (managerId === entry.id) throw new Error("A user cannot be its own manager.");
    const before = this.managerIdOfUser(entry.id, entry.index);
    if ((before ?? null) === managerId) return;
    entry.previousManagerId = before;
    entry.managerId = managerId;
    entry.propertySeq.set("manager", this.#touch(entry));
  }

  managerOf(ref: SimulatedUserRef): string | undefined {
    if (typeof ref === "number") return this.managerIdOfUser(this.#indexIds.get(ref) ?? "", ref);
    const entry = this.#changed.get(ref.toLowerCase());
    return entry === undefined ? undefined : this.managerIdOfUser(entry.id, entry.index);
  }

  /** The manager's id of a user known by id and generated index (undefined for added users). */
  managerIdOfUser(id: string, index: number | undefined): string | undefined {
    const entry = this.#changed.get(id);
    if (entry?.managerId !== undefined) return entry.managerId ?? undefined;
    const manager = index === undefined ? undefined : managerIndexOf(index);
    return manager === undefined ? undefined : this.userIdAt(manager);
  }

  /** The manager's id of the user in a `/users` slot (undefined: none). */
  managerIdInSlot(slot: number): string | undefined {
    const generated = slot < this.#directory.userCount;
    const id = generated ? this.#indexIds.get(slot) : this.#added[slot - this.#directory.userCount];
    return this.managerIdOfUser(id ?? "", generated ? slot : undefined);
  }

  /** `manager@delta` of a user: its manager now, or the one it lost after `watermark` (as `@removed`). */
  managerDelta(id: string, index: number | undefined, watermark: number): Array<Record<string, unknown>> | undefined {
    const manager = this.managerIdOfUser(id, index);
    if (manager !== undefined) return [{ "@odata.type": "#microsoft.graph.user", id: manager }];
    const entry = this.#changed.get(id);
    if (entry?.previousManagerId !== undefined && (entry.propertySeq.get("manager") ?? 0) > watermark) {
      return [{ "@odata.type": "#microsoft.graph.user", id: entry.previousManagerId, "@removed": { reason: "deleted" } }];
    }
    return undefined;
  }

  expireDeltaTokens(answer: DeltaTokenRefusal = "syncStateNotFound"): void {
    this.#refusals.push({ upTo: this.#generation++, answer });
  }

  invalidateDeltaTokens(): void {
    this.#refusals.push({ upTo: this.#generation++, answer: "gone" });
  }

  presentUserCount(): number {
    return this.#directory.userCount + this.#added.length - this.#removedCount;
  }

  // ---------------------------------------------------------------------------------------------
  // What the delta endpoint needs.

  get generation(): number {
    return this.#generation;
  }
  /** The answer to a token of `generation`: the latest refusal that covers it. */
  tokenStatus(generation: number): "valid" | DeltaTokenRefusal | "gone" {
    for (let i = this.#refusals.length - 1; i >= 0; i--) if (generation <= this.#refusals[i]!.upTo) return this.#refusals[i]!.answer;
    return "valid";
  }

  /** Object ids of the users in the deleted items (soft-deleted), for first rounds' `@removed` entries. */
  softDeletedIds(): string[] {
    return [...this.#changed.values()].filter((e) => e.lifecycle === "softDeleted").map((e) => e.id);
  }

  /** The generated index of a user the overlay knows (undefined for added users). */
  indexOf(id: string): number | undefined {
    return this.#changed.get(id)?.index;
  }

  /** Slots of a first round: generated users, then added users. */
  get slotCount(): number {
    return this.#directory.userCount + this.#added.length;
  }

  /** The present user in a slot (selected properties), or undefined when the slot's user is deleted. */
  userInSlot(slot: number, properties: readonly string[]): GraphUser | undefined {
    const generated = this.#directory.userCount;
    if (slot < generated) {
      const id = this.#indexIds.get(slot);
      const entry = id === undefined ? undefined : this.#changed.get(id);
      if (entry === undefined) return this.#directory.userAt(slot, properties);
      return entry.lifecycle === "present" ? pick(this.#full(entry), properties) : undefined;
    }
    const entry = this.#changed.get(this.#added[slot - generated]!)!;
    return entry.lifecycle === "present" ? pick(this.#full(entry), properties) : undefined;
  }

  /**
   * Users whose tracked state changed after `watermark`, in sequence order, starting at sequence
   * number `from` (inclusive) and up to `upTo`: each with the sequence number to resume at.
   */
  *changesSince(
    watermark: number,
    from: number,
    upTo: number,
    properties: readonly string[],
    alsoTracked: readonly string[] = [],
  ): Iterable<{ seq: number; index: number | undefined; item: Record<string, unknown> }> {
    for (const entry of this.#changed.values()) {
      if (entry.seq < from || entry.seq <= watermark) continue;
      if (entry.seq > upTo) break;
      const relevant = entry.lifecycleSeq > watermark || [...properties, ...alsoTracked].some((p) => (entry.propertySeq.get(p) ?? 0) > watermark);
      if (!relevant) continue;
      if (entry.lifecycle === "present") {
        const user = pick(this.#full(entry), properties);
        // Unset properties are left out, but one cleared since the token was issued comes back as null.
        if (this.scenario.omitUnset) omitUnset(user, (p) => (entry.propertySeq.get(p) ?? 0) > watermark);
        yield { seq: entry.seq, index: entry.index, item: user };
      } else yield { seq: entry.seq, index: entry.index, item: { id: entry.id, "@removed": { reason: entry.lifecycle === "softDeleted" ? "changed" : "deleted" } } };
    }
  }
}

/** Deletes the null-valued properties of `user` (not `id`), except those `keep` names. */
function omitUnset(user: Record<string, unknown>, keep: (property: string) => boolean = () => false): void {
  for (const [key, value] of Object.entries(user)) if (value === null && key !== "id" && !keep(key)) delete user[key];
}

/** The manager of a generated user: user ⌊(i−1)/8⌋ for i ≥ 1 (user 0 has none). */
function managerIndexOf(index: number): number | undefined {
  return index >= 1 ? Math.floor((index - 1) / 8) : undefined;
}

/** A `$select` of the delta endpoint: the properties, and whether the `manager` relationship is tracked. */
function deltaSelect(select: readonly string[] | undefined): { properties: string[]; withManager: boolean } {
  const withManager = select?.some((p) => p.trim().toLowerCase() === "manager") ?? false;
  const rest = select?.filter((p) => p.trim().toLowerCase() !== "manager");
  const properties = [...resolveSelect(rest === undefined || rest.length > 0 ? rest : ["id"])];
  if (!properties.includes("id")) properties.unshift("id");
  return { properties, withManager };
}

function pick(full: Record<string, unknown>, properties: readonly string[]): GraphUser {
  const user: Record<string, unknown> = {};
  for (const property of properties) user[property] = full[property] ?? null;
  return user as GraphUser;
}

// ---------------------------------------------------------------------------------------------
// Tokens: opaque, tamper-evident (HMAC), and not interchangeable with `/users` skip tokens.

function tokenKey(state: TenantState): Buffer {
  return createHmac("sha256", state.skipTokenKey).update("users-delta").digest();
}

export function encodeDeltaToken(key: Buffer, token: TokenState): string {
  return sealToken(key, { v: 1, ...token, s: token.s ?? null });
}

export function decodeDeltaToken(key: Buffer, text: string): TokenState | undefined {
  const parsed = openToken(key, text) as (TokenState & { v: number; s: string[] | null }) | undefined;
  if (typeof parsed !== "object" || parsed === null || parsed.v !== 1 || (parsed.kind !== "page" && parsed.kind !== "delta")) return undefined;
  return { ...parsed, s: parsed.s ?? undefined };
}

async function listDelta(state: TenantState, changes: SimulatedDirectoryChanges, request: SimulatedRequest): Promise<SimulatedResponse> {
  const denied = await authorizeGraphRequest(state, request, "User.Read.All");
  if (denied) return denied;
  const bad = (message: string) => graphError(request, 400, "Request_BadRequest", message);
  const options = readQueryOptions(request, SUPPORTED_QUERY_OPTIONS, "/users/delta");
  if (!(options instanceof Map)) return options;
  const selectText = options.get("$select");
  const topText = options.get("$top");
  if (topText !== undefined && !/^\d+$/.test(topText.trim())) return bad(`Invalid page size specified: '${topText}'.`);
  const skipText = options.get("$skiptoken");
  const deltaText = options.get("$deltatoken");
  if (skipText !== undefined && deltaText !== undefined) return bad("Only one of $skiptoken and $deltatoken can be given.");
  const key = tokenKey(state);
  const requestedSelect = selectText === undefined ? undefined : selectText.split(",").filter((s) => s.trim() !== "");
  if (selectsSignInActivity(requestedSelect)) {
    return graphError(request, 400, "BadRequest", "Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: signInActivity");
  }
  if (singleUserOnlyProperty(requestedSelect) !== undefined) return graphError(request, 501, "NotImplemented", "This operation target is not yet supported.");

  let token: TokenState;
  if (deltaText === "latest") {
    // No users: only a deltaLink from now.
    token = { kind: "delta", g: changes.generation, s: requestedSelect, w: changes.sequence };
    try {
      deltaSelect(token.s);
    } catch (error) {
      return bad((error as Error).message);
    }
    return deltaResponse(state, request, token.s, [], { deltaLink: deltaLinkFor(state, key, token) });
  }
  const tokenText = skipText ?? deltaText;
  if (tokenText === undefined) {
    // A first round: every current user; its deltaLink will return what changes from now on.
    const now = changes.sequence;
    token = { kind: "page", g: changes.generation, s: requestedSelect, w: 0, f: true, c: 0, u: now };
  } else {
    const decoded = decodeDeltaToken(key, tokenText);
    if (decoded === undefined || (skipText !== undefined) !== (decoded.kind === "page")) {
      return bad("The specified delta or skip token is invalid: it was altered or was not issued by this service.");
    }
    const status = changes.tokenStatus(decoded.g);
    if (status === "syncStateNotFound") {
      return graphError(request, 400, "syncStateNotFound", "The sync state generation is not found. The delta token has expired; start a new round without a token.");
    }
    if (status === "SyncStateInvalid") return graphError(request, 400, "SyncStateInvalid", "Invalid synchronization state. Start a new round without a token.");
    if (status === "resyncRequired") return graphError(request, 400, "resyncRequired", "Resync required. Replace any local items with the server's version and start a new round without a token.");
    if (status === "badlyFormed") return graphError(request, 400, "Request_BadRequest", "Badly formed token.");
    if (status === "gone") {
      const restart = new URLSearchParams();
      if (decoded.s !== undefined) restart.set("$select", decoded.s.join(","));
      const location = `${state.graphEndpoint}/v1.0/users/delta${restart.size > 0 ? `?${restart.toString()}` : ""}`;
      return graphError(request, 410, "resyncRequired", "The delta token can no longer be served; start a full synchronization at the Location given.", { location });
    }
    if (selectText !== undefined && !sameSelect(requestedSelect, decoded.s)) {
      return bad("$select differs from the one the delta token was issued for; query parameters can only be given on the first request.");
    }
    token = decoded.kind === "delta" ? { kind: "page", g: decoded.g, s: decoded.s, w: decoded.w, f: false, c: decoded.w + 1, u: changes.sequence } : decoded;
  }
  let properties: readonly string[];
  let withManager: boolean;
  try {
    ({ properties, withManager } = deltaSelect(token.s));
  } catch (error) {
    return bad((error as Error).message);
  }
  if (changes.scenario.emptyPages && !token.e) {
    // An empty page whose nextLink serves the real one (Graph documents empty pages mid-round).
    const link = `${state.graphEndpoint}/v1.0/users/delta?$skiptoken=${encodeDeltaToken(key, { ...token, kind: "page", e: 1 })}`;
    return deltaResponse(state, request, token.s, [], { nextLink: link });
  }
  const withManagerOf = (user: Record<string, unknown>, index: number | undefined) => {
    const manager = withManager ? changes.managerDelta(user.id as string, index, token.f ? Number.MAX_SAFE_INTEGER : token.w) : undefined;
    if (manager !== undefined) user["manager@delta"] = manager;
    return user;
  };

  const value: Array<Record<string, unknown>> = [];
  let next: number | undefined;
  if (token.f) {
    // Resume at the slot of the previous page's last user, so it comes again (a duplicate).
    let slot = token.c!;
    let lastSlot = -1;
    for (; slot < changes.slotCount && value.length < DELTA_PAGE_SIZE; slot++) {
      const user = changes.userInSlot(slot, properties);
      if (user === undefined) continue;
      if (changes.scenario.omitUnset) omitUnset(user);
      value.push(withManagerOf(user, slot < state.directory.userCount ? slot : undefined));
      lastSlot = slot;
    }
    if (slot < changes.slotCount) next = lastSlot;
    // Graph's first rounds also list users deleted in the last 30 days (still restorable).
    else if (changes.scenario.firstRoundRemovals) for (const id of changes.softDeletedIds()) value.push({ id, "@removed": { reason: "changed" } });
  } else {
    let lastSeq = -1;
    let more = false;
    for (const { seq, index, item } of changes.changesSince(token.w, token.c!, token.u!, properties, withManager ? ["manager"] : [])) {
      if (value.length >= DELTA_PAGE_SIZE) {
        more = true;
        break;
      }
      value.push(item["@removed"] === undefined ? withManagerOf(item, index) : item);
      lastSeq = seq;
    }
    if (more) next = lastSeq;
  }
  // Never stall on a page that only repeated the previous page's last user.
  if (next !== undefined && next <= token.c!) next = token.c! + 1;
  if (next !== undefined) {
    const { e: _served, ...rest } = token;
    const pageToken: TokenState = { ...rest, c: next };
    const link = `${state.graphEndpoint}/v1.0/users/delta?$skiptoken=${encodeDeltaToken(key, pageToken)}`;
    return deltaResponse(state, request, token.s, value, { nextLink: link });
  }
  // The round is over: the deltaLink returns what changed after the round started.
  const finished: TokenState = { kind: "delta", g: changes.generation, s: token.s, w: token.u! };
  return deltaResponse(state, request, token.s, value, { deltaLink: deltaLinkFor(state, key, finished) });
}

function deltaLinkFor(state: TenantState, key: Buffer, token: TokenState): string {
  return `${state.graphEndpoint}/v1.0/users/delta?$deltatoken=${encodeDeltaToken(key, token)}`;
}

function deltaResponse(
  state: TenantState,
  request: SimulatedRequest,
  select: string[] | undefined,
  value: Array<Record<string, unknown>>,
  links: { nextLink?: string; deltaLink?: string },
): SimulatedResponse {
  const contextSuffix = select === undefined ? "" : `(${select.join(",")})`;
  const body: Record<string, unknown> = { "@odata.context": `${state.graphEndpoint}/v1.0/$metadata#users${contextSuffix}` };
  if (links.nextLink) body["@odata.nextLink"] = links.nextLink;
  if (links.deltaLink) body["@odata.deltaLink"] = links.deltaLink;
  body.value = value;
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

/** The delta routes and their test controls, over the tenant's generated directory. */
export function deltaRoutes(state: TenantState, changes: SimulatedDirectoryChanges): Route[] {
  return [
    {
      service: "graph",
      method: "GET",
      path: /^\/v1\.0\/users\/(?:microsoft\.graph\.)?delta(?:\(\))?\/?$/,
      handler: (request) => listDelta(state, changes, request),
    },
  ];
}
