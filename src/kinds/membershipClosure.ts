/**
 * Nested membership (issue 29, item 4), computed locally from the direct edges: a member of a
 * group is a nested member of every group that contains that group, at any depth. For each group,
 * every member reachable through nested groups, once, with its shortest depth (1: a direct member;
 * d: reached through d − 1 nested groups). Members of every kind count; only `group` members are
 * walked through. A cycle ends the walk at the group seen before and is reported (`inCycle`), never
 * followed; a group is not listed as its own member.
 *
 * Memory: the direct edges are read once into integers (every id interned once; the edges as a
 * compressed sparse row: one Int32Array of members, one of offsets per group), about 4 bytes an
 * edge plus one string per distinct id. Each group's walk is breadth first over those rows with
 * one "seen" stamp per id (an Int32Array reused across groups, never cleared), and hands out that
 * group's members before the next group's walk: the whole closure is never held.
 */
import { IdInterner } from "./idInterner.js";
import type { MembershipEdge } from "./membershipPorts.js";

/** The members of one group, nested ones included, in order of depth (then of the direct edges). */
export interface GroupClosure {
  groupId: string;
  /** How many members (the length of the views below). */
  readonly size: number;
  memberId(index: number): string;
  memberType(index: number): string;
  depth(index: number): number;
  /** The group's walk came back to the group itself: it is in a cycle of nested groups. */
  readonly inCycle: boolean;
}

/** One nested membership, as exported (`export --memberships --transitive`). */
export interface TransitiveMembership extends MembershipEdge {
  depth: number;
}

const GROUP_TYPE = "group";

/** A growable Int32Array (no per-edge object is kept). */
class IntList {
  values = new Int32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const bigger = new Int32Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }
}

/** The direct memberships of a snapshot or the mirror, held as integers, and the walk over them. */
export class MembershipGraph {
  /** Every id seen (groups and members), by interned index. */
  private readonly ids = new IdInterner();
  /** The member type of each id (an index into `types`); a group with edges is `group`. */
  private memberTypes = new Uint8Array(1024);
  private readonly types = new IdInterner();
  /** CSR: the direct members of the id at index i are members[offsets[i] … offsets[i + 1]). */
  private offsets = new Int32Array(1);
  private members = new Int32Array(0);
  /** The ids that have members (the groups walked), ascending. */
  private sources: number[] = [];
  private edgeCount = 0;

  private constructor() {}

  /**
   * Reads the direct edges once (any order; an edge given twice counts once in the walk) and
   * builds the rows. A group with no member has no row: it has no nested member either.
   */
  static async fromEdges(edges: AsyncIterable<MembershipEdge> | Iterable<MembershipEdge>): Promise<MembershipGraph> {
    const graph = new MembershipGraph();
    const from = new IntList();
    const to = new IntList();
    for await (const edge of edges) {
      const group = graph.intern(edge.groupId, GROUP_TYPE);
      from.push(group);
      to.push(graph.intern(edge.memberId, edge.memberType));
    }
    graph.build(from, to);
    return graph;
  }

  /** How many direct edges were read, and how many distinct ids (groups and members). */
  get stats(): { edges: number; ids: number; groups: number } {
    return { edges: this.edgeCount, ids: this.ids.size, groups: this.sources.length };
  }

  /** Each group's nested members, one group at a time, groups ascending by id. */
  *closures(): IterableIterator<GroupClosure> {
    const count = this.ids.size;
    const seen = new Int32Array(count); // stamp: the walk (1-based) that last saw the id
    const found = new IntList();
    const depths = new IntList();
    let stamp = 0;
    for (const group of this.sources) {
      stamp += 1;
      found.length = 0;
      depths.length = 0;
      seen[group] = stamp;
      let inCycle = false;
      let frontier = [group];
      for (let depth = 1; frontier.length > 0; depth += 1) {
        const next: number[] = [];
        for (const parent of frontier) {
          for (let e = this.offsets[parent]!; e < this.offsets[parent + 1]!; e += 1) {
            const member = this.members[e]!;
            if (member === group) inCycle = true;
            if (seen[member] === stamp) continue;
            seen[member] = stamp;
            found.push(member);
            depths.push(depth);
            if (this.offsets[member + 1]! > this.offsets[member]!) next.push(member);
          }
        }
        frontier = next;
      }
      yield this.view(group, found.values.slice(0, found.length), depths.values.slice(0, depths.length), inCycle);
    }
  }

  /** The nested memberships as objects, group by group (for tests and small graphs; the exports use closures()). */
  *memberships(): IterableIterator<TransitiveMembership> {
    for (const closure of this.closures()) {
      for (let i = 0; i < closure.size; i += 1) {
        yield { groupId: closure.groupId, memberId: closure.memberId(i), memberType: closure.memberType(i), depth: closure.depth(i) };
      }
    }
  }

  private view(group: number, found: Int32Array, depths: Int32Array, inCycle: boolean): GroupClosure {
    const { ids, types, memberTypes } = this;
    return {
      groupId: ids.idAt(group),
      size: found.length,
      memberId: (i) => ids.idAt(found[i]!),
      memberType: (i) => types.idAt(memberTypes[found[i]!]!),
      depth: (i) => depths[i]!,
      inCycle,
    };
  }

  private intern(id: string, type: string): number {
    const next = this.ids.size; // a new id gets this index
    const index = this.ids.intern(id);
    if (index === next) {
      if (index === this.memberTypes.length) {
        const bigger = new Uint8Array(this.memberTypes.length * 2);
        bigger.set(this.memberTypes);
        this.memberTypes = bigger;
      }
      this.memberTypes[index] = this.typeNumber(type);
    } else if (type === GROUP_TYPE) {
      // A group first seen as a member of another kind (no type from Graph) is a group once it has members.
      this.memberTypes[index] = this.typeNumber(type);
    }
    return index;
  }

  private typeNumber(type: string): number {
    if (this.types.size === 255 && this.types.indexOf(type) === undefined) throw new Error("more than 255 member types");
    return this.types.intern(type);
  }

  /** Counting sort of the edges into rows (a row's members in the order read), duplicates dropped. */
  private build(from: IntList, to: IntList): void {
    const count = this.ids.size;
    const offsets = new Int32Array(count + 1);
    for (let e = 0; e < from.length; e += 1) offsets[from.values[e]! + 1]! += 1;
    for (let i = 0; i < count; i += 1) offsets[i + 1]! += offsets[i]!;
    const members = new Int32Array(from.length);
    const fill = offsets.slice(0, count);
    for (let e = 0; e < from.length; e += 1) members[fill[from.values[e]!]!++] = to.values[e]!;
    // Duplicates within a row (an edge read twice) are dropped, keeping the first.
    const last = new Int32Array(count).fill(-1);
    const kept = new Int32Array(count + 1);
    let write = 0;
    for (let i = 0; i < count; i += 1) {
      kept[i] = write;
      for (let e = offsets[i]!; e < offsets[i + 1]!; e += 1) {
        const member = members[e]!;
        if (last[member] === i) continue;
        last[member] = i;
        members[write++] = member;
      }
    }
    kept[count] = write;
    this.offsets = kept;
    this.members = members.slice(0, write);
    this.edgeCount = write;
    this.sources = [];
    for (let i = 0; i < count; i += 1) if (kept[i + 1]! > kept[i]!) this.sources.push(i);
    const ids = this.ids;
    this.sources.sort((a, b) => (ids.idAt(a) < ids.idAt(b) ? -1 : ids.idAt(a) > ids.idAt(b) ? 1 : 0));
  }
}
