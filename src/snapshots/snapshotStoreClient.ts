/**
 * The snapshot store: point-in-time copies of the directory's users in Azure Table Storage, and a
 * record of every sync run. Layout and guarantees: docs/storage.md.
 */
import { hostname } from "node:os";
import type { TokenCredential } from "@azure/identity";
import { odata, type TableClient, type TableEntityResult, type TableServiceClientOptions, type TableTransactionResponse, type TransactionAction } from "@azure/data-tables";
import pLimit, { type LimitFunction } from "p-limit";
import type { SnapshotStorageSettings } from "../configuration/settings.js";
import type { GraphUser } from "../graph/types.js";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { isSnapshotId, newSnapshotId, runRowKey, snapshotPartitionKey, timeOfSnapshotId } from "./snapshotIds.js";
import { storageError, storageErrorCode } from "./storageErrors.js";
import { planTransactions, SERVICE_TRANSACTION_LIMITS, type TransactionLimits } from "./transactions.js";
import { diffSortedUsers, type SnapshotChange } from "./snapshotDiff.js";
import { decodeUserEntity, encodeUserEntity, type UserEntity } from "./userEntity.js";
import { failedOperationIndex, FENCED_MAX_OPERATIONS, isFenceRow, PartitionFence } from "../tables/partitionFence.js";
import { createTableClient } from "../tables/tableClient.js";
import { WriterLease } from "./writerLease.js";

export { WriterLease } from "./writerLease.js";

export type { SnapshotChange } from "./snapshotDiff.js";

export type SyncTrigger = "timer" | "cli";
/**
 * `running`: writing (or its process died; the next run resumes or abandons it). `paused`: stopped
 * cleanly at a checkpoint (maximum run duration, or asked to stop); the next run resumes it.
 * `succeeded`: complete. `failed`: stopped by an error. `abandoned`: a dead or paused run that the
 * next run could not resume; its partial data is deleted by retention.
 */
export type SyncRunStatus = "running" | "paused" | "succeeded" | "failed" | "abandoned";

/** A user the store could not hold at all (over 1 MiB, over 255 properties, an id that is not a key). */
export interface SkippedUser {
  id: string;
  reason: string;
}

/** What a run counts. `counters` is an open bag for later measures (throttles, retries, waitedInMs...). */
export interface RunStats {
  pages: number;
  usersRead: number;
  entitiesWritten: number;
  transactions: number;
  counters?: Record<string, number>;
  /** The first skipped users (at most MAX_SKIPPED_RECORDED); `counters.skippedUsers` has the total. */
  skipped?: readonly SkippedUser[];
}

/** Progress saved after a committed page. */
export interface RunCheckpoint {
  /** The `@odata.nextLink` after the last committed page; absent when every page is committed. */
  nextLink?: string;
  /** When the checkpoint was written. */
  at: Date;
}

export interface SyncRunRecord {
  /** Same value as snapshotId: a run writes exactly one snapshot. */
  runId: string;
  snapshotId: string;
  status: SyncRunStatus;
  trigger: SyncTrigger;
  startedAt: Date;
  endedAt?: Date;
  /** The Graph properties the run read. */
  select: string[];
  /** Partitions the snapshot's users are spread over. */
  partitionCount: number;
  stats: RunStats & { counters: Record<string, number>; skipped: SkippedUser[] };
  /** Why a failed run failed (or an abandoned one was abandoned): redacted, at most MAX_ERROR_LENGTH characters. */
  error?: string;
  /** The last checkpoint: absent until the first page is committed. */
  checkpoint?: RunCheckpoint;
  /** When retention began deleting the snapshot's users (readers refuse it from then on). */
  snapshotDeletedAt?: Date;
  /** When retention finished deleting them. */
  snapshotPurgedAt?: Date;
}

export interface LatestSnapshot {
  snapshotId: string;
  runId: string;
  completedAt: Date;
  /** Users in the snapshot (entities written by its run). */
  userCount: number;
}

export interface SnapshotStoreClientOptions {
  storage: SnapshotStorageSettings;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential;
  /** Table names are `<prefix>Snapshots` and `<prefix>Runs`. Default "entraUser". */
  tablePrefix?: string;
  /** Partitions one snapshot is spread over, 1 to 256. Default 16. */
  partitionCount?: number;
  /** Entity group transactions in flight at once, across the store. Default 16. */
  writeConcurrency?: number;
  /** Passed to the SDK's TableClient (retry options, extra pipeline policies...). */
  clientOptions?: TableServiceClientOptions;
}

export interface OperationOptionsBase {
  abortSignal?: AbortSignal;
}
/**
 * Options of a write. A run always passes its `lease`: the write is then sent only while the lease
 * is held (checked by this process's clocks) and is fenced in storage (the lease entity, or the
 * partition's fence row, is checked in the same transaction). Without a lease the write is not
 * fenced: only for tools that own the store alone (tests, the benchmark).
 */
export interface WriteOptions extends OperationOptionsBase {
  lease?: WriterLease;
}
export type CreateTablesIfNotExistOptions = OperationOptionsBase;
export interface StartRunOptions extends WriteOptions {
  trigger: SyncTrigger;
  select: readonly string[];
}
export type UpsertUsersOptions = WriteOptions;
export type CompleteRunOptions = WriteOptions;
export type FailRunOptions = WriteOptions;
export type PauseRunOptions = WriteOptions;
export type AbandonRunOptions = WriteOptions;
export type ResumeRunOptions = WriteOptions;
export type CheckpointRunOptions = WriteOptions;
export interface ListUnfinishedRunsOptions extends OperationOptionsBase {
  /** Stop after this many runs. */
  maxResults?: number;
}
export interface AcquireLeaseOptions extends OperationOptionsBase {
  trigger: SyncTrigger;
  /** How long the lease lasts without renewal. Default 5 minutes. */
  leaseDurationInMs?: number;
}
export type RenewLeaseOptions = OperationOptionsBase;
export type ReleaseLeaseOptions = OperationOptionsBase;
export type GetLeaseOptions = OperationOptionsBase;
export type DeleteSnapshotOptions = WriteOptions;
export interface DeleteExpiredSnapshotsOptions extends WriteOptions {
  /** Keep the newest this many complete snapshots (at least 1: the latest is always kept). */
  keepCount: number;
  /** Also keep complete snapshots younger than this. 0 keeps none by age. */
  keepWithinInMs: number;
  /**
   * Keep a complete snapshot until a newer one has been complete for this long, so that a reader
   * that started while it was the latest can finish. Default 0 (the product passes
   * SNAPSHOT_RETENTION_GRACE_MINUTES, 60 by default).
   */
  keepSupersededWithinInMs?: number;
  /** "Now", for tests. */
  now?: Date;
}
export interface DeleteExpiredSnapshotsResult {
  /** Snapshots whose users were deleted (old complete ones, and partial data of failed or abandoned runs). */
  deletedSnapshotIds: string[];
  deletedEntities: number;
}
export type DiffSnapshotsOptions = OperationOptionsBase;
export type GetRunOptions = OperationOptionsBase;
export interface ListRunsOptions extends OperationOptionsBase {
  /** Stop after this many runs. */
  maxResults?: number;
}
export type GetLatestSnapshotOptions = OperationOptionsBase;
export interface ListSnapshotUsersOptions extends OperationOptionsBase {
  /** Also list the users of a snapshot whose run is running or failed (partial). Default false. */
  includeIncomplete?: boolean;
}

export interface UpsertUsersResult {
  entitiesWritten: number;
  transactions: number;
  /** Users that cannot be stored at all, with the reason; the rest of the page is written. */
  skipped: SkippedUser[];
}

/** A held lease (see WriterLease): whoever holds it is the only writer. */
export type RunLease = WriterLease;

/** What a lease entity says, for messages and for `runs`. */
export interface LeaseInfo {
  owner: string;
  runId?: string;
  trigger: SyncTrigger;
  host: string;
  acquiredAt: Date;
  expiresAt: Date;
}

export const DEFAULT_TABLE_PREFIX = "entraUser";
export const DEFAULT_PARTITION_COUNT = 16;
export const DEFAULT_WRITE_CONCURRENCY = 16;
export const MAX_ERROR_LENGTH = 2000;
export const DEFAULT_LEASE_DURATION_IN_MS = 5 * 60_000;
/** Skipped users listed in a run record (the total is in `counters.skippedUsers`). */
export const MAX_SKIPPED_RECORDED = 40;
const MAX_SKIPPED_REASON_LENGTH = 400;

/** All runs and the pointer share one partition, so that promoting a run is one transaction. */
const RUNS_PARTITION = "runs";
/** RowKey of the pointer; run RowKeys start with a digit, so it sorts after every run. */
const LATEST_ROW = "latest";
/** RowKey of the writer lease; sorts after `latest`, so run listings never see it. */
const LEASE_ROW = "lease";
const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,50}$/;
const PROMOTION_ATTEMPTS = 5;
/** Entities per page when reading. */
const READ_PAGE_SIZE = 1000;

type RunEntity = {
  kind: "run";
  runId: string;
  snapshotId: string;
  status: SyncRunStatus;
  trigger: SyncTrigger;
  startedAt: Date;
  endedAt?: Date;
  select: string;
  partitionCount: number;
  pages: DoubleValue;
  usersRead: DoubleValue;
  entitiesWritten: DoubleValue;
  transactions: DoubleValue;
  counters: string;
  error?: string;
  nextLink?: string;
  checkpointAt?: Date;
  skipped?: string;
  snapshotDeletedAt?: Date;
  snapshotPurgedAt?: Date;
};
type LeaseEntity = {
  kind: "lease";
  owner: string;
  runId?: string;
  trigger: SyncTrigger;
  host: string;
  acquiredAt: Date;
  expiresAt: Date;
};
type DoubleValue = { value: number; type: "Double" } | number;

type LatestEntity = {
  kind: "latest";
  snapshotId: string;
  runId: string;
  completedAt: Date;
  userCount: DoubleValue;
};

const double = (value: number): DoubleValue => ({ value, type: "Double" });
const numberOf = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));

function isStatusCode(error: unknown, ...codes: number[]): boolean {
  const status = (error as { statusCode?: number } | null)?.statusCode;
  return status !== undefined && codes.includes(status);
}

function boundedError(text: string): string {
  const safe = redact(text);
  return safe.length <= MAX_ERROR_LENGTH ? safe : `${safe.slice(0, MAX_ERROR_LENGTH - 1)}…`;
}

function normalizeStats(stats: RunStats): SyncRunRecord["stats"] {
  const counters: Record<string, number> = {};
  for (const [name, value] of Object.entries(stats.counters ?? {})) {
    if (typeof value === "number" && Number.isFinite(value)) counters[name] = value;
  }
  const skipped = (stats.skipped ?? []).slice(0, MAX_SKIPPED_RECORDED).map((s) => ({
    id: s.id.slice(0, 200),
    reason: boundedText(redact(s.reason), MAX_SKIPPED_REASON_LENGTH),
  }));
  return {
    pages: stats.pages,
    usersRead: stats.usersRead,
    entitiesWritten: stats.entitiesWritten,
    transactions: stats.transactions,
    counters,
    skipped,
  };
}

function boundedText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}



export class SnapshotStoreClient {
  readonly snapshotsTableName: string;
  readonly runsTableName: string;
  readonly partitionCount: number;
  readonly #storage: SnapshotStorageSettings;
  readonly #snapshots: TableClient;
  readonly #runs: TableClient;
  readonly #limit: LimitFunction;
  readonly #transactionLimits: TransactionLimits = SERVICE_TRANSACTION_LIMITS;

  constructor(options: SnapshotStoreClientOptions) {
    const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
    if (!TABLE_PREFIX.test(prefix)) {
      throw new UserSyncError("invalid_setting", `The table prefix "${prefix}" is not valid: use 1 to 51 letters and digits, starting with a letter.`);
    }
    const partitionCount = options.partitionCount ?? DEFAULT_PARTITION_COUNT;
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 256) {
      throw new UserSyncError("invalid_setting", `The partition count ${partitionCount} is not valid: use a whole number from 1 to 256.`);
    }
    const writeConcurrency = options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY;
    if (!Number.isInteger(writeConcurrency) || writeConcurrency < 1) {
      throw new UserSyncError("invalid_setting", `The write concurrency ${writeConcurrency} is not valid: use a whole number of at least 1.`);
    }
    this.snapshotsTableName = `${prefix}Snapshots`;
    this.runsTableName = `${prefix}Runs`;
    this.partitionCount = partitionCount;
    this.#storage = options.storage;
    this.#limit = pLimit(writeConcurrency);
    const common = { storage: options.storage, credential: options.credential, clientOptions: options.clientOptions, owner: "SnapshotStoreClient" };
    this.#snapshots = createTableClient({ ...common, tableName: this.snapshotsTableName });
    this.#runs = createTableClient({ ...common, tableName: this.runsTableName });
  }

  async #call<T>(table: TableClient, operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw storageError(this.#storage, table.tableName, operation, error);
    }
  }

  /** Creates both tables when they do not exist. */
  async createTablesIfNotExist(options: CreateTablesIfNotExistOptions = {}): Promise<void> {
    const abortSignal = options.abortSignal;
    await Promise.all(
      [this.#snapshots, this.#runs].map((table) =>
        this.#call(table, `creating table ${table.tableName}`, () => table.createTable(abortSignal ? { abortSignal } : {})),
      ),
    );
  }

  /** Records a new run (status running) and returns it; its snapshot id is new and not yet latest. */
  async startRun(options: StartRunOptions): Promise<SyncRunRecord> {
    const runId = newSnapshotId();
    const run: SyncRunRecord = {
      runId,
      snapshotId: runId,
      status: "running",
      trigger: options.trigger,
      startedAt: timeOfSnapshotId(runId)!,
      select: [...options.select],
      partitionCount: this.partitionCount,
      stats: normalizeStats({ pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0 }),
    };
    if (options.lease) options.lease.runId = runId;
    await this.#writeRuns([["create", this.#runEntity(run)]], `recording run ${runId}`, options);
    return run;
  }

  /**
   * Writes users into a snapshot: upserts (Replace) in entity group transactions of one partition,
   * at most 100 operations and under 4 MiB each, with bounded concurrency. A user id given twice
   * is written once (the last one wins). A user that cannot be stored at all is left out and
   * returned in `skipped` with the reason; the rest of the page is written. With a lease, every
   * transaction is fenced (the partition's fence row is checked and moved on in it).
   */
  async upsertUsers(snapshotId: string, users: readonly GraphUser[], options: UpsertUsersOptions = {}): Promise<UpsertUsersResult> {
    this.#assertSnapshotId(snapshotId);
    const byId = new Map<string, UserEntity>();
    const skipped: SkippedUser[] = [];
    for (const user of users) {
      let entity: UserEntity;
      try {
        entity = encodeUserEntity(user, snapshotPartitionKey(snapshotId, String(user.id), this.partitionCount));
      } catch (error) {
        if (!(error instanceof UserSyncError) || error.code !== "user_not_storable") throw error;
        skipped.push({ id: String(user.id), reason: error.message });
        continue;
      }
      byId.delete(entity.rowKey);
      byId.set(entity.rowKey, entity);
    }
    const lease = options.lease;
    const limits = lease ? { ...this.#transactionLimits, maxOperations: FENCED_MAX_OPERATIONS, maxPayloadBytes: this.#transactionLimits.maxPayloadBytes - 4096 } : this.#transactionLimits;
    const plan = planTransactions(byId.values(), limits);
    const abortSignal = options.abortSignal;
    const fence = lease ? this.#fence(lease, snapshotId) : undefined;
    let failure: { error: unknown } | undefined;
    await Promise.all(
      plan.map(async (entities) => {
        const actions: TransactionAction[] = entities.map((entity) => ["upsert", entity, "Replace"]);
        const operation = `writing ${entities.length} users of snapshot ${snapshotId} (partition ${entities[0]!.partitionKey})`;
        try {
          if (fence) {
            // After one transaction fails, the rest of this call is not started.
            if (failure || abortSignal?.aborted) return;
            await fence.submit(entities[0]!.partitionKey, actions, operation, abortSignal);
            return;
          }
          await this.#limit(async () => {
            if (failure || abortSignal?.aborted) return;
            await this.#call(this.#snapshots, operation, () => this.#snapshots.submitTransaction(actions, abortSignal ? { abortSignal } : {}));
          });
        } catch (error) {
          failure ??= { error };
        }
      }),
    );
    if (failure) throw failure.error;
    abortSignal?.throwIfAborted();
    return { entitiesWritten: byId.size, transactions: plan.length, skipped };
  }

  /**
   * Takes a snapshot's partitions over for `lease` (rewrites their fence rows), so that no write of
   * an earlier holder of the snapshot can land after this: call it before continuing another
   * holder's snapshot. resumeRun does.
   */
  async claimSnapshot(snapshotId: string, lease: WriterLease, options: OperationOptionsBase = {}): Promise<void> {
    this.#assertSnapshotId(snapshotId);
    const keys = Array.from({ length: this.partitionCount }, (_, shard) => `${snapshotId}-${shard.toString(16).padStart(2, "0")}`);
    await this.#fence(lease, snapshotId).claim(keys, options.abortSignal);
  }

  /**
   * Marks the run succeeded and, in the same transaction, points `latest` at its snapshot, unless
   * `latest` already names a newer snapshot (then the run is only marked succeeded). Call it only
   * after every upsertUsers of the run has resolved.
   */
  async completeRun(run: SyncRunRecord, stats: RunStats, options: CompleteRunOptions = {}): Promise<SyncRunRecord> {
    const completed: SyncRunRecord = { ...run, status: "succeeded", endedAt: new Date(), stats: normalizeStats(stats) };
    delete completed.error;
    const abortSignal = options.abortSignal;
    const runEntity = this.#runEntity(completed);
    const operation = `promoting snapshot ${run.snapshotId} to latest`;
    for (let attempt = 1; ; attempt++) {
      const current = await this.#getLatestEntity(abortSignal);
      if (current && current.snapshotId > completed.snapshotId) {
        // "update" (not upsert): fails if the run record does not exist.
        await this.#writeRuns([["update", runEntity, "Replace", { etag: "*" }]], `recording run ${run.runId} as succeeded`, options);
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
      };
      const actions: TransactionAction[] = [
        ["update", runEntity, "Replace", { etag: "*" }],
        current ? ["update", latest, "Replace", { etag: current.etag }] : ["create", latest],
      ];
      try {
        await this.#writeRuns(actions, operation, options, { raw: true });
        return completed;
      } catch (error) {
        // Another run moved `latest` between our read and our write: read it again and decide again.
        if (attempt < PROMOTION_ATTEMPTS && isStatusCode(error, 409, 412) && failedOperationIndex(error) === 1) continue;
        if (isUserSyncError(error)) throw error;
        throw storageError(this.#storage, this.#runs.tableName, operation, error);
      }
    }
  }

  /** Marks the run failed with a redacted, bounded error text. `latest` is never touched. */
  async failRun(run: SyncRunRecord, error: string, stats: RunStats, options: FailRunOptions = {}): Promise<SyncRunRecord> {
    const failed: SyncRunRecord = { ...run, status: "failed", endedAt: new Date(), stats: normalizeStats(stats), error: boundedError(error) };
    await this.#writeRuns([["update", this.#runEntity(failed), "Replace", { etag: "*" }]], `recording run ${run.runId} as failed`, options);
    return failed;
  }

  /**
   * Saves progress after a committed page: counts and the next link (absent when the last page is
   * committed). With `lease`, the lease is renewed in the same transaction, so a run whose lease was
   * taken over cannot checkpoint (`lease_lost`).
   */
  async checkpointRun(run: SyncRunRecord, nextLink: string | undefined, stats: RunStats, options: CheckpointRunOptions = {}): Promise<SyncRunRecord> {
    const checkpoint: RunCheckpoint = { at: new Date() };
    if (nextLink !== undefined) checkpoint.nextLink = nextLink;
    const updated: SyncRunRecord = { ...run, status: "running", stats: normalizeStats(stats), checkpoint };
    if (options.lease) options.lease.runId = run.runId;
    await this.#writeRuns([["update", this.#runEntity(updated), "Replace", { etag: "*" }]], `saving a checkpoint of run ${run.runId}`, options);
    return updated;
  }

  /** Marks a running run paused at its last checkpoint: the next run resumes it. */
  async pauseRun(run: SyncRunRecord, options: PauseRunOptions = {}): Promise<SyncRunRecord> {
    const paused: SyncRunRecord = { ...run, status: "paused", endedAt: new Date() };
    await this.#writeRuns([["update", this.#runEntity(paused), "Replace", { etag: "*" }]], `recording run ${run.runId} as paused`, options);
    return paused;
  }

  /**
   * Marks a paused (or dead running) run running again, to continue from its checkpoint. With a
   * lease, the snapshot's partitions are taken over first (claimSnapshot): a late write of the run's
   * previous holder cannot land in it afterwards.
   */
  async resumeRun(run: SyncRunRecord, options: ResumeRunOptions = {}): Promise<SyncRunRecord> {
    const resumed: SyncRunRecord = { ...run, status: "running" };
    delete resumed.endedAt;
    if (options.lease) {
      options.lease.runId = run.runId;
      await this.#writeRuns([["update", this.#runEntity(resumed), "Replace", { etag: "*" }]], `resuming run ${run.runId}`, options);
      await this.claimSnapshot(run.snapshotId, options.lease, options);
      return resumed;
    }
    await this.#writeRuns([["update", this.#runEntity(resumed), "Replace", { etag: "*" }]], `resuming run ${run.runId}`, options);
    return resumed;
  }

  /** Marks a dead or paused run abandoned (it will never complete); retention deletes its partial data. */
  async abandonRun(run: SyncRunRecord, reason: string, options: AbandonRunOptions = {}): Promise<SyncRunRecord> {
    const abandoned: SyncRunRecord = { ...run, status: "abandoned", endedAt: new Date(), error: boundedError(reason) };
    await this.#writeRuns([["update", this.#runEntity(abandoned), "Replace", { etag: "*" }]], `recording run ${run.runId} as abandoned`, options);
    return abandoned;
  }

  /** Runs that are `running` or `paused`, newest first. */
  async *listUnfinishedRuns(options: ListUnfinishedRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    const maxResults = options.maxResults ?? Number.POSITIVE_INFINITY;
    let count = 0;
    const abortSignal = options.abortSignal;
    const pages = this.#runs
      .listEntities<RunEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${RUNS_PARTITION} and RowKey lt ${LATEST_ROW} and (status eq ${"running"} or status eq ${"paused"})` },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    for await (const page of this.#pages(this.#runs, "listing unfinished runs", pages, { tableMayNotExist: true })) {
      for (const entity of page) {
        if (entity.kind !== "run") continue;
        yield this.#runRecord(entity);
        if (++count >= maxResults) return;
      }
    }
  }

  /**
   * One transaction in the runs partition. With a lease, the lease entity is renewed (If-Match) in
   * the same transaction, after a local check that it is still held: run records, checkpoints and
   * the latest pointer are written only by the lease's holder. `raw` rethrows the service's error
   * (for callers that handle a conflict on another operation); a conflict on the lease is always
   * `lease_lost`.
   */
  async #writeRuns(actions: TransactionAction[], operation: string, options: WriteOptions, mode: { raw?: boolean } = {}): Promise<TableTransactionResponse> {
    const abortSignal = options.abortSignal;
    const operationOptions = abortSignal ? { abortSignal } : {};
    const lease = options.lease;
    if (!lease) {
      try {
        // One operation needs no transaction.
        const [only] = actions;
        if (actions.length === 1 && only && (only[0] === "create" || only[0] === "update")) {
          if (only[0] === "create") await this.#runs.createEntity(only[1], operationOptions);
          else await this.#runs.updateEntity(only[1], "Replace", { ...operationOptions, etag: "*" });
          return { status: 202, subResponses: [], getResponseForEntity: () => undefined };
        }
        return await this.#runs.submitTransaction(actions, operationOptions);
      } catch (error) {
        if (mode.raw) throw error;
        throw storageError(this.#storage, this.#runs.tableName, operation, error);
      }
    }
    return lease.exclusive(async () => {
      lease.assertHeld();
      const sentAt = performance.now();
      const expiresAt = new Date(Date.now() + lease.durationInMs);
      const all: TransactionAction[] = [...actions, ["update", this.#leaseEntity(lease, expiresAt), "Replace", { etag: lease.etag }]];
      let response: TableTransactionResponse;
      try {
        response = await this.#runs.submitTransaction(all, operationOptions);
      } catch (error) {
        const index = failedOperationIndex(error);
        if (isStatusCode(error, 404, 409, 412) && (index === all.length - 1 || (index === undefined && !(await this.#stillHolds(lease, abortSignal))))) {
          throw this.#leaseLost(lease);
        }
        if (mode.raw) throw error;
        throw storageError(this.#storage, this.#runs.tableName, operation, error);
      }
      await this.#renewed(lease, response.subResponses[all.length - 1]?.etag, expiresAt, sentAt, abortSignal);
      return response;
    });
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
        translate: (error, operation) => storageError(this.#storage, this.#snapshots.tableName, operation, error) as Error,
      });
      byId.set(snapshotId, fence);
    }
    return fence;
  }
  readonly #fences = new WeakMap<WriterLease, Map<string, PartitionFence>>();

  // ---------------------------------------------------------------------------------------------
  // The writer lease: one entity (`runs`/`lease`) updated only with If-Match.

  /**
   * Takes the writer lease, or throws `run_in_progress` (reading and writing nothing else) when
   * another holder's lease has not expired. An expired lease is taken over with its ETag, so of
   * two contenders exactly one wins.
   */
  async acquireLease(options: AcquireLeaseOptions): Promise<WriterLease> {
    const durationInMs = options.leaseDurationInMs ?? DEFAULT_LEASE_DURATION_IN_MS;
    if (!Number.isFinite(durationInMs) || durationInMs < 1000) {
      throw new UserSyncError("invalid_setting", `The lease duration ${durationInMs} ms is too short: use at least 1 second.`);
    }
    const abortSignal = options.abortSignal;
    const operationOptions = abortSignal ? { abortSignal } : {};
    const owner = `${newSnapshotId().slice(-6)}${Math.random().toString(16).slice(2, 10)}`;
    const current = await this.#getLeaseEntity(abortSignal);
    const now = Date.now();
    if (current && new Date(current.expiresAt).getTime() > now) throw this.#inProgress(current);
    const sentAt = performance.now();
    const expiresAt = new Date(now + durationInMs);
    const lease = new WriterLease({
      owner,
      trigger: options.trigger,
      durationInMs,
      acquiredAt: new Date(now),
      ...(current ? { tookOverFrom: { owner: current.owner, ...(current.runId ? { runId: current.runId } : {}), expiredAt: new Date(current.expiresAt) } } : {}),
    });
    const entity = this.#leaseEntity(lease, expiresAt);
    try {
      const response = current
        ? await this.#runs.updateEntity(entity, "Replace", { ...operationOptions, etag: current.etag })
        : await this.#runs.createEntity(entity, operationOptions);
      await this.#renewed(lease, response.etag, expiresAt, sentAt, abortSignal);
    } catch (error) {
      // Someone else created or took over the lease between our read and our write.
      if (isStatusCode(error, 409, 412)) {
        const winner = await this.#getLeaseEntity(abortSignal);
        throw this.#inProgress(winner);
      }
      if (isUserSyncError(error)) throw error;
      throw storageError(this.#storage, this.#runs.tableName, "taking the writer lease", error);
    }
    return lease;
  }

  /**
   * Extends the lease; throws `lease_lost` (and marks the lease lost) when another holder has
   * taken it over, or when this process let it lapse by its own clocks (it was frozen).
   */
  async renewLease(lease: WriterLease, options: RenewLeaseOptions = {}): Promise<void> {
    const abortSignal = options.abortSignal;
    await lease.exclusive(async () => {
      lease.assertHeld();
      const sentAt = performance.now();
      const expiresAt = new Date(Date.now() + lease.durationInMs);
      try {
        const response = await this.#runs.updateEntity(this.#leaseEntity(lease, expiresAt), "Replace", {
          ...(abortSignal ? { abortSignal } : {}),
          etag: lease.etag,
        });
        await this.#renewed(lease, response.etag, expiresAt, sentAt, abortSignal);
      } catch (error) {
        if (isStatusCode(error, 404, 412)) throw this.#leaseLost(lease);
        if (isUserSyncError(error)) throw error;
        throw storageError(this.#storage, this.#runs.tableName, "renewing the writer lease", error);
      }
    });
  }

  /** Gives the lease up (only if we still hold it), so the next run need not wait for it to expire. */
  async releaseLease(lease: WriterLease, options: ReleaseLeaseOptions = {}): Promise<void> {
    const abortSignal = options.abortSignal;
    await lease.exclusive(async () => {
      try {
        await this.#runs.deleteEntity(RUNS_PARTITION, LEASE_ROW, { ...(abortSignal ? { abortSignal } : {}), etag: lease.etag });
      } catch (error) {
        if (isStatusCode(error, 404, 412)) return; // expired and taken over, or gone: not ours anymore
        throw storageError(this.#storage, this.#runs.tableName, "releasing the writer lease", error);
      }
    });
  }

  /** The current lease holder, or undefined when no lease is held (none, or expired). */
  async getLease(options: GetLeaseOptions = {}): Promise<LeaseInfo | undefined> {
    const entity = await this.#getLeaseEntity(options.abortSignal);
    if (!entity || new Date(entity.expiresAt).getTime() <= Date.now()) return undefined;
    return this.#leaseInfo(entity);
  }

  /** The lease entity's ETag (undefined when there is none): it changes whenever a writer holds or renews it. */
  async getLeaseVersion(options: GetLeaseOptions = {}): Promise<{ etag: string; held: boolean; info: LeaseInfo } | undefined> {
    const entity = await this.#getLeaseEntity(options.abortSignal);
    if (!entity) return undefined;
    return { etag: entity.etag, held: new Date(entity.expiresAt).getTime() > Date.now(), info: this.#leaseInfo(entity) };
  }

  #leaseInfo(entity: LeaseEntity): LeaseInfo {
    return {
      owner: entity.owner,
      ...(entity.runId ? { runId: entity.runId } : {}),
      trigger: entity.trigger,
      host: entity.host,
      acquiredAt: new Date(entity.acquiredAt),
      expiresAt: new Date(entity.expiresAt),
    };
  }

  #inProgress(entity: LeaseEntity | undefined): UserSyncError {
    const info = entity ? this.#leaseInfo(entity) : undefined;
    const who = info
      ? `a ${info.trigger} run${info.runId ? ` (run ${info.runId})` : ""} on ${info.host} holds the writer lease until ${info.expiresAt.toISOString()}`
      : "another run took the writer lease a moment ago";
    return new UserSyncError(
      "run_in_progress",
      `Another sync is writing to this snapshot store: ${who}. This run read and wrote nothing. Wait for it to finish (entra-user-sync runs); a lease whose holder died expires by itself and the next run takes over.`,
      { details: { ...(info?.runId ? { runId: info.runId } : {}), ...(info ? { expiresAt: info.expiresAt.toISOString() } : {}) } },
    );
  }

  #leaseLost(lease: WriterLease): UserSyncError {
    const error = new UserSyncError(
      "lease_lost",
      `Run ${lease.runId ?? "(starting)"} lost its writer lease: it was not renewed in time and another run took it over. This run stopped writing; the other run continues the work. If this happens often, raise USER_SYNC_LEASE_SECONDS.`,
      lease.runId ? { details: { runId: lease.runId } } : {},
    );
    lease.markLost(error);
    return (lease.lost as UserSyncError | undefined) ?? error;
  }

  async #stillHolds(lease: WriterLease, abortSignal: AbortSignal | undefined): Promise<boolean> {
    const entity = await this.#getLeaseEntity(abortSignal);
    return entity !== undefined && entity.owner === lease.owner && entity.etag === lease.etag;
  }

  async #renewed(lease: WriterLease, etag: string | undefined, expiresAt: Date, sentAt: number, abortSignal: AbortSignal | undefined): Promise<void> {
    if (etag) {
      lease.renewed(etag, expiresAt, sentAt);
      return;
    }
    // No ETag in the answer: read it back and check it is still ours.
    const entity = await this.#getLeaseEntity(abortSignal);
    if (!entity || entity.owner !== lease.owner) throw this.#leaseLost(lease);
    lease.renewed(entity.etag, expiresAt, sentAt);
  }

  #leaseEntity(lease: WriterLease, expiresAt: Date): LeaseEntity & { partitionKey: string; rowKey: string } {
    return {
      partitionKey: RUNS_PARTITION,
      rowKey: LEASE_ROW,
      kind: "lease",
      owner: lease.owner,
      ...(lease.runId ? { runId: lease.runId } : {}),
      trigger: lease.trigger,
      host: `${hostname()} (pid ${process.pid})`,
      acquiredAt: lease.acquiredAt,
      expiresAt,
    };
  }

  async #getLeaseEntity(abortSignal: AbortSignal | undefined): Promise<TableEntityResult<LeaseEntity> | undefined> {
    try {
      return await this.#runs.getEntity<LeaseEntity>(RUNS_PARTITION, LEASE_ROW, abortSignal ? { abortSignal } : {});
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#runs.tableName, "reading the writer lease", error);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Retention

  /**
   * Deletes one snapshot's users (and fence rows), partition by partition, in delete transactions
   * of at most 100 (one partition each). Returns how many users it deleted. Safe to repeat. With a
   * lease, each transaction is sent only while the lease is held.
   */
  async deleteSnapshot(snapshotId: string, options: DeleteSnapshotOptions = {}): Promise<number> {
    this.#assertSnapshotId(snapshotId);
    const abortSignal = options.abortSignal;
    const pages = this.#snapshots
      .listEntities<Record<string, unknown>>({
        queryOptions: {
          filter: odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}`,
          select: ["PartitionKey", "RowKey"],
        },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    let deleted = 0;
    for await (const page of this.#pages(this.#snapshots, `reading snapshot ${snapshotId} to delete it`, pages, { tableMayNotExist: true })) {
      const byPartition = new Map<string, string[]>();
      for (const entity of page) {
        const pk = String(entity.partitionKey);
        let rows = byPartition.get(pk);
        if (!rows) byPartition.set(pk, (rows = []));
        rows.push(String(entity.rowKey));
      }
      const batches: Array<{ pk: string; rows: string[] }> = [];
      for (const [pk, rows] of byPartition) {
        for (let i = 0; i < rows.length; i += 100) batches.push({ pk, rows: rows.slice(i, i + 100) });
      }
      let failure: { error: unknown } | undefined;
      await Promise.all(
        batches.map((batch) =>
          this.#limit(async () => {
            if (failure || abortSignal?.aborted) return;
            const actions: TransactionAction[] = batch.rows.map((rowKey) => ["delete", { partitionKey: batch.pk, rowKey }]);
            try {
              options.lease?.assertHeld();
              await this.#call(this.#snapshots, `deleting ${batch.rows.length} users of snapshot ${snapshotId} (partition ${batch.pk})`, () =>
                this.#snapshots.submitTransaction(actions, abortSignal ? { abortSignal } : {}),
              );
              deleted += batch.rows.filter((rowKey) => !isFenceRow({ rowKey })).length;
            } catch (error) {
              failure ??= { error };
            }
          }),
        ),
      );
      if (failure) throw failure.error;
      abortSignal?.throwIfAborted();
    }
    return deleted;
  }

  /**
   * Applies retention: keeps the newest `keepCount` complete snapshots, those younger than
   * `keepWithinInMs`, those superseded less than `keepSupersededWithinInMs` ago (readers may still be
   * reading them), and always the latest; deletes the users of every other complete snapshot and
   * the partial data of failed and abandoned runs. A snapshot's run record is marked
   * (`snapshotDeletedAt`) before its users are deleted, so a reader that started before sees the
   * mark when it checks at the end, and fails rather than print a partial snapshot. Run records stay.
   * Running and paused runs are never touched.
   */
  async deleteExpiredSnapshots(options: DeleteExpiredSnapshotsOptions): Promise<DeleteExpiredSnapshotsResult> {
    if (!Number.isInteger(options.keepCount) || options.keepCount < 1) {
      throw new UserSyncError("invalid_setting", `keepCount ${options.keepCount} is not valid: keep at least 1 snapshot.`);
    }
    const abortSignal = options.abortSignal;
    const signal = abortSignal ? { abortSignal } : {};
    const now = (options.now ?? new Date()).getTime();
    const grace = options.keepSupersededWithinInMs ?? 0;
    const latest = await this.getLatestSnapshot(signal);
    const doomed: SyncRunRecord[] = [];
    let complete = 0;
    // When the newest complete snapshot newer than the one looked at completed (runs come newest first).
    let supersededAt: number | undefined;
    for await (const run of this.listRuns(signal)) {
      // Marked by a retention that stopped before it finished: finish it.
      if (run.snapshotDeletedAt && !run.snapshotPurgedAt) {
        doomed.push(run);
        continue;
      }
      if (run.status === "succeeded") {
        complete += 1;
        const keep =
          complete <= options.keepCount ||
          now - (run.endedAt ?? run.startedAt).getTime() < options.keepWithinInMs ||
          (supersededAt !== undefined && now - supersededAt < grace) ||
          run.snapshotId === latest?.snapshotId;
        supersededAt = Math.max(supersededAt ?? 0, (run.endedAt ?? run.startedAt).getTime());
        if (!keep && !run.snapshotDeletedAt) doomed.push(run);
      } else if ((run.status === "failed" || run.status === "abandoned") && !run.snapshotDeletedAt) {
        doomed.push(run);
      }
    }
    const result: DeleteExpiredSnapshotsResult = { deletedSnapshotIds: [], deletedEntities: 0 };
    for (const run of doomed) {
      // Mark first: a reader that started before sees the mark at its end and fails.
      let marked = run;
      if (!run.snapshotDeletedAt) {
        marked = { ...run, snapshotDeletedAt: new Date() };
        await this.#writeRuns([["update", this.#runEntity(marked), "Replace", { etag: "*" }]], `recording that snapshot ${run.snapshotId} is being deleted`, options);
      }
      result.deletedEntities += await this.deleteSnapshot(run.snapshotId, options);
      const purged: SyncRunRecord = { ...marked, snapshotPurgedAt: new Date() };
      await this.#writeRuns([["update", this.#runEntity(purged), "Replace", { etag: "*" }]], `recording that snapshot ${run.snapshotId} was deleted`, options);
      result.deletedSnapshotIds.push(run.snapshotId);
    }
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Diff

  /**
   * What changed from snapshot `fromId` to `toId`: users added, removed, and changed (with each
   * changed property's old and new value), in storage order. Memory stays bounded: both snapshots
   * are read one partition at a time, in RowKey order, and merge-joined. Both must be complete and
   * spread over the same number of partitions.
   */
  async *diffSnapshots(fromId: string, toId: string, options: DiffSnapshotsOptions = {}): AsyncIterableIterator<SnapshotChange> {
    const abortSignal = options.abortSignal;
    const operationOptions = abortSignal ? { abortSignal } : {};
    const [from, to] = [await this.#completeRun(fromId, operationOptions), await this.#completeRun(toId, operationOptions)];
    if (from.partitionCount !== to.partitionCount) {
      throw new UserSyncError(
        "snapshot_not_found",
        `Snapshots ${fromId} and ${toId} are spread over different partition counts (${from.partitionCount} and ${to.partitionCount}), so they cannot be compared partition by partition. Compare snapshots written with the same partition count, or export both and compare the files.`,
      );
    }
    for (let shard = 0; shard < from.partitionCount; shard++) {
      const suffix = shard.toString(16).padStart(2, "0");
      yield* diffSortedUsers(
        this.#partitionUsers(`${fromId}-${suffix}`, abortSignal),
        this.#partitionUsers(`${toId}-${suffix}`, abortSignal),
      );
    }
    // All or nothing: retention marks a snapshot before deleting it, so a mark now means the
    // comparison above may have missed users.
    await this.#assertStillWhole(fromId, operationOptions);
    await this.#assertStillWhole(toId, operationOptions);
  }

  /** Fails with `read_incomplete` when retention began deleting the snapshot (or its record changed) after it was checked. */
  async #assertStillWhole(snapshotId: string, options: GetRunOptions): Promise<void> {
    const run = await this.getRun(snapshotId, options);
    if (run?.status === "succeeded" && !run.snapshotDeletedAt) return;
    const why = run?.snapshotDeletedAt ? `retention began deleting it at ${run.snapshotDeletedAt.toISOString()}` : "its run record changed";
    throw new UserSyncError(
      "read_incomplete",
      `Snapshot ${snapshotId} changed while it was being read (${why}), so what was printed may be incomplete: do not use it. Read a newer snapshot (export --latest), or keep snapshots longer with SNAPSHOT_RETENTION_COUNT, SNAPSHOT_RETENTION_DAYS or SNAPSHOT_RETENTION_GRACE_MINUTES.`,
      { details: { snapshotId } },
    );
  }

  async #completeRun(snapshotId: string, options: GetRunOptions): Promise<SyncRunRecord> {
    if (!isSnapshotId(snapshotId)) {
      throw new UserSyncError("snapshot_not_found", `"${snapshotId.slice(0, 80)}" is not a snapshot id (they look like 20261121T023300123Z-a1b2c3). List them with: entra-user-sync runs.`);
    }
    const run = await this.getRun(snapshotId, options);
    if (!run) throw new UserSyncError("snapshot_not_found", `There is no snapshot ${snapshotId}. List runs and their snapshots with: entra-user-sync runs.`);
    if (run.status !== "succeeded") {
      throw new UserSyncError("snapshot_not_found", `Snapshot ${snapshotId} is incomplete: its run is ${run.status}. Use a complete snapshot (for example the latest).`);
    }
    if (run.snapshotDeletedAt) {
      throw new UserSyncError("snapshot_not_found", `Snapshot ${snapshotId} was deleted by retention on ${run.snapshotDeletedAt.toISOString()}. Raise SNAPSHOT_RETENTION_COUNT or SNAPSHOT_RETENTION_DAYS to keep more.`);
    }
    return run;
  }

  /** One partition's users in RowKey order. */
  async *#partitionUsers(partitionKey: string, abortSignal: AbortSignal | undefined): AsyncIterableIterator<GraphUser> {
    const pages = this.#snapshots
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    for await (const page of this.#pages(this.#snapshots, `reading partition ${partitionKey}`, pages)) {
      for (const entity of page) if (!isFenceRow(entity)) yield decodeUserEntity(entity);
    }
  }

  /** The run with this id, or undefined when there is none. */
  async getRun(runId: string, options: GetRunOptions = {}): Promise<SyncRunRecord | undefined> {
    const rowKey = runRowKey(runId);
    if (rowKey === undefined) return undefined;
    const abortSignal = options.abortSignal;
    try {
      const entity = await this.#runs.getEntity<RunEntity>(RUNS_PARTITION, rowKey, abortSignal ? { abortSignal } : {});
      return entity.runId === runId ? this.#runRecord(entity) : undefined;
    } catch (error) {
      // No such run, or no runs table yet (no sync has started).
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#runs.tableName, `reading run ${runId}`, error);
    }
  }

  /** Runs, newest first. */
  async *listRuns(options: ListRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    const maxResults = options.maxResults ?? Number.POSITIVE_INFINITY;
    if (maxResults <= 0) return;
    const abortSignal = options.abortSignal;
    const pages = this.#runs
      .listEntities<RunEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${RUNS_PARTITION} and RowKey lt ${LATEST_ROW}` },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: Math.min(READ_PAGE_SIZE, maxResults) });
    let count = 0;
    // No runs table yet means no runs.
    for await (const page of this.#pages(this.#runs, "listing runs", pages, { tableMayNotExist: true })) {
      for (const entity of page) {
        if (entity.kind !== "run") continue;
        yield this.#runRecord(entity);
        if (++count >= maxResults) return;
      }
    }
  }

  /** The latest complete snapshot, or undefined when no run has completed yet. */
  async getLatestSnapshot(options: GetLatestSnapshotOptions = {}): Promise<LatestSnapshot | undefined> {
    const entity = await this.#getLatestEntity(options.abortSignal);
    if (!entity) return undefined;
    return {
      snapshotId: entity.snapshotId,
      runId: entity.runId,
      completedAt: entity.completedAt,
      userCount: numberOf(entity.userCount),
    };
  }

  /**
   * The users of a snapshot, decoded, one page of entities in memory at a time. Refuses a snapshot
   * whose run did not succeed unless `includeIncomplete` is set. Users come in storage order
   * (partition, then object id), not Graph's order.
   */
  async *listSnapshotUsers(snapshotId: string, options: ListSnapshotUsersOptions = {}): AsyncIterableIterator<GraphUser> {
    if (!isSnapshotId(snapshotId)) {
      throw new UserSyncError("snapshot_not_found", `"${snapshotId.slice(0, 80)}" is not a snapshot id (they look like 20261121T023300123Z-a1b2c3). List them with: entra-user-sync runs.`);
    }
    const abortSignal = options.abortSignal;
    if (!options.includeIncomplete) {
      const run = await this.getRun(snapshotId, abortSignal ? { abortSignal } : {});
      if (!run) {
        throw new UserSyncError("snapshot_not_found", `There is no snapshot ${snapshotId}. List runs and their snapshots with: entra-user-sync runs.`);
      }
      if (run.status !== "succeeded") {
        throw new UserSyncError("snapshot_not_found", `Snapshot ${snapshotId} is incomplete: its run is ${run.status}. Export a complete snapshot instead (for example the latest).`);
      }
      if (run.snapshotDeletedAt) {
        throw new UserSyncError("snapshot_not_found", `Snapshot ${snapshotId} was deleted by retention on ${run.snapshotDeletedAt.toISOString()}. Raise SNAPSHOT_RETENTION_COUNT or SNAPSHOT_RETENTION_DAYS to keep more.`);
      }
    }
    // One range over the snapshot's partitions: `<id>-00` … `<id>-ff` sort between `<id>-` and `<id>.`.
    const pages = this.#snapshots
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}` },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    for await (const page of this.#pages(this.#snapshots, `reading snapshot ${snapshotId}`, pages)) {
      for (const entity of page) if (!isFenceRow(entity)) yield decodeUserEntity(entity);
    }
    if (!options.includeIncomplete) await this.#assertStillWhole(snapshotId, abortSignal ? { abortSignal } : {});
  }

  /** Iterates SDK pages, translating failures. */
  async *#pages<T>(
    table: TableClient,
    operation: string,
    pages: AsyncIterableIterator<T[]>,
    options: { tableMayNotExist?: boolean } = {},
  ): AsyncIterableIterator<T[]> {
    for (;;) {
      let next: IteratorResult<T[]>;
      try {
        next = await pages.next();
      } catch (error) {
        if (options.tableMayNotExist && isStatusCode(error, 404) && storageErrorCode(error) === "TableNotFound") return;
        throw storageError(this.#storage, table.tableName, operation, error);
      }
      if (next.done) return;
      yield next.value;
    }
  }

  async #getLatestEntity(abortSignal: AbortSignal | undefined): Promise<TableEntityResult<LatestEntity> | undefined> {
    try {
      return await this.#runs.getEntity<LatestEntity>(RUNS_PARTITION, LATEST_ROW, abortSignal ? { abortSignal } : {});
    } catch (error) {
      // No pointer yet, or no runs table yet (no sync has started).
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#runs.tableName, "reading the latest snapshot", error);
    }
  }

  #assertSnapshotId(snapshotId: string): void {
    if (!isSnapshotId(snapshotId)) {
      throw new UserSyncError("snapshot_not_found", `"${snapshotId.slice(0, 80)}" is not a snapshot id from startRun.`);
    }
  }

  #runEntity(run: SyncRunRecord): RunEntity & { partitionKey: string; rowKey: string } {
    const entity: RunEntity & { partitionKey: string; rowKey: string } = {
      partitionKey: RUNS_PARTITION,
      rowKey: runRowKey(run.runId)!,
      kind: "run",
      runId: run.runId,
      snapshotId: run.snapshotId,
      status: run.status,
      trigger: run.trigger,
      startedAt: run.startedAt,
      select: run.select.join(","),
      partitionCount: run.partitionCount,
      pages: double(run.stats.pages),
      usersRead: double(run.stats.usersRead),
      entitiesWritten: double(run.stats.entitiesWritten),
      transactions: double(run.stats.transactions),
      counters: JSON.stringify(run.stats.counters),
    };
    if (run.endedAt) entity.endedAt = run.endedAt;
    if (run.error !== undefined) entity.error = run.error;
    if (run.checkpoint) {
      entity.checkpointAt = run.checkpoint.at;
      if (run.checkpoint.nextLink !== undefined) entity.nextLink = run.checkpoint.nextLink;
    }
    if (run.stats.skipped.length > 0) entity.skipped = JSON.stringify(run.stats.skipped);
    if (run.snapshotDeletedAt) entity.snapshotDeletedAt = run.snapshotDeletedAt;
    if (run.snapshotPurgedAt) entity.snapshotPurgedAt = run.snapshotPurgedAt;
    return entity;
  }

  #runRecord(entity: RunEntity): SyncRunRecord {
    let counters: Record<string, number> = {};
    try {
      const parsed = JSON.parse(entity.counters ?? "{}") as unknown;
      if (parsed && typeof parsed === "object") counters = parsed as Record<string, number>;
    } catch {
      counters = {};
    }
    let skipped: SkippedUser[] = [];
    try {
      const parsed = JSON.parse(entity.skipped ?? "[]") as unknown;
      if (Array.isArray(parsed)) skipped = parsed as SkippedUser[];
    } catch {
      skipped = [];
    }
    const record: SyncRunRecord = {
      runId: entity.runId,
      snapshotId: entity.snapshotId,
      status: entity.status,
      trigger: entity.trigger,
      startedAt: new Date(entity.startedAt),
      select: entity.select ? entity.select.split(",") : [],
      partitionCount: numberOf(entity.partitionCount),
      stats: {
        pages: numberOf(entity.pages),
        usersRead: numberOf(entity.usersRead),
        entitiesWritten: numberOf(entity.entitiesWritten),
        transactions: numberOf(entity.transactions),
        counters,
        skipped,
      },
    };
    if (entity.endedAt) record.endedAt = new Date(entity.endedAt);
    if (entity.error) record.error = entity.error;
    if (entity.checkpointAt) {
      record.checkpoint = { at: new Date(entity.checkpointAt) };
      if (entity.nextLink) record.checkpoint.nextLink = entity.nextLink;
    }
    if (entity.snapshotDeletedAt) record.snapshotDeletedAt = new Date(entity.snapshotDeletedAt);
    if (entity.snapshotPurgedAt) record.snapshotPurgedAt = new Date(entity.snapshotPurgedAt);
    return record;
  }
}
