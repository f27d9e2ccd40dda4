/**
 * The simulated directory's groups and their memberships, generated from (seed, index) like the
 * users (users.ts), with a small overlay of the changes a test makes (SimulatedGroups): memory
 * follows the number of groups and of changes, never the number of members.
 *
 * The generated shape (G groups, L = min(largeGroupMembers, users)):
 * - group 0 is the large group: users 0..L−1 as members, then its child groups;
 * - groups form a binary tree of nesting: group g has groups 2g+1 and 2g+2 as members;
 * - the last group (G ≥ 4) also has its parent as a member: a cycle of two groups;
 * - every other group has 3–10 users picked from the seed, and members of the other kinds: a
 *   device (g mod 3 = 1), a service principal (g mod 3 = 2), an organizational contact (g mod 4 = 3).
 *
 * A `layout` (SimulatedGroupsOptions) replaces the generated memberships (the groups' properties
 * stay generated): the benchmark's directory of many members per group, computed per slot, never
 * held (tools/bench/groupsScenario.ts).
 *
 * Every member has a slot in its group: generated members first, then added ones in the order they
 * were added; a removed member keeps its slot (and gets it back when it comes back), so that paging
 * by slot is stable while the directory changes.
 */
import { createHash } from "node:crypto";

/** Member kinds Graph returns in `members@delta` (their `@odata.type` is `#microsoft.graph.<kind>`). */
export type MemberKind = "user" | "group" | "device" | "servicePrincipal" | "orgContact";
export const MEMBER_KINDS: readonly MemberKind[] = ["user", "group", "device", "servicePrincipal", "orgContact"];

export interface SimulatedMember {
  type: MemberKind;
  id: string;
}

/** A member as a test names it: a generated user or group by index, or any object by type and id. */
export type SimulatedMemberRef = { user: number } | { group: number } | SimulatedMember;
/** A generated group by its 0-based index, or any group by its object id. */
export type SimulatedGroupRef = number | string;

/** The group properties the simulator knows, in Graph's spelling (also `/groups`' default set). */
export const SIMULATED_GROUP_PROPERTIES: readonly string[] = [
  "id",
  "displayName",
  "description",
  "mail",
  "mailNickname",
  "mailEnabled",
  "securityEnabled",
  "groupTypes",
  "createdDateTime",
  "visibility",
];
const CANONICAL = new Map(SIMULATED_GROUP_PROPERTIES.map((p) => [p.toLowerCase(), p]));

/** Resolves a group `$select` (without `members`) to Graph's spelling; throws naming an unknown property. */
export function resolveGroupSelect(select: readonly string[] | undefined): string[] {
  if (select === undefined) return [...SIMULATED_GROUP_PROPERTIES];
  const resolved: string[] = [];
  for (const name of select) {
    const canonical = CANONICAL.get(name.trim().toLowerCase());
    if (canonical === undefined) throw new Error(`Could not find a property named '${name.trim()}' on type 'microsoft.graph.group'.`);
    if (!resolved.includes(canonical)) resolved.push(canonical);
  }
  if (!resolved.includes("id")) resolved.unshift("id");
  return resolved;
}

export interface SimulatedGroupsOptions {
  /** Groups generated. Default 0 (no groups). */
  count: number;
  /** Members of group 0 (users 0..n−1, at most the users there are). Default 20,000. */
  largeGroupMembers?: number;
  /** Generated members from this layout instead of the tree above (largeGroupMembers then has no effect). */
  layout?: GroupMemberLayout;
}

/** A generated member by index: user i (the users' ids), group i, or device i. */
export interface LayoutMember {
  kind: "user" | "group" | "device";
  index: number;
}

/** Generated memberships computed per slot (memory independent of the number of members). */
export interface GroupMemberLayout {
  memberCount(group: number): number;
  memberAt(group: number, slot: number): LayoutMember;
  /** The slot of user `userIndex` among the group's generated members, or undefined when it is none. */
  userSlot(group: number, userIndex: number): number | undefined;
}

/** What the groups need of the users: their count and ids. */
export interface UserIds {
  readonly userCount: number;
  userIdAt(index: number): string;
}

type Lifecycle = "present" | "softDeleted" | "hardDeleted";

interface MemberEntry {
  member: SimulatedMember;
  slot: number;
  present: boolean;
  seq: number;
}

interface GroupEntry {
  id: string;
  slot: number;
  overrides: Record<string, unknown>;
  lifecycle: Lifecycle;
  seq: number;
  lifecycleSeq: number;
  propertySeq: Map<string, number>;
  /** Members a test touched (or added), by id. */
  members: Map<string, MemberEntry>;
  /** Added members, in their slots after the generated ones. */
  added: SimulatedMember[];
}

/** A group's change since a watermark, for the delta endpoint. */
export interface GroupChange {
  slot: number;
  id: string;
  lifecycle: Lifecycle;
  /** Added or restored after the watermark (all its members come with it). */
  reappeared: boolean;
  /** A selected property changed after the watermark. */
  propertiesChanged: (properties: readonly string[]) => boolean;
  /** Members whose membership changed after the watermark, by slot. */
  changedMembers: MemberEntry[];
}

export function guidOf(text: string): string {
  const b = createHash("sha256").update(text).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function hash32(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32LE(0);
}

const CREATED_EPOCH_MS = Date.UTC(2017, 2, 6, 9, 0, 0);
const TOPICS = ["Finance", "Engineering", "Sales", "Legal", "Research", "Support", "Platform", "Marketing", "Operations", "Security"];

/** The generated groups and the test's changes to them (the test controls are the public methods). */
export class SimulatedGroups {
  readonly #seed: number;
  readonly #users: UserIds;
  readonly groupCount: number;
  readonly largeGroupMemberCount: number;
  /** Generated member lists of groups 1.., built on first use (a few dozen members each). */
  readonly #small = new Map<number, SimulatedMember[]>();
  /** Touched groups by id. */
  readonly #changed = new Map<string, GroupEntry>();
  readonly #added: string[] = [];
  #sequence = 0;
  /** Memberships a user's deletion removed, put back when the user is restored. */
  readonly #removedWithUser = new Map<string, string[]>();
  readonly #layout: GroupMemberLayout | undefined;

  constructor(seed: number, users: UserIds, options: SimulatedGroupsOptions = { count: 0 }) {
    if (!Number.isSafeInteger(options.count) || options.count < 0) throw new Error(`groups.count must be a non-negative integer (got ${options.count}).`);
    this.#seed = seed;
    this.#users = users;
    this.groupCount = options.count;
    this.#layout = options.layout;
    this.largeGroupMemberCount = options.count === 0 || options.layout ? 0 : Math.min(options.largeGroupMembers ?? 20_000, users.userCount);
  }

  /** Changes made so far (the sequence number of the latest one). */
  get sequence(): number {
    return this.#sequence;
  }

  groupIdAt(index: number): string {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.groupCount) throw new RangeError(`Group index ${index} is outside the directory (0..${this.groupCount - 1}).`);
    return guidOf(`simulated-group:${this.#seed}:${index}`);
  }

  // ---------------------------------------------------------------------------------------------
  // The generated directory.

  #children(g: number): number[] {
    const children = [2 * g + 1, 2 * g + 2].filter((c) => c < this.groupCount);
    if (g === this.groupCount - 1 && this.groupCount >= 4) children.push(Math.floor((g - 1) / 2));
    return children;
  }

  #smallMembers(g: number): SimulatedMember[] {
    let list = this.#small.get(g);
    if (list !== undefined) return list;
    list = [];
    const groupOf = (c: number): SimulatedMember => ({ type: "group", id: this.groupIdAt(c) });
    if (g === 0) {
      list = this.#children(0).map(groupOf);
    } else {
      const users = this.#users.userCount;
      const wanted = Math.min(users, 3 + (hash32(`members:${this.#seed}:${g}`) % 8));
      const picked = new Set<number>();
      for (let n = 0; picked.size < wanted; n++) picked.add(hash32(`member:${this.#seed}:${g}:${n}`) % users);
      for (const index of picked) list.push({ type: "user", id: this.#users.userIdAt(index) });
      list.push(...this.#children(g).map(groupOf));
      if (g % 3 === 1) list.push({ type: "device", id: guidOf(`simulated-device:${this.#seed}:${g}`) });
      if (g % 3 === 2) list.push({ type: "servicePrincipal", id: guidOf(`simulated-service-principal:${this.#seed}:${g}`) });
      if (g % 4 === 3) list.push({ type: "orgContact", id: guidOf(`simulated-contact:${this.#seed}:${g}`) });
    }
    this.#small.set(g, list);
    return list;
  }

  #layoutMember(member: LayoutMember): SimulatedMember {
    if (member.kind === "user") return { type: "user", id: this.#users.userIdAt(member.index) };
    if (member.kind === "group") return { type: "group", id: this.groupIdAt(member.index) };
    return { type: "device", id: guidOf(`simulated-device:${this.#seed}:${member.index}`) };
  }

  #generatedMemberCount(g: number | undefined): number {
    if (g === undefined) return 0;
    if (this.#layout) return this.#layout.memberCount(g);
    return (g === 0 ? this.largeGroupMemberCount : 0) + this.#smallMembers(g).length;
  }

  #generatedMemberAt(g: number, slot: number): SimulatedMember {
    if (this.#layout) return this.#layoutMember(this.#layout.memberAt(g, slot));
    if (g === 0 && slot < this.largeGroupMemberCount) return { type: "user", id: this.#users.userIdAt(slot) };
    return this.#smallMembers(g)[g === 0 ? slot - this.largeGroupMemberCount : slot]!;
  }

  #generatedSlotOf(g: number | undefined, member: SimulatedMember, userIndex?: number): number | undefined {
    if (g === undefined) return undefined;
    if (this.#layout) return this.#layoutSlotOf(g, member, userIndex);
    if (g === 0 && member.type === "user") {
      if (userIndex !== undefined) return userIndex < this.largeGroupMemberCount ? userIndex : undefined;
      for (let i = 0; i < this.largeGroupMemberCount; i++) if (this.#users.userIdAt(i) === member.id) return i;
      return undefined;
    }
    const at = this.#smallMembers(g).findIndex((m) => m.id === member.id);
    return at < 0 ? undefined : at + (g === 0 ? this.largeGroupMemberCount : 0);
  }

  #layoutSlotOf(g: number, member: SimulatedMember, userIndex: number | undefined): number | undefined {
    const layout = this.#layout!;
    if (member.type === "user" && userIndex !== undefined) return layout.userSlot(g, userIndex);
    const count = layout.memberCount(g);
    for (let slot = 0; slot < count; slot++) if (this.#layoutMember(layout.memberAt(g, slot)).id === member.id) return slot;
    return undefined;
  }

  #generatedProperties(g: number): Record<string, unknown> {
    const h = hash32(`group:${this.#seed}:${g}`);
    const topic = TOPICS[h % TOPICS.length]!;
    const unified = g > 0 && h % 5 === 0;
    const nick = g === 0 ? "all-staff" : `${topic.toLowerCase()}-${g.toString(36)}`;
    return {
      id: this.groupIdAt(g),
      displayName: g === 0 ? "All Staff" : `${topic} ${g}`,
      description: h % 7 === 0 ? null : g === 0 ? "Everyone in the organization" : `${topic} team ${g}`,
      mail: unified ? `${nick}@simulated.example` : null,
      mailNickname: nick,
      mailEnabled: unified,
      securityEnabled: !unified || h % 2 === 0,
      groupTypes: unified ? ["Unified"] : [],
      createdDateTime: new Date(CREATED_EPOCH_MS + g * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      visibility: unified ? "Private" : null,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The overlay.

  #index(entry: GroupEntry): number | undefined {
    return entry.slot < this.groupCount ? entry.slot : undefined;
  }

  #resolve(ref: SimulatedGroupRef): GroupEntry | undefined {
    return this.#changed.get(typeof ref === "number" ? this.groupIdAt(ref) : ref.toLowerCase());
  }

  #entry(ref: SimulatedGroupRef): GroupEntry {
    const existing = this.#resolve(ref);
    if (existing) return existing;
    if (typeof ref === "string") {
      const at = Array.from({ length: this.groupCount }, (_, i) => i).find((i) => this.groupIdAt(i) === ref.toLowerCase());
      if (at === undefined) throw new Error(`No group ${ref} in the simulated directory.`);
      return this.#entry(at);
    }
    const entry: GroupEntry = { id: this.groupIdAt(ref), slot: ref, overrides: {}, lifecycle: "present", seq: 0, lifecycleSeq: 0, propertySeq: new Map(), members: new Map(), added: [] };
    this.#changed.set(entry.id, entry);
    return entry;
  }

  #touch(entry: GroupEntry): number {
    entry.seq = ++this.#sequence;
    return entry.seq;
  }

  #memberOf(ref: SimulatedMemberRef): { member: SimulatedMember; userIndex?: number } {
    if ("user" in ref) return { member: { type: "user", id: this.#users.userIdAt(ref.user) }, userIndex: ref.user };
    if ("group" in ref) return { member: { type: "group", id: this.groupIdAt(ref.group) } };
    return { member: { type: ref.type, id: ref.id.toLowerCase() } };
  }

  /** Adds a group (unset properties null) and returns its object id. */
  addGroup(properties: Record<string, unknown> = {}): string {
    const n = this.#added.length;
    const id = guidOf(`simulated-added-group:${this.#seed}:${n}`);
    const entry: GroupEntry = { id, slot: this.groupCount + n, overrides: {}, lifecycle: "present", seq: 0, lifecycleSeq: 0, propertySeq: new Map(), members: new Map(), added: [] };
    const defaults = { displayName: `Added Group ${n}`, mailNickname: `added-group-${n}`, mailEnabled: false, securityEnabled: true, groupTypes: [], createdDateTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
    for (const [name, value] of Object.entries({ ...defaults, ...properties })) entry.overrides[this.#property(name)] = value;
    this.#added.push(id);
    this.#changed.set(id, entry);
    entry.lifecycleSeq = this.#touch(entry);
    return id;
  }

  #property(name: string): string {
    const canonical = CANONICAL.get(name.trim().toLowerCase());
    if (canonical === undefined) throw new Error(`The simulated directory has no group property "${name}".`);
    if (canonical === "id") throw new Error("A group's id never changes.");
    return canonical;
  }

  /** Sets group properties (null clears one). */
  changeGroup(ref: SimulatedGroupRef, properties: Record<string, unknown>): void {
    const entry = this.#present(ref);
    const resolved = Object.entries(properties).map(([name, value]) => [this.#property(name), value] as const);
    const seq = this.#touch(entry);
    for (const [property, value] of resolved) {
      entry.overrides[property] = value;
      entry.propertySeq.set(property, seq);
    }
  }

  #present(ref: SimulatedGroupRef): GroupEntry {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "present") throw new Error(`Group ${entry.id} is deleted; restore it first.`);
    return entry;
  }

  /** Adds a member; returns false (and changes nothing) when it already is one. */
  addMember(group: SimulatedGroupRef, ref: SimulatedMemberRef): boolean {
    const entry = this.#present(group);
    const { member, userIndex } = this.#memberOf(ref);
    return this.#setMembership(entry, member, true, userIndex);
  }

  /** Removes a member from the group: delta reports it with `@removed` reason `deleted`. */
  removeMember(group: SimulatedGroupRef, ref: SimulatedMemberRef): void {
    const entry = this.#present(group);
    const { member, userIndex } = this.#memberOf(ref);
    if (!this.#setMembership(entry, member, false, userIndex)) throw new Error(`${member.type} ${member.id} is not a member of group ${entry.id}.`);
  }

  /** Sets a membership; returns false when it was already so. */
  #setMembership(entry: GroupEntry, member: SimulatedMember, present: boolean, userIndex?: number): boolean {
    let known = entry.members.get(member.id);
    if (known === undefined) {
      const generatedSlot = this.#generatedSlotOf(this.#index(entry), member, userIndex);
      if (generatedSlot === undefined && !present) return false;
      if (generatedSlot !== undefined && present) return false;
      const slot = generatedSlot ?? this.#generatedMemberCount(this.#index(entry)) + entry.added.length;
      if (generatedSlot === undefined) entry.added.push(member);
      known = { member, slot, present: !present, seq: 0 };
      entry.members.set(member.id, known);
    }
    if (known.present === present) return false;
    known.present = present;
    known.seq = this.#touch(entry);
    return true;
  }

  /** Moves the group to the deleted items (restorable): delta reports `@removed` reason `changed`. */
  softDeleteGroup(ref: SimulatedGroupRef): void {
    const entry = this.#present(ref);
    entry.lifecycle = "softDeleted";
    entry.lifecycleSeq = this.#touch(entry);
  }

  /** Deletes the group for good: delta reports `@removed` reason `deleted`. */
  hardDeleteGroup(ref: SimulatedGroupRef): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle === "hardDeleted") throw new Error(`Group ${entry.id} is already permanently deleted.`);
    entry.lifecycle = "hardDeleted";
    entry.lifecycleSeq = this.#touch(entry);
  }

  /** Restores a soft-deleted group with its members: delta returns it again, with all its members. */
  restoreGroup(ref: SimulatedGroupRef): void {
    const entry = this.#entry(ref);
    if (entry.lifecycle !== "softDeleted") throw new Error(`Group ${entry.id} is not in the deleted items.`);
    entry.lifecycle = "present";
    entry.lifecycleSeq = this.#touch(entry);
  }

  /**
   * A user left the directory (soft or hard delete): as in Entra, it leaves every group it was in,
   * and `members@delta` says `@removed` reason `deleted`. A restored user gets them back.
   */
  userRemoved(userId: string, userIndex: number | undefined): void {
    const groups: string[] = [];
    const member: SimulatedMember = { type: "user", id: userId };
    for (const slot of this.#allSlots()) {
      const entry = this.#slotEntry(slot);
      if (entry !== undefined && entry.lifecycle !== "present") continue;
      const known = entry?.members.get(userId);
      // An added user (no index) is never a generated member: only the overlay can hold it.
      const generated = known === undefined && userIndex !== undefined && this.#generatedSlotOf(slot < this.groupCount ? slot : undefined, member, userIndex) !== undefined;
      if (!(known?.present ?? generated)) continue;
      const group = entry ?? this.#entry(slot);
      if (this.#setMembership(group, member, false, userIndex)) groups.push(group.id);
    }
    if (groups.length > 0) this.#removedWithUser.set(userId, groups);
  }

  userRestored(userId: string, userIndex: number | undefined): void {
    for (const groupId of this.#removedWithUser.get(userId) ?? []) {
      const entry = this.#changed.get(groupId)!;
      if (entry.lifecycle === "present") this.#setMembership(entry, { type: "user", id: userId }, true, userIndex);
    }
    this.#removedWithUser.delete(userId);
  }

  *#allSlots(): Iterable<number> {
    for (let slot = 0; slot < this.slotCount; slot++) yield slot;
  }

  #slotEntry(slot: number): GroupEntry | undefined {
    return this.#changed.get(slot < this.groupCount ? this.groupIdAt(slot) : this.#added[slot - this.groupCount]!);
  }

  // ---------------------------------------------------------------------------------------------
  // What the Graph routes need.

  /** Group slots: generated groups, then added ones. */
  get slotCount(): number {
    return this.groupCount + this.#added.length;
  }

  /** The present group in a slot (every simulated property), or undefined when deleted. */
  groupInSlot(slot: number): Record<string, unknown> | undefined {
    const entry = this.#slotEntry(slot);
    if (entry === undefined) return this.#generatedProperties(slot);
    if (entry.lifecycle !== "present") return undefined;
    const base = slot < this.groupCount ? this.#generatedProperties(slot) : { id: entry.id };
    const group: Record<string, unknown> = {};
    for (const p of SIMULATED_GROUP_PROPERTIES) group[p] = p in entry.overrides ? entry.overrides[p] : (base[p] ?? null);
    return group;
  }

  /** Member slots of the group in `slot` (present or not). */
  memberSlotCount(slot: number): number {
    const entry = this.#slotEntry(slot);
    return this.#generatedMemberCount(slot < this.groupCount ? slot : undefined) + (entry?.added.length ?? 0);
  }

  /** The present member in a member slot of the group in `slot`, or undefined when it left. */
  memberInSlot(slot: number, memberSlot: number): SimulatedMember | undefined {
    const entry = this.#slotEntry(slot);
    const index = slot < this.groupCount ? slot : undefined;
    const generated = this.#generatedMemberCount(index);
    const member = memberSlot < generated ? this.#generatedMemberAt(index!, memberSlot) : entry?.added[memberSlot - generated];
    if (member === undefined) return undefined;
    const known = entry?.members.get(member.id);
    return known === undefined || known.present ? member : undefined;
  }

  /** The group's current members (for tests: the directory as Graph sees it). */
  *currentMembers(ref: SimulatedGroupRef): Iterable<SimulatedMember> {
    const id = typeof ref === "number" ? this.groupIdAt(ref) : ref.toLowerCase();
    let slot = typeof ref === "number" ? ref : this.#changed.get(id)?.slot;
    if (slot === undefined) slot = Array.from({ length: this.groupCount }, (_, i) => i).find((i) => this.groupIdAt(i) === id);
    if (slot === undefined || this.groupInSlot(slot) === undefined) return;
    const count = this.memberSlotCount(slot);
    for (let m = 0; m < count; m++) {
      const member = this.memberInSlot(slot, m);
      if (member !== undefined) yield member;
    }
  }

  /** Groups that changed after `watermark`, in slot order from `fromSlot`. */
  changesSince(watermark: number, fromSlot: number): GroupChange[] {
    const changes: GroupChange[] = [];
    for (const entry of this.#changed.values()) {
      if (entry.seq <= watermark || entry.slot < fromSlot) continue;
      changes.push({
        slot: entry.slot,
        id: entry.id,
        lifecycle: entry.lifecycle,
        reappeared: entry.lifecycle === "present" && entry.lifecycleSeq > watermark,
        propertiesChanged: (properties) => properties.some((p) => (entry.propertySeq.get(p) ?? 0) > watermark),
        changedMembers: [...entry.members.values()].filter((m) => m.seq > watermark).sort((a, b) => a.slot - b.slot),
      });
    }
    return changes.sort((a, b) => a.slot - b.slot);
  }
}
