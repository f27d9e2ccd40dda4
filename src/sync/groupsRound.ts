/**
 * The groups part of a run (USER_SYNC_GROUPS, docs/groups.md): one pass of `/groups/delta` with
 * `members` feeds the groups' mirror (the generic mirror round, src/mirror/mirrorSync.ts, over the
 * GROUPS kind: its objects, its change log, its delta state and runs) and, page by page before the
 * mirror applies it, the `members` edges: the mirror's (scope `mirror`), the membership change log
 * (joined, left) and, in a snapshot run, the snapshot's groups and edges (scope: the snapshot id).
 * - In a snapshot run the round is full (one pass feeds the snapshot and the mirror's full round:
 *   mark and sweep, the edges the round did not see are deleted and logged as left, `notSeen`).
 * - Otherwise it is incremental from the saved delta link and costs what changed; a token Graph
 *   refuses (410, syncStateNotFound) turns it into a full round of the mirror, as for users.
 * Every write is under the run's writer lease and fenced.
 */
import type { GroupDeltaClient, GroupDeltaItem, GroupDeltaPage } from "../graph/groupDeltaClient.js";
import type { GraphTokenProvider } from "../graph/graphRequestClient.js";
import type { DeltaItem, DeltaPage, ListDeltaPagesOptions } from "../graph/userDeltaClient.js";
import type { Edge } from "../kinds/objectKind.js";
import type { MembershipChangeLog } from "../mirror/membershipChangeLog.js";
import { runMirrorSync, type DeltaPageSource, type MirrorStore } from "../mirror/mirrorSync.js";
import type { MirrorRunRecord, UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { Logger } from "../shared/logger.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import type { WriterLease } from "../snapshots/writerLease.js";
import { MIRROR_EDGE_SCOPE, type EdgeTables } from "../tables/edgeTables.js";
import type { OperationOptions } from "../shared/abort.js";
import type { ManagerEdges } from "./managerEdges.js";
import { membershipChangesOf, type MemberUsers } from "./membershipChanges.js";

/** The groups' stores of one prefix (src/app/groupStores.ts builds them). */
export interface GroupStores {
  /** The groups' snapshot table (kind GROUPS); run records are the users' store's. */
  snapshots: SnapshotStoreClient;
  /** The groups' mirror, change log, delta state and mirror runs (kind GROUPS). */
  mirror: UserMirrorClient;
  /** The `members` edges of every snapshot and of the mirror. */
  edges: EdgeTables;
  /** Joined and left, per mirror run. */
  memberships: MembershipChangeLog;
  /** The users' `manager` edges of every snapshot and of the mirror (src/sync/managerEdges.ts). */
  managers: ManagerEdges;
}

/** What the groups part of a run is given. */
export interface GroupsClients {
  delta: GroupDeltaClient;
  stores: GroupStores;
  /** The users' mirror (membershipChanges.ts: `left` because removed, or because the member was deleted); without it `left` keeps Graph's reason. */
  users?: MemberUsers;
}

/** The same, with what the permission check at a run's start needs (src/sync/groupsPart.ts). */
export interface GroupsRunClients extends GroupsClients {
  tokens: GraphTokenProvider;
  /** The tenant's admin-consent URL, named when the permission is missing. */
  adminConsentUrl: string | undefined;
}

export interface GroupsRoundDependencies extends GroupsClients {
  logger: Logger;
  lease: WriterLease;
}

export interface GroupsRoundOptions extends OperationOptions {
  trigger: SyncTrigger;
  /** A snapshot run's id: the round is full, and its groups and edges are written into this snapshot too. */
  snapshotId?: string;
}

export interface GroupsRoundResult {
  /** The groups' mirror run. */
  mirror: MirrorRunRecord;
  /** Groups written into the snapshot (snapshot runs only). */
  groups: number;
  /** Membership edges written into the snapshot (snapshot runs only). */
  edges: number;
}

/** Runs the groups part: a full round into the snapshot and the mirror, or an incremental round of the mirror. */
export async function runGroupsRound(deps: GroupsRoundDependencies, options: GroupsRoundOptions): Promise<GroupsRoundResult> {
  const { stores, lease } = deps;
  const write = { abortSignal: options.abortSignal, lease };
  const snapshotId = options.snapshotId;
  // A groups pass of a resumed (or retried) snapshot run writes the snapshot's partitions again: take them over first.
  if (snapshotId !== undefined) await stores.snapshots.claimSnapshot(snapshotId, lease, { abortSignal: options.abortSignal });
  const mirror = new GroupMirrorStore(stores, write);
  const written = { groups: new Set<string>(), edges: 0 };

  /** One page's edges, before the mirror applies its groups: the snapshot's, the mirror's, the change log. */
  const applyEdges = async (page: GroupDeltaPage) => {
    const run = mirror.current!;
    const edges = page.edges.map((e): Edge => ({ sourceId: e.groupId, targetId: e.memberId, targetType: e.memberType, ...(e.removed ? { removed: true } : {}) }));
    if (snapshotId !== undefined) {
      const groups = page.groups.flatMap((item) => (item.kind === "group" ? [item.group] : []));
      if (groups.length > 0) await stores.snapshots.upsertObjects(snapshotId, groups, write);
      for (const group of groups) written.groups.add(group.id);
      await stores.edges.writeEdges(snapshotId, edges, write);
      written.edges += edges.filter((e) => !e.removed).length;
    }
    const full = run.mode === "full";
    await stores.edges.writeEdges(MIRROR_EDGE_SCOPE, edges, { ...write, ...(full ? { round: run.runId } : {}) });
    if (!full) await stores.memberships.writeChanges(run.runId, await membershipChangesOf(page.edges, deps.users, write), new Date(), write);
  };

  const source: DeltaPageSource = {
    select: deps.delta.select,
    async *listDeltaPages(listOptions: ListDeltaPagesOptions = {}): AsyncIterable<DeltaPage> {
      for await (const page of deps.delta.listDeltaPages(listOptions)) {
        await applyEdges(page);
        yield {
          pageNumber: page.pageNumber,
          items: page.groups.map(deltaItemOf),
          ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}),
          ...(page.deltaLink !== undefined ? { deltaLink: page.deltaLink } : {}),
        };
      }
    },
  };
  const record = await runMirrorSync(
    { delta: source, mirror, logger: deps.logger, lease },
    { trigger: options.trigger, abortSignal: options.abortSignal, ...(snapshotId !== undefined ? { full: "forced" as const } : {}) },
  );
  return { mirror: record, groups: written.groups.size, edges: written.edges };
}

/** Deletes the groups and edges of snapshots retention deleted the users of. Returns the rows deleted. */
export async function deleteGroupSnapshots(stores: GroupStores, snapshotIds: readonly string[], options: OperationOptions & { lease: WriterLease }): Promise<number> {
  let deleted = 0;
  for (const snapshotId of snapshotIds) {
    deleted += await stores.snapshots.deleteSnapshot(snapshotId, { abortSignal: options.abortSignal, lease: options.lease });
    deleted += await stores.edges.deleteScope(snapshotId, options);
    deleted += await stores.managers.edges.deleteScope(snapshotId, options);
  }
  return deleted;
}

function deltaItemOf(item: GroupDeltaItem): DeltaItem {
  return item.kind === "group" ? { kind: "user", user: item.group } : item;
}

/**
 * The groups' mirror as the generic round sees it: the GROUPS kind's UserMirrorClient, which also
 * tells the edges which run is under way (its record) and sweeps the edges a full round did not see.
 */
class GroupMirrorStore implements MirrorStore {
  readonly #stores: GroupStores;
  readonly #write: { abortSignal: AbortSignal | undefined; lease: WriterLease };
  /** The run the round recorded last (the same object the round keeps updating). */
  current: MirrorRunRecord | undefined;

  constructor(stores: GroupStores, write: { abortSignal: AbortSignal | undefined; lease: WriterLease }) {
    this.#stores = stores;
    this.#write = write;
  }

  get kind() {
    return this.#stores.mirror.kind;
  }
  get stats() {
    return this.#stores.mirror.stats;
  }
  beginRound: MirrorStore["beginRound"] = (lease, options) => this.#stores.mirror.beginRound(lease, options);
  getDeltaState: MirrorStore["getDeltaState"] = (options) => this.#stores.mirror.getDeltaState(options);
  saveDeltaState: MirrorStore["saveDeltaState"] = (state, etag, options) => this.#stores.mirror.saveDeltaState(state, etag, options);
  recordRun: MirrorStore["recordRun"] = (run, options) => {
    this.current = run;
    return this.#stores.mirror.recordRun(run, options);
  };
  getUsers: MirrorStore["getUsers"] = (ids, options) => this.#stores.mirror.getUsers(ids, options);
  applyWrites: MirrorStore["applyWrites"] = (writes, options) => this.#stores.mirror.applyWrites(writes, options);
  writeChanges: MirrorStore["writeChanges"] = (runId, changes, at, options) => this.#stores.mirror.writeChanges(runId, changes, at, options);
  listChanges: MirrorStore["listChanges"] = (runId, options) => this.#stores.mirror.listChanges(runId, options);

  /** The groups the full round did not see are marked missing; the edges it did not see are deleted and logged as left. */
  sweep: MirrorStore["sweep"] = async (round, runId, now, options) => {
    const swept = await this.#stores.mirror.sweep(round, runId, now, options);
    const left = await this.#stores.edges.sweep(MIRROR_EDGE_SCOPE, round, this.#write);
    await this.#stores.memberships.writeChanges(
      runId,
      left.map((e) => ({ groupId: e.sourceId, memberId: e.targetId, memberType: e.targetType, change: "left", reason: "notSeen" })),
      now,
      this.#write,
    );
    return swept;
  };
}
