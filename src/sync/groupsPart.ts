/**
 * The groups part of one run under the writer lease (USER_SYNC_GROUPS, docs/groups.md):
 * 1. `begin`, at the run's start: the permission check (the token's roles: GroupMember.Read.All or
 *    a broader role). Without it, `graph_permission_missing` is logged, the users' part runs as
 *    usual, and the groups part fails at the end (`finish` records it and throws it).
 * 2. In a snapshot run, `beforePromotion`: one full `/groups/delta` pass into the snapshot and the
 *    groups' mirror (src/sync/groupsRound.ts), recorded on the run record; the snapshot is promoted
 *    only once it completed. The pass checkpoints on the run record after each committed page; a
 *    continued run reads on from the saved page link. Without the permission, the failure is recorded on the run record and
 *    the users' snapshot is promoted.
 * 3. `finish`: an incremental round of the groups' mirror when no snapshot carried the groups (none
 *    when a snapshot paused: its groups pass comes when it completes); the groups and edges of the
 *    snapshots retention deleted are deleted too.
 */
import { assertGroupPermission } from "../graph/groupPermission.js";
import { noMirrorRunCounts } from "../mirror/mirrorRecords.js";
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import { formatCount } from "../shared/counts.js";
import { describeError, isUserSyncError, type UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { GroupsCheckpoint, SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import type { WriterLease } from "../snapshots/writerLease.js";
import { newRunId } from "../tables/keys.js";
import { deleteGroupSnapshots, runGroupsRound, type GroupsRunClients, type GroupStores } from "./groupsRound.js";
import type { UserSyncResult } from "./snapshotPorts.js";
import type { OperationOptions } from "../shared/abort.js";

export interface GroupsPartContext extends OperationOptions {
  logger: Logger;
  lease: WriterLease;
  trigger: SyncTrigger;
}

/** What the part needs to know of the rest of the run when it finishes. */
export interface GroupsPartRunResult {
  snapshot?: UserSyncResult<SyncRunRecord>;
  groupsMirror?: MirrorRunRecord;
}

export class GroupsPart {
  readonly #clients: GroupsRunClients;
  readonly #context: GroupsPartContext;
  /** Why the groups part cannot run (the permission is missing). */
  readonly problem: UserSyncError | undefined;
  /** The groups' mirror round a snapshot run carried. */
  #carried: MirrorRunRecord | undefined;
  #recordedOnSnapshot = false;

  private constructor(clients: GroupsRunClients, context: GroupsPartContext, problem: UserSyncError | undefined) {
    this.#clients = clients;
    this.#context = context;
    this.problem = problem;
  }

  /** The groups' tables (snapshots, mirror and change log, both edge tables). */
  static async createTables(stores: GroupStores, options: OperationOptions): Promise<void> {
    const signal = { abortSignal: options.abortSignal };
    await Promise.all([stores.snapshots.createSnapshotsTableIfNotExists(signal), stores.mirror.createTablesIfNotExist(signal), stores.edges.createTablesIfNotExist(signal), stores.managers.edges.createTablesIfNotExist(signal)]);
  }

  /** Checks the permission (from the token's roles, before any groups request). */
  static async begin(clients: GroupsRunClients, context: GroupsPartContext): Promise<GroupsPart> {
    let problem: UserSyncError | undefined;
    try {
      await assertGroupPermission(clients.tokens, { adminConsentUrl: clients.adminConsentUrl, abortSignal: context.abortSignal });
    } catch (error) {
      if (!isUserSyncError(error, "graph_permission_missing")) throw error;
      problem = error;
      context.logger.error(`The groups part of this run fails; the users are synced as usual. ${error.message}`);
    }
    return new GroupsPart(clients, context, problem);
  }

  /** SnapshotRun's beforePromotion: the groups' full pass into the snapshot (or the recorded failure). */
  readonly beforePromotion = async (run: SyncRunRecord, options: { abortSignal: AbortSignal; checkpoint: (run: SyncRunRecord) => Promise<SyncRunRecord> }): Promise<SyncRunRecord> => {
    if (this.problem) {
      this.#recordedOnSnapshot = true;
      return { ...run, groups: { status: "failed", errorCode: this.problem.code, error: this.problem.message } };
    }
    const { logger, lease, trigger } = this.#context;
    // The pass saves where it stands on the run record after each committed page; a continued run reads on from there.
    let current = run;
    const checkpoint = async (groupsCheckpoint: GroupsCheckpoint) => void (current = await options.checkpoint({ ...current, groupsCheckpoint }));
    const resume = run.groupsCheckpoint;
    const result = await runGroupsRound({ ...this.#clients, logger, lease }, { trigger, abortSignal: options.abortSignal, snapshotId: run.snapshotId, checkpoint, ...(resume ? { resume } : {}) });
    this.#carried = result.mirror;
    logger.info(`Groups: ${formatCount(result.groups, "group")} and ${formatCount(result.edges, "membership")} written into snapshot ${run.snapshotId}; ${describeRound(result.mirror)}.`);
    const done: SyncRunRecord = { ...current, groups: { status: "succeeded", groups: result.groups, edges: result.edges, mirrorRunId: result.mirror.runId } };
    delete done.groupsCheckpoint;
    return done;
  };

  /** After the users' part: retention of the groups' snapshots, the mirror's round, or the part's failure. */
  async finish(result: GroupsPartRunResult): Promise<void> {
    const { logger, lease, trigger, abortSignal } = this.#context;
    const deleted = result.snapshot?.retention?.deletedSnapshotIds ?? [];
    if (deleted.length > 0) {
      try {
        await deleteGroupSnapshots(this.#clients.stores, deleted, { abortSignal, lease });
      } catch (error) {
        if (isUserSyncError(error, "lease_lost") || lease.lost) throw lease.lost ?? error;
        logger.warn(`Retention did not delete the groups of every expired snapshot (the next run continues it): ${describeError(error)}`);
      }
    }
    if (this.problem) {
      if (!this.#recordedOnSnapshot) await this.#recordFailedRound(this.problem);
      throw this.problem;
    }
    if (this.#carried) {
      result.groupsMirror = this.#carried;
      return;
    }
    if (abortSignal?.aborted) return;
    if (result.snapshot?.outcome === "paused") {
      // Its groups pass comes when it completes (a full round of the groups' mirror with it); nothing more now, past the deadline.
      logger.info("Groups: the snapshot paused; its groups pass (and the groups' mirror round with it) runs when the next run completes it.");
      return;
    }
    const round = await runGroupsRound({ ...this.#clients, logger, lease }, { trigger, abortSignal });
    result.groupsMirror = round.mirror;
    logger.info(`Groups: ${describeRound(round.mirror)}.`);
  }

  /** A run without a snapshot: the groups' failure is recorded as a failed run of the groups' mirror. */
  async #recordFailedRound(problem: UserSyncError): Promise<void> {
    const { lease, trigger } = this.#context;
    const now = new Date();
    const record: MirrorRunRecord = {
      runId: newRunId(now),
      status: "failed",
      mode: "incremental",
      reason: "deltaLink",
      trigger,
      startedAt: now,
      endedAt: now,
      select: [...this.#clients.delta.select],
      ...noMirrorRunCounts(),
      error: `${problem.code}: ${problem.message}`,
    };
    await this.#clients.stores.mirror.recordRun(record, { lease });
  }
}

function describeRound(run: MirrorRunRecord): string {
  const c = run.changes;
  return `the groups' mirror had a ${run.mode} round (run ${run.runId}, ${formatCount(run.pages, "page")}: ${c.added} added, ${c.updated} updated, ${c.restored} restored, ${c.removed} removed)`;
}

