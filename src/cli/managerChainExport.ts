/**
 * `export --latest|--snapshot <id>|--current --with-manager-chain` (issue 29, item 5): each user
 * with its chain of managers, nearest first, resolved locally from the manager edges the same
 * snapshot (or the mirror) keeps with USER_SYNC_GROUPS (docs/groups.md, "Managers"). JSON Lines:
 * `"managerChain": ["<manager id>", "<its manager's id>", …]`, and `"managerChainCycle": true` when
 * the chain came back to an id already in it (it ends there); CSV: the columns `managerChain` (the
 * ids as a JSON array, as every array cell) and `managerChainCycle` (`true` or empty).
 */
import type { GraphUser } from "../graph/types.js";
import { ManagerMap } from "../kinds/managerChain.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { formatCount } from "../shared/counts.js";
import { MIRROR_EDGE_SCOPE } from "../tables/edgeTables.js";
import { MANAGER_PROPERTY } from "../graph/managerLinks.js";
import { groupDataNotFound, groupStoresFromEnvironment } from "./groupSources.js";

/** The CSV columns the chain adds after the users' own. */
export const MANAGER_CHAIN_COLUMNS: readonly string[] = ["managerChain", "managerChainCycle"];

/** How many users are named on standard error when chains end in a cycle. */
const CYCLE_EXAMPLES = 5;

/** Adds each user's chain to it, and counts the chains that ended in a cycle. */
export class ManagerChains {
  readonly #map: ManagerMap;
  #cycles = 0;
  readonly #first: string[] = [];

  constructor(map: ManagerMap) {
    this.#map = map;
  }

  /** The user with `managerChain` (and `managerChainCycle: true` when its chain ended in a cycle). */
  withChain(user: GraphUser): GraphUser {
    const { chain, cycle } = this.#map.chainOf(user.id);
    if (!cycle) return { ...user, managerChain: chain };
    this.#cycles += 1;
    if (this.#first.length < CYCLE_EXAMPLES) this.#first.push(user.id);
    return { ...user, managerChain: chain, managerChainCycle: true };
  }

  /** The note for standard error when some chains ended in a cycle; undefined otherwise. */
  cycleNote(): string | undefined {
    if (this.#cycles === 0) return undefined;
    return `note: ${formatCount(this.#cycles, "user")}' manager chain${this.#cycles === 1 ? "" : "s"} came back to a manager already in the chain (a cycle of managers; first: ${this.#first.join(", ")}); each chain ends before the repeat and is marked "managerChainCycle": true.\n`;
  }
}

const NO_MANAGERS = "No managers are stored";
const FIX = "Managers are kept only with USER_SYNC_GROUPS=true: set it, run a sync (entra-user-sync run --full), then export --with-manager-chain.";

/**
 * A snapshot's chains: its run kept managers when its groups part ran (USER_SYNC_GROUPS was on,
 * whether the groups themselves succeeded or not). A run not found is left to the export's own
 * error (the chains are then empty and never used).
 */
export async function snapshotManagerChains(tenant: string | undefined, snapshotId: string, run: SyncRunRecord | undefined): Promise<ManagerChains> {
  if (run && run.status === "succeeded" && run.groups === undefined) {
    throw groupDataNotFound(`${NO_MANAGERS} in snapshot ${snapshotId}: it was taken with USER_SYNC_GROUPS off (or before managers were kept). ${FIX}`);
  }
  const stores = groupStoresFromEnvironment(tenant);
  return new ManagerChains(await ManagerMap.fromLinks(stores.managers.listManagers(snapshotId)));
}

/** The live mirror's chains: its rounds keep managers when its `$select` carries `manager` (USER_SYNC_GROUPS). */
export async function mirrorManagerChains(tenant: string | undefined, select: readonly string[]): Promise<ManagerChains> {
  if (!select.some((name) => name.toLowerCase() === MANAGER_PROPERTY)) {
    throw groupDataNotFound(`${NO_MANAGERS} in the live mirror: its rounds ran with USER_SYNC_GROUPS off (or before managers were kept). ${FIX}`);
  }
  const stores = groupStoresFromEnvironment(tenant);
  return new ManagerChains(await ManagerMap.fromLinks(stores.managers.listManagers(MIRROR_EDGE_SCOPE)));
}
