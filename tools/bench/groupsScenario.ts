/**
 * The groups benchmark's directory (issue 29, item 9), generated deterministically and streamed
 * edge by edge as a store's partition reads would hand them out (groups ascending by id), never
 * held whole: `users` users, `groups` groups nested as a tree `depth` levels deep (a user of a
 * bottom group is a nested member of the top one at depth `depth`), a few diamonds (a group in two
 * parents) and cycles (a bottom group containing an ancestor), and user memberships filling the
 * rest of `edges` direct edges, spread evenly over the groups. Defaults: the issue's 100,000
 * users, 10,000 groups, 1,000,000 direct edges, depth 5.
 */
import type { MembershipEdge } from "../../src/kinds/membershipPorts.js";

export interface GroupsScenario {
  users: number;
  groups: number;
  edges: number;
  depth: number;
}

export const ISSUE_GROUPS_SCENARIO: GroupsScenario = { users: 100_000, groups: 10_000, edges: 1_000_000, depth: 5 };

const hex12 = (n: number) => n.toString(16).padStart(12, "0");
/** GUID-shaped ids that sort as their numbers do. */
export const userId = (i: number) => `00000000-0000-4000-8000-${hex12(i)}`;
export const groupId = (g: number) => `10000000-0000-4000-8000-${hex12(g)}`;
export const deviceId = (g: number) => `20000000-0000-4000-8000-${hex12(g)}`;

/** The tree's levels: level 0 is one group; the bottom level takes what is left. */
export interface GroupTree {
  /** First group index of each level, and one past the last group. */
  starts: number[];
  parentOf(g: number): number | undefined;
  levelOf(g: number): number;
}

/**
 * Level sizes 1, b, b², …, the bottom level what is left (10,000 groups, depth 5: 1, 10, 100,
 * 1,000 and 8,889). Parent of a group: its index within its level divided by
 * the branching, in the level above.
 */
export function groupTree(groups: number, depth: number): GroupTree {
  if (depth < 1 || groups < depth) throw new Error(`a tree ${depth} levels deep needs at least ${depth} groups`);
  // The smallest branching whose full tree holds them all; the bottom level takes what is left.
  let branching = 1;
  const full = (b: number) => Array.from({ length: depth }, (_, level) => b ** level).reduce((a, n) => a + n, 0);
  while (full(branching) < groups) branching += 1;
  const starts = [0];
  for (let level = 0; level < depth - 1; level += 1) starts.push(starts[level]! + branching ** level);
  if (starts[depth - 1]! >= groups) throw new Error(`${groups} groups cannot fill ${depth} levels`);
  starts.push(groups);
  const levelOf = (g: number) => {
    let level = 0;
    while (g >= starts[level + 1]!) level += 1;
    return level;
  };
  const width = (level: number) => starts[level + 1]! - starts[level]!;
  return {
    starts,
    levelOf,
    parentOf: (g) => {
      const level = levelOf(g);
      if (level === 0) return undefined;
      const index = g - starts[level]!;
      return starts[level - 1]! + Math.min(Math.floor((index * width(level - 1)) / width(level)), width(level - 1) - 1);
    },
  };
}

/** A generated member by index (the simulated tenant maps indices to its own ids: tools/simulated-tenant/groups.ts). */
export interface ScenarioMember {
  kind: "user" | "group" | "device";
  index: number;
}

/** The scenario's memberships, computed per group and slot (a GroupMemberLayout for the simulated tenant). */
export interface ScenarioLayout {
  memberCount(group: number): number;
  memberAt(group: number, slot: number): ScenarioMember;
  userSlot(group: number, userIndex: number): number | undefined;
}

/**
 * The direct edges by group and slot: a group's child groups, an extra parent for every tenth group
 * of the level above the bottom (diamonds), an ancestor in every thousandth bottom group (cycles),
 * a device in every hundredth group, then its users: every user index reached, each group's users
 * distinct. Holds the nested groups' lists (one entry per group edge), never the users'.
 */
export function scenarioLayout(scenario: GroupsScenario = ISSUE_GROUPS_SCENARIO): ScenarioLayout {
  const { users, groups, depth } = scenario;
  const tree = groupTree(groups, depth);
  const children: number[][] = Array.from({ length: groups }, () => []);
  for (let g = 1; g < groups; g += 1) children[tree.parentOf(g)!]!.push(g);
  const bottom = depth - 1;
  const containsAlso: number[][] = Array.from({ length: groups }, () => []);
  if (depth >= 3) {
    const above = depth - 2;
    const parents = tree.starts[above]! - tree.starts[above - 1]!;
    for (let g = tree.starts[above]!, i = 0; g < tree.starts[above + 1]!; g += 1, i += 1) {
      if (i % 10 !== 0) continue;
      const second = tree.starts[above - 1]! + ((tree.parentOf(g)! - tree.starts[above - 1]! + 1) % parents);
      if (second !== tree.parentOf(g)) containsAlso[second]!.push(g); // a second parent: `second` contains g too
    }
  }
  const nestedOf: number[][] = Array.from({ length: groups }, (_, g) => {
    const nested = [...children[g]!, ...containsAlso[g]!];
    if (tree.levelOf(g) === bottom && (g - tree.starts[bottom]!) % 1000 === 0 && depth >= 2) {
      let ancestor = g;
      while (tree.levelOf(ancestor) > 1) ancestor = tree.parentOf(ancestor)!;
      nested.push(ancestor);
    }
    return nested.sort((a, b) => a - b);
  });
  const hasDevice = (g: number) => g % 100 === 0;
  let fixed = 0;
  for (let g = 0; g < groups; g += 1) fixed += nestedOf[g]!.length + (hasDevice(g) ? 1 : 0);
  const userEdges = Math.max(0, scenario.edges - fixed);
  if (userEdges / groups > users) throw new Error("more user edges than a group can have distinct users");
  const base = Math.floor(userEdges / groups);
  const remainder = userEdges % groups;
  // A stride prime to `users` gives distinct users within a group.
  let stride = 4729;
  while (gcd(stride, users) !== 1) stride += 2;
  const inverse = modularInverse(stride % users, users);
  const firstUserSlot = (g: number) => nestedOf[g]!.length + (hasDevice(g) ? 1 : 0);
  const userCountOf = (g: number) => base + (g < remainder ? 1 : 0);
  const startOf = (g: number) => (g * 7919) % users;
  return {
    memberCount: (g) => firstUserSlot(g) + userCountOf(g),
    memberAt: (g, slot) => {
      const nested = nestedOf[g]!;
      if (slot < nested.length) return { kind: "group", index: nested[slot]! };
      if (hasDevice(g) && slot === nested.length) return { kind: "device", index: g };
      const k = slot - firstUserSlot(g);
      return { kind: "user", index: Number((BigInt(startOf(g)) + BigInt(k) * BigInt(stride)) % BigInt(users)) };
    },
    userSlot: (g, userIndex) => {
      const k = Number((BigInt((userIndex - startOf(g) + users) % users) * BigInt(inverse)) % BigInt(users));
      return k < userCountOf(g) ? firstUserSlot(g) + k : undefined;
    },
  };
}

/** The direct edges, group by group in ascending id order (scenarioLayout's members, slot by slot). */
export function* scenarioEdges(scenario: GroupsScenario = ISSUE_GROUPS_SCENARIO): IterableIterator<MembershipEdge> {
  const layout = scenarioLayout(scenario);
  const idOf = (member: ScenarioMember) => (member.kind === "user" ? userId(member.index) : member.kind === "group" ? groupId(member.index) : deviceId(member.index));
  for (let g = 0; g < scenario.groups; g += 1) {
    const id = groupId(g);
    const count = layout.memberCount(g);
    for (let slot = 0; slot < count; slot += 1) {
      const member = layout.memberAt(g, slot);
      yield { groupId: id, memberId: idOf(member), memberType: member.kind };
    }
  }
}

/** x with a·x ≡ 1 (mod m), for a prime to m. */
function modularInverse(a: number, m: number): number {
  if (m === 1) return 0;
  let [oldR, r] = [BigInt(a), BigInt(m)];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  const big = BigInt(m);
  return Number(((oldS % big) + big) % big);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
