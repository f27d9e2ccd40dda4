/**
 * The chain of managers (issue 29, item 5), resolved locally from the stored manager edges: for a
 * user, its manager's id, that manager's manager's id, and so on, nearest first. A cycle (a manager
 * chain that comes back to an id already in it, the user included) ends the chain at the first
 * repeat and is reported (`cycle`), never followed.
 *
 * Memory: one edge per user at most, held as integers: every id interned once (one string each in
 * an array, plus its Map entry), the manager of each as one Int32Array slot (-1: none). That is
 * O(users) ids, whatever the depth of the chains; a walk needs one "seen" stamp per id (an
 * Int32Array reused by every walk, never cleared) and its own chain.
 */
import { IdInterner } from "./idInterner.js";
import type { ManagerLink } from "./membershipPorts.js";

/** One user's chain: manager ids nearest first, and whether it ended at a repeat. */
export interface ManagerChain {
  chain: string[];
  cycle: boolean;
}

const NONE = -1;

export class ManagerMap {
  private readonly ids = new IdInterner();
  private managers = new Int32Array(1024).fill(NONE);
  private seen = new Int32Array(0);
  private stamp = 0;

  private constructor() {}

  /** Reads the manager links once (any order; a user given twice keeps its last manager). */
  static async fromLinks(links: AsyncIterable<ManagerLink> | Iterable<ManagerLink>): Promise<ManagerMap> {
    const map = new ManagerMap();
    for await (const link of links) {
      const user = map.intern(link.userId);
      const manager = map.intern(link.managerId);
      map.managers[user] = manager;
    }
    map.seen = new Int32Array(map.ids.size);
    return map;
  }

  /** How many distinct ids (users and managers) are held. */
  get size(): number {
    return this.ids.size;
  }

  /** The chain of `userId` (an id without a stored manager, or unknown: an empty chain). */
  chainOf(userId: string): ManagerChain {
    const start = this.ids.indexOf(userId);
    if (start === undefined) return { chain: [], cycle: false };
    this.stamp += 1;
    this.seen[start] = this.stamp;
    const chain: string[] = [];
    for (let at = this.managers[start]!; at !== NONE; at = this.managers[at]!) {
      if (this.seen[at] === this.stamp) return { chain, cycle: true };
      this.seen[at] = this.stamp;
      chain.push(this.ids.idAt(at));
    }
    return { chain, cycle: false };
  }

  private intern(id: string): number {
    const index = this.ids.intern(id);
    if (index === this.managers.length) {
      const bigger = new Int32Array(this.managers.length * 2).fill(NONE);
      bigger.set(this.managers);
      this.managers = bigger;
    }
    return index;
  }
}
