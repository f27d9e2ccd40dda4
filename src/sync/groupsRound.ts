/**
 * The groups part of a run (USER_SYNC_GROUPS, docs/groups.md): one pass of `/groups/delta` with
 * `members` feeds the groups' mirror (the generic mirror round, src/mirror/mirrorSync.ts, over the
 * GROUPS kind: its objects, its change log, its delta state and runs) and, page by page before the
 * mirror applies it, the `members` edges: the mirror's (scope `mirror`), the membership change log
 * (joined, left) and, in a snapshot run, the snapshot's groups and edges (scope: the snapshot id).
 * - In a snapshot run the round is full (one pass feeds the snapshot and the mirror's full round:
 *   mark and sweep, the edges the round did not see are deleted and logged as left, `notSeen`).
 *   After each committed page it saves a checkpoint (the next link, the round's mark, the counts);
 *   a run continued from it reads on from that link under the same mark. Nothing spans pages here
 *   (the reader merges nothing: each page's groups and edges are written before its checkpoint,
 *   and a group continued on later pages only adds edges, upserts keyed by group and member), so
 *   the link and the mark are all a continued pass needs. Graph refusing the saved link (an expired
 *   token) starts the pass over from its first page, with a new mark.
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
import { formatCount } from "../shared/counts.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import { MAX_GROUPS_LINK_DIGESTS, type GroupsCheckpoint } from "../snapshots/runRecords.js";
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
  /** A snapshot run's pass continued from this checkpoint (its next link, its mark, its counts). */
  resume?: GroupsCheckpoint;
  /** A snapshot run's pass: saves where it stands after each committed page (but the last). */
  checkpoint?: (checkpoint: GroupsCheckpoint) => Promise<void>;
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
  const resume = options.resume;
  const pass = new GroupsPass(deps, options);
  try {
    return await pass.run();
  } catch (error) {
    // Graph refused the saved page link (its token expired, or it is gone): the pass starts over.
    if (resume === undefined || pass.pagesRead > 0 || !isRefusedLink(error) || deps.lease.lost !== undefined) throw error;
    deps.logger.warn(
      `Groups: Graph refused the groups pass's saved page link (${describeError(error)}); the pass runs again from its first page, with a new round of the groups' mirror (mirror run ${pass.mirrorRunId ?? "?"} is recorded as failed).`,
    );
    const fresh = { ...options };
    delete fresh.resume;
    return runGroupsRound(deps, fresh);
  }
}

/** One groups pass (runGroupsRound): the mirror's round over the delta pages, with each page's edges (and the snapshot's part) written before the mirror applies it. */
class GroupsPass {
  readonly #deps: GroupsRoundDependencies;
  readonly #options: GroupsRoundOptions;
  readonly #mirror: GroupMirrorStore;
  readonly #write: { abortSignal: AbortSignal | undefined; lease: WriterLease };
  readonly #groups = new Set<string>();
  #progress: Omit<GroupsCheckpoint, "nextLink" | "mirrorRunId">;
  /** Pages read by this pass (not counting those of the run it continues). */
  pagesRead = 0;

  constructor(deps: GroupsRoundDependencies, options: GroupsRoundOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#write = { abortSignal: options.abortSignal, lease: deps.lease };
    this.#mirror = new GroupMirrorStore(deps.stores, this.#write);
    const resume = options.resume;
    this.#progress = resume ? { round: resume.round, pages: resume.pages, groups: resume.groups, edges: resume.edges, linkDigests: [...(resume.linkDigests ?? [])] } : { round: "", pages: 0, groups: 0, edges: 0, linkDigests: [] };
  }

  get mirrorRunId(): string | undefined {
    return this.#mirror.current?.runId;
  }

  async run(): Promise<GroupsRoundResult> {
    const { deps, options } = { deps: this.#deps, options: this.#options };
    const snapshotId = options.snapshotId;
    // A groups pass of a resumed (or retried) snapshot run writes the snapshot's partitions again: take them over first.
    if (snapshotId !== undefined) await deps.stores.snapshots.claimSnapshot(snapshotId, deps.lease, { abortSignal: options.abortSignal });
    const resume = options.resume;
    if (resume) deps.logger.info(`Groups: continuing the groups pass from its checkpoint (${formatCount(resume.pages, "page")} committed, ${formatCount(resume.groups, "group")} and ${formatCount(resume.edges, "membership")} written so far).`);
    const record = await runMirrorSync(
      { delta: this.#source(), mirror: this.#mirror, logger: deps.logger, lease: deps.lease },
      {
        trigger: options.trigger,
        abortSignal: options.abortSignal,
        ...(snapshotId !== undefined ? { full: "forced" as const } : {}),
        ...(resume ? { continueFull: { round: resume.round, startLink: resume.nextLink, seenLinks: resume.linkDigests ?? [] } } : {}),
      },
    );
    return { mirror: record, groups: this.#progress.groups, edges: this.#progress.edges };
  }

  /** The delta pages as the mirror's round reads them: each page's edges written first, a checkpoint after the round applied it. */
  #source(): DeltaPageSource {
    const delta = this.#deps.delta;
    return {
      select: delta.select,
      listDeltaPages: async function* (this: GroupsPass, listOptions: ListDeltaPagesOptions = {}): AsyncIterable<DeltaPage> {
        for await (const page of delta.listDeltaPages(listOptions)) {
          this.pagesRead += 1;
          await this.#applyEdges(page);
          yield {
            pageNumber: page.pageNumber,
            items: page.groups.map(deltaItemOf),
            ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}),
            ...(page.deltaLink !== undefined ? { deltaLink: page.deltaLink } : {}),
          };
          // The round asks for the next page once it applied this one: every write of the page is committed.
          await this.#checkpoint(page);
        }
      }.bind(this),
    };
  }

  /** One page's edges, before the mirror applies its groups: the snapshot's, the mirror's, the change log. */
  async #applyEdges(page: GroupDeltaPage): Promise<void> {
    const { stores } = this.#deps;
    const write = this.#write;
    const snapshotId = this.#options.snapshotId;
    const run = this.#mirror.current!;
    const edges = page.edges.map((e): Edge => ({ sourceId: e.groupId, targetId: e.memberId, targetType: e.memberType, ...(e.removed ? { removed: true } : {}) }));
    if (snapshotId !== undefined) {
      const groups = page.groups.flatMap((item) => (item.kind === "group" ? [item.group] : []));
      if (groups.length > 0) await stores.snapshots.upsertObjects(snapshotId, groups, write);
      // A group counts once per pass (Graph may repeat its properties on a later page).
      for (const group of groups) {
        if (this.#groups.has(group.id)) continue;
        this.#groups.add(group.id);
        this.#progress.groups += 1;
      }
      await stores.edges.writeEdges(snapshotId, edges, write);
      this.#progress.edges += edges.filter((e) => !e.removed).length;
    }
    const full = run.mode === "full";
    // A full round's mark: the run's own id, or the mark of the round it continues.
    if (full && this.#progress.round === "") this.#progress.round = run.runId;
    await stores.edges.writeEdges(MIRROR_EDGE_SCOPE, edges, { ...write, ...(full ? { round: this.#progress.round } : {}) });
    if (!full) await stores.memberships.writeChanges(run.runId, await membershipChangesOf(page.edges, this.#deps.users, write), new Date(), write);
  }

  /** After a committed page of a snapshot run's pass: where the pass stands (none after the last page: the round completes). */
  async #checkpoint(page: GroupDeltaPage): Promise<void> {
    const save = this.#options.checkpoint;
    const progress = this.#progress;
    progress.pages += 1;
    if (page.linkDigest !== undefined) progress.linkDigests = [...(progress.linkDigests ?? []), page.linkDigest].slice(-MAX_GROUPS_LINK_DIGESTS);
    if (save === undefined || page.nextLink === undefined || this.#mirror.current?.mode !== "full") return;
    await save({ ...progress, nextLink: page.nextLink, mirrorRunId: this.#mirror.current.runId, linkDigests: [...(progress.linkDigests ?? [])] });
  }
}

/** Graph refused a saved page link: its token expired or is gone, or the link is no longer accepted. */
function isRefusedLink(error: unknown): boolean {
  if (!isUserSyncError(error)) return false;
  if (error.code === "graph_delta_token_invalid" || error.code === "graph_untrusted_next_link") return true;
  const status = Number(error.details.status);
  return error.code === "graph_request_failed" && (status === 400 || status === 404 || status === 410);
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
  saveDeltaState: MirrorStore["saveDeltaState"] = (state, previous, options) => this.#stores.mirror.saveDeltaState(state, previous, options);
  recordRun: MirrorStore["recordRun"] = (run, options) => {
    this.current = run;
    return this.#stores.mirror.recordRun(run, options);
  };
  finishRound: MirrorStore["finishRound"] = (state, previous, run, options) => {
    this.current = run;
    return this.#stores.mirror.finishRound(state, previous, run, options);
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
