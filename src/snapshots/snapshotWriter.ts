/**
 * Writing a snapshot: a run is started (or resumed), its users are written page by page in
 * single-partition transactions (fenced, under a lease), its progress is checkpointed, and at the
 * end it is promoted to `latest` in the same transaction that marks it succeeded.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import { isUserSyncError } from "../shared/errors.js";
import { assertSnapshotId } from "./snapshotErrors.js";
import { newRunId, snapshotPartitionKey, timeOfRunId } from "../tables/keys.js";
import { entitiesOf, failedOperationIndex, FENCED_MAX_OPERATIONS, PartitionFence } from "../tables/partitionFence.js";
import { storageError } from "../tables/storageErrors.js";
import { isStatusCode, submitAll } from "../tables/tableStore.js";
import { planTransactions, SERVICE_TRANSACTION_LIMITS, type TransactionLimits } from "../tables/transactions.js";
import type { GraphObject, KindEntity, ObjectKind } from "../kinds/objectKind.js";
import {
  boundedError,
  double,
  encodeRun,
  LATEST_ROW,
  normalizeStats,
  RUNS_PARTITION,
  type LatestEntity,
  type RunCheckpoint,
  type RunStats,
  type SkippedUser,
  type SnapshotMirrorRound,
  type SyncRunRecord,
  type SyncTrigger,
} from "./runRecords.js";
import type { RunsTable, WriteOptions } from "./runsTable.js";
import type { WriterLease } from "./writerLease.js";
import type { OperationOptions } from "../shared/abort.js";

export interface StartRunOptions extends WriteOptions {
  trigger: SyncTrigger;
  select: readonly string[];
  /** The mirror's full round that rides on the run's pass (kept with the run so a resumed run continues it). */
  mirrorRound?: SnapshotMirrorRound;
}

export interface CheckpointRunOptions extends WriteOptions {
  /** Digests of the links of every page committed so far (see RunCheckpoint.linkDigests). */
  linkDigests?: readonly string[];
}

export interface UpsertUsersResult {
  entitiesWritten: number;
  transactions: number;
  /** Users that cannot be stored at all, with the reason; the rest of the page is written. */
  skipped: SkippedUser[];
}

const PROMOTION_ATTEMPTS = 5;

export interface SnapshotWriterOptions {
  /** The kind of object the snapshot table holds (its entity encoding; its name in messages). */
  kind: ObjectKind;
  /** The kind's snapshot table. */
  snapshots: TableClient;
  runs: RunsTable;
  storage: TableStorageSettings;
  partitionCount: number;
  limit: LimitFunction;
}

export class SnapshotWriter {
  readonly #kind: ObjectKind;
  readonly #snapshots: TableClient;
  readonly #runs: RunsTable;
  readonly #storage: TableStorageSettings;
  readonly #partitionCount: number;
  readonly #limit: LimitFunction;
  readonly #transactionLimits: TransactionLimits = SERVICE_TRANSACTION_LIMITS;
  readonly #fences = new WeakMap<WriterLease, Map<string, PartitionFence>>();

  constructor(options: SnapshotWriterOptions) {
    this.#kind = options.kind;
    this.#snapshots = options.snapshots;
    this.#runs = options.runs;
    this.#storage = options.storage;
    this.#partitionCount = options.partitionCount;
    this.#limit = options.limit;
  }

  /** Records a new run (status running) and returns it; its snapshot id is new and not yet latest. */
  async startRun(options: StartRunOptions): Promise<SyncRunRecord> {
    const runId = newRunId();
    const run: SyncRunRecord = {
      runId,
      snapshotId: runId,
      status: "running",
      trigger: options.trigger,
      startedAt: timeOfRunId(runId)!,
      select: [...options.select],
      partitionCount: this.#partitionCount,
      stats: normalizeStats({ pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0 }),
    };
    if (options.mirrorRound) run.mirrorRound = { ...options.mirrorRound, select: [...options.mirrorRound.select] };
    if (options.lease) options.lease.runId = runId;
    await this.#runs.write([["create", encodeRun(run)]], `recording run ${runId}`, options);
    return run;
  }

  /**
   * Writes objects of the writer's kind (users) into a snapshot: upserts (Replace) in entity group
   * transactions of one partition, at most 100 operations and under 4 MiB each, with bounded
   * concurrency. An id given twice is written once (the last one wins). An object that cannot be
   * stored at all is left out and returned in `skipped` with the reason; the rest of the page is
   * written. With a lease, every transaction is fenced (the partition's fence row is checked and
   * moved on in it).
   */
  async upsertObjects(snapshotId: string, objects: readonly GraphObject[], options: WriteOptions = {}): Promise<UpsertUsersResult> {
    assertSnapshotId(snapshotId);
    const byId = new Map<string, KindEntity>();
    const skipped: SkippedUser[] = [];
    const { encode } = this.#kind.entity;
    for (const object of objects) {
      let entity: KindEntity;
      try {
        entity = encode(object, snapshotPartitionKey(snapshotId, String(object.id), this.#partitionCount));
      } catch (error) {
        if (!isUserSyncError(error, "user_not_storable")) throw error;
        skipped.push({ id: String(object.id), reason: error.message });
        continue;
      }
      byId.delete(entity.rowKey);
      byId.set(entity.rowKey, entity);
    }
    const lease = options.lease;
    const limits = lease ? { maxOperations: FENCED_MAX_OPERATIONS, maxPayloadBytes: this.#transactionLimits.maxPayloadBytes - 4096 } : this.#transactionLimits;
    const plan = planTransactions(byId.values(), limits);
    const abortSignal = options.abortSignal;
    const fence = lease ? this.#fence(lease, snapshotId) : undefined;
    const tasks = plan.map((entities) => async () => {
      const actions: TransactionAction[] = entities.map((entity) => ["upsert", entity, "Replace"]);
      const operation = `writing ${entities.length} ${this.#kind.name} of snapshot ${snapshotId} (partition ${entities[0]!.partitionKey})`;
      if (fence) {
        await fence.submit(entities[0]!.partitionKey, actions, operation, abortSignal);
        return;
      }
      try {
        await this.#snapshots.submitTransaction(actions, { abortSignal });
      } catch (error) {
        throw storageError(this.#storage, this.#snapshots.tableName, operation, error, { batch: entitiesOf(actions) });
      }
    });
    // Fenced transactions take their slot in the fence (one partition's are sent one after another).
    await submitAll(tasks, fence ? undefined : this.#limit, abortSignal);
    return { entitiesWritten: byId.size, transactions: plan.length, skipped };
  }

  /**
   * Takes a snapshot's partitions over for `lease` (rewrites their fence rows), so that no write of
   * an earlier holder of the snapshot can land after this. resumeRun does it.
   */
  async claimSnapshot(snapshotId: string, lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    assertSnapshotId(snapshotId);
    const keys = Array.from({ length: this.#partitionCount }, (_, shard) => `${snapshotId}-${shard.toString(16).padStart(2, "0")}`);
    await this.#fence(lease, snapshotId).claim(keys, options.abortSignal);
  }

  /**
   * Marks the run succeeded and, in the same transaction, points `latest` at its snapshot, unless
   * `latest` already names a newer snapshot (then the run is only marked succeeded). Call it only
   * after every upsertObjects of the run has resolved.
   */
  async completeRun(run: SyncRunRecord, stats: RunStats, options: WriteOptions = {}): Promise<SyncRunRecord> {
    const completed: SyncRunRecord = { ...run, status: "succeeded", endedAt: new Date(), stats: normalizeStats(stats) };
    delete completed.error;
    const runEntity = encodeRun(completed);
    const operation = `promoting snapshot ${run.snapshotId} to latest`;
    for (let attempt = 1; ; attempt++) {
      const current = await this.#runs.getLatestEntity(options.abortSignal);
      if (current && current.snapshotId > completed.snapshotId) {
        // "update" (not upsert): fails if the run record does not exist.
        await this.#runs.write([["update", runEntity, "Replace", { etag: "*" }]], `recording run ${run.runId} as succeeded`, options);
        return completed;
      }
      const latest: LatestEntity & { partitionKey: string; rowKey: string } = {
        partitionKey: RUNS_PARTITION,
        rowKey: LATEST_ROW,
        kind: "latest",
        snapshotId: completed.snapshotId,
        runId: completed.runId,
        completedAt: completed.endedAt!,
        userCount: double(completed.stats.entitiesWritten),
        startedAt: completed.startedAt,
      };
      const actions: TransactionAction[] = [
        ["update", runEntity, "Replace", { etag: "*" }],
        current ? ["update", latest, "Replace", { etag: current.etag }] : ["create", latest],
      ];
      try {
        await this.#runs.write(actions, operation, options, { raw: true });
        return completed;
      } catch (error) {
        // Another run moved `latest` between our read and our write: read it again and decide again.
        if (attempt < PROMOTION_ATTEMPTS && isStatusCode(error, 409, 412) && (failedOperationIndex(error) ?? 1) === 1) continue;
        if (isUserSyncError(error)) throw error;
        throw storageError(this.#storage, this.#runs.tableName, operation, error, { batch: entitiesOf(actions) });
      }
    }
  }

  /** Marks the run failed with a redacted, bounded error text. `latest` is never touched. */
  async failRun(run: SyncRunRecord, error: string, stats: RunStats, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#update({ ...run, status: "failed", endedAt: new Date(), stats: normalizeStats(stats), error: boundedError(error) }, `recording run ${run.runId} as failed`, options);
  }

  /**
   * Saves progress after a committed page: counts and the next link (absent when the last page is
   * committed). Under a lease, the lease is renewed in the same transaction, so a run whose lease
   * was taken over cannot checkpoint (`lease_lost`).
   */
  async checkpointRun(run: SyncRunRecord, nextLink: string | undefined, stats: RunStats, options: CheckpointRunOptions = {}): Promise<SyncRunRecord> {
    const checkpoint: RunCheckpoint = { at: new Date() };
    if (nextLink !== undefined) checkpoint.nextLink = nextLink;
    if (options.linkDigests && options.linkDigests.length > 0) checkpoint.linkDigests = [...options.linkDigests];
    if (options.lease) options.lease.runId = run.runId;
    return this.#update({ ...run, status: "running", stats: normalizeStats(stats), checkpoint }, `saving a checkpoint of run ${run.runId}`, options);
  }

  /** Marks a running run paused at its last checkpoint: the next run resumes it. */
  async pauseRun(run: SyncRunRecord, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#update({ ...run, status: "paused", endedAt: new Date() }, `recording run ${run.runId} as paused`, options);
  }

  /**
   * Marks a paused (or dead running) run running again, to continue from its checkpoint. Under a
   * lease, the snapshot's partitions are taken over too (claimSnapshot): a late write of the run's
   * previous holder cannot land in it afterwards.
   */
  async resumeRun(run: SyncRunRecord, options: WriteOptions = {}): Promise<SyncRunRecord> {
    const resumed: SyncRunRecord = { ...run, status: "running" };
    delete resumed.endedAt;
    if (options.lease) options.lease.runId = run.runId;
    await this.#update(resumed, `resuming run ${run.runId}`, options);
    if (options.lease) await this.claimSnapshot(run.snapshotId, options.lease, options);
    return resumed;
  }

  /** Marks a dead or paused run abandoned (it will never complete); retention deletes its partial data. */
  async abandonRun(run: SyncRunRecord, reason: string, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#update({ ...run, status: "abandoned", endedAt: new Date(), error: boundedError(reason) }, `recording run ${run.runId} as abandoned`, options);
  }

  async #update(run: SyncRunRecord, operation: string, options: WriteOptions): Promise<SyncRunRecord> {
    await this.#runs.write([["update", encodeRun(run), "Replace", { etag: "*" }]], operation, options);
    return run;
  }

  /** The fence of one snapshot's partitions for one lease holder. */
  #fence(lease: WriterLease, snapshotId: string): PartitionFence {
    let byId = this.#fences.get(lease);
    if (!byId) this.#fences.set(lease, (byId = new Map()));
    let fence = byId.get(snapshotId);
    if (!fence) {
      fence = new PartitionFence({
        table: this.#snapshots,
        guard: lease,
        limit: this.#limit,
        translate: (error, operation, batch) => storageError(this.#storage, this.#snapshots.tableName, operation, error, { ...(batch ? { batch } : {}) }) as Error,
      });
      byId.set(snapshotId, fence);
    }
    return fence;
  }
}

