/**
 * The snapshot store: point-in-time copies of the directory's objects of one kind (users unless
 * `kind` says otherwise: src/kinds/) in Azure Table Storage, and a record of every sync run. One client for the two tables, in the style of the Azure SDK; each job
 * lives in its own module: run records (runRecords.ts, runsTable.ts), the writer lease
 * (leaseStore.ts, writerLease.ts), writing (snapshotWriter.ts), reading and diff
 * (snapshotReader.ts) and retention (retention.ts). Layout and guarantees: docs/storage.md.
 */
import type { TokenCredential } from "@azure/identity";
import type { TableClient, TableServiceClientOptions } from "@azure/data-tables";
import pLimit from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { GraphUser } from "../graph/types.js";
import type { GraphObject, ObjectKind } from "../kinds/objectKind.js";
import { kindTableNames, runsTableName } from "../kinds/tableNames.js";
import { USERS } from "../kinds/users.js";
import { UserSyncError } from "../shared/errors.js";
import { storageError } from "../tables/storageErrors.js";
import { runRowKey } from "../tables/keys.js";
import { checkedTablePrefix } from "../kinds/tablePrefix.js";
import { createTableClient } from "../tables/tableClient.js";
import { LeaseStore, type AcquireLeaseOptions } from "./leaseStore.js";
import { SnapshotRetention, type DeleteExpiredSnapshotsOptions, type DeleteExpiredSnapshotsResult } from "./retention.js";
import { encodeLaneState, LEASE_ROW, RUNS_PARTITION, type LaneRunState, type LatestSnapshot, type LeaseInfo, type RunStats, type SyncRunRecord } from "./runRecords.js";
import { RunsTable, type ListRunsOptions, type RunsReadOptions, type WriteOptions } from "./runsTable.js";
import type { SnapshotChange } from "./snapshotDiff.js";
import { SnapshotReader, type DiffSnapshotsOptions, type ListSnapshotUsersOptions } from "./snapshotReader.js";
import { SnapshotWriter, type CheckpointRunOptions, type StartRunOptions, type UpsertUsersResult } from "./snapshotWriter.js";
import type { WriterLease } from "./writerLease.js";
import type { OperationOptions } from "../shared/abort.js";
import { DEFAULT_PARTITION_COUNT, DEFAULT_WRITE_CONCURRENCY } from "../configuration/defaults.js";

export { WriterLease } from "./writerLease.js";
export { type AcquireLeaseOptions } from "./leaseStore.js";
export type { DeleteExpiredSnapshotsOptions, DeleteExpiredSnapshotsResult } from "./retention.js";
export { MAX_ERROR_LENGTH, MAX_SKIPPED_RECORDED } from "./runRecords.js";
export type { GroupsCheckpoint, LaneRunState, LatestSnapshot, LeaseInfo, RunCheckpoint, RunStats, SkippedUser, SyncRunRecord, SyncRunStatus, SyncTrigger } from "./runRecords.js";
export type { ListRunsOptions, WriteOptions } from "./runsTable.js";
export type { SnapshotChange } from "./snapshotDiff.js";
export type { DiffSnapshotsOptions, ListSnapshotUsersOptions } from "./snapshotReader.js";
export type { CheckpointRunOptions, StartRunOptions, UpsertUsersResult } from "./snapshotWriter.js";

/** A held lease (see WriterLease): whoever holds it is the only writer. */
export type RunLease = WriterLease;

export interface SnapshotStoreClientOptions {
  storage: TableStorageSettings;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential;
  /** Table names are `<prefix>Runs` and the kind's snapshots table (`<prefix>Snapshots` for users). Default "entraUser". */
  tablePrefix?: string;
  /** The kind of object the snapshots hold (src/kinds/). Default: the users. */
  kind?: ObjectKind;
  /** Partitions one snapshot is spread over, 1 to 256. Default 16. */
  partitionCount?: number;
  /** Entity group transactions in flight at once, across the store. Default 16. */
  writeConcurrency?: number;
  /** Passed to the SDK's TableClient (retry options, extra pipeline policies...). */
  clientOptions?: TableServiceClientOptions;
}

export { DEFAULT_PARTITION_COUNT, DEFAULT_TABLE_PREFIX, DEFAULT_WRITE_CONCURRENCY } from "../configuration/defaults.js";

export class SnapshotStoreClient {
  readonly kind: ObjectKind;
  readonly snapshotsTableName: string;
  readonly runsTableName: string;
  readonly partitionCount: number;
  readonly #storage: TableStorageSettings;
  readonly #snapshots: TableClient;
  readonly #runsClient: TableClient;
  readonly #runs: RunsTable;
  readonly #leases: LeaseStore;
  readonly #writer: SnapshotWriter;
  readonly #reader: SnapshotReader;
  readonly #retention: SnapshotRetention;

  constructor(options: SnapshotStoreClientOptions) {
    const prefix = checkedTablePrefix(options.tablePrefix);
    const partitionCount = options.partitionCount ?? DEFAULT_PARTITION_COUNT;
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 256) {
      throw new UserSyncError("invalid_setting", `The partition count ${partitionCount} is not valid: use a whole number from 1 to 256.`);
    }
    const writeConcurrency = options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY;
    if (!Number.isInteger(writeConcurrency) || writeConcurrency < 1) {
      throw new UserSyncError("invalid_setting", `The write concurrency ${writeConcurrency} is not valid: use a whole number of at least 1.`);
    }
    this.kind = options.kind ?? USERS;
    this.snapshotsTableName = kindTableNames(prefix, this.kind).snapshots;
    this.runsTableName = runsTableName(prefix);
    this.partitionCount = partitionCount;
    const storage = options.storage;
    this.#storage = storage;
    const common = { storage, credential: options.credential, clientOptions: options.clientOptions, owner: "SnapshotStoreClient" };
    this.#snapshots = createTableClient({ ...common, tableName: this.snapshotsTableName });
    this.#runsClient = createTableClient({ ...common, tableName: this.runsTableName });
    // One limit for every transaction of the store, shared by every caller.
    const limit = pLimit(writeConcurrency);
    this.#leases = new LeaseStore(this.#runsClient, storage);
    this.#runs = new RunsTable(this.#runsClient, storage, this.#leases);
    this.#writer = new SnapshotWriter({ kind: this.kind, snapshots: this.#snapshots, runs: this.#runs, storage, partitionCount, limit });
    this.#reader = new SnapshotReader(this.kind, this.#snapshots, this.#runs, storage);
    this.#retention = new SnapshotRetention({ snapshots: this.#snapshots, runs: this.#runs, storage, limit });
  }

  /** Creates both tables when they do not exist. */
  async createTablesIfNotExist(options: OperationOptions = {}): Promise<void> {
    await Promise.all([this.createRunsTableIfNotExists(options), this.createSnapshotsTableIfNotExists(options)]);
  }

  /** The run-records table alone: where the writer lease lives, so the one table a run creates before it holds the lease. */
  async createRunsTableIfNotExists(options: OperationOptions = {}): Promise<void> {
    await this.#createTable(this.#runsClient, options);
  }

  /** The snapshots table alone (a run creates it once it holds the lease). */
  async createSnapshotsTableIfNotExists(options: OperationOptions = {}): Promise<void> {
    await this.#createTable(this.#snapshots, options);
  }

  /**
   * Deletes the run-records table when it holds nothing but `lease` (a run that was refused under
   * its lease, e.g. its tenant was removed: the table it may have created for the lease is not left
   * behind). Returns whether it was deleted. Anything else in the table (run records, a latest
   * snapshot) keeps it. Deleting the table ends the lease.
   */
  async discardRunsTableHoldingOnly(lease: WriterLease, options: OperationOptions = {}): Promise<boolean> {
    const table = this.#runsClient;
    let entities: Array<{ partitionKey?: string; rowKey?: string; owner?: unknown }>;
    try {
      const page = await table.listEntities<{ owner?: unknown }>({ abortSignal: options.abortSignal }).byPage({ maxPageSize: 2 }).next();
      entities = page.done ? [] : page.value;
    } catch (error) {
      throw storageError(this.#storage, table.tableName, `reading table ${table.tableName}`, error);
    }
    const onlyOurLease = entities.length === 1 && entities[0]!.partitionKey === RUNS_PARTITION && entities[0]!.rowKey === LEASE_ROW && entities[0]!.owner === lease.owner;
    if (!onlyOurLease) return false;
    try {
      await table.deleteTable({ abortSignal: options.abortSignal });
    } catch (error) {
      throw storageError(this.#storage, table.tableName, `deleting table ${table.tableName}`, error);
    }
    return true;
  }

  async #createTable(table: TableClient, options: OperationOptions): Promise<void> {
    try {
      await table.createTable({ abortSignal: options.abortSignal });
    } catch (error) {
      throw storageError(this.#storage, table.tableName, `creating table ${table.tableName}`, error);
    }
  }

  // Writing (snapshotWriter.ts)
  startRun(options: StartRunOptions): Promise<SyncRunRecord> {
    return this.#writer.startRun(options);
  }
  /** Writes objects of the store's kind into a snapshot (SnapshotWriter.upsertObjects). */
  upsertObjects(snapshotId: string, objects: readonly GraphObject[], options: WriteOptions = {}): Promise<UpsertUsersResult> {
    return this.#writer.upsertObjects(snapshotId, objects, options);
  }
  /** upsertObjects under the users' name (the snapshot run's port, SnapshotSink). */
  upsertUsers(snapshotId: string, users: readonly GraphUser[], options: WriteOptions = {}): Promise<UpsertUsersResult> {
    return this.#writer.upsertObjects(snapshotId, users, options);
  }
  claimSnapshot(snapshotId: string, lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    return this.#writer.claimSnapshot(snapshotId, lease, options);
  }
  checkpointRun(run: SyncRunRecord, nextLink: string | undefined, stats: RunStats, options: CheckpointRunOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.checkpointRun(run, nextLink, stats, options);
  }
  completeRun(run: SyncRunRecord, stats: RunStats, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.completeRun(run, stats, options);
  }
  failRun(run: SyncRunRecord, error: string, stats: RunStats, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.failRun(run, error, stats, options);
  }
  pauseRun(run: SyncRunRecord, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.pauseRun(run, options);
  }
  resumeRun(run: SyncRunRecord, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.resumeRun(run, options);
  }
  abandonRun(run: SyncRunRecord, reason: string, options: WriteOptions = {}): Promise<SyncRunRecord> {
    return this.#writer.abandonRun(run, reason, options);
  }

  // The writer lease (leaseStore.ts)
  acquireLease(options: AcquireLeaseOptions): Promise<WriterLease> {
    return this.#leases.acquire(options);
  }
  renewLease(lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    return this.#leases.renew(lease, options);
  }
  releaseLease(lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    return this.#leases.release(lease, options);
  }
  getLease(options: OperationOptions = {}): Promise<LeaseInfo | undefined> {
    return this.#leases.get(options);
  }

  // Run records (runsTable.ts)
  getRun(runId: string, options: RunsReadOptions = {}): Promise<SyncRunRecord | undefined> {
    return this.#runs.getRun(runId, options);
  }
  listRuns(options: ListRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    return this.#runs.listRuns(options);
  }
  /**
   * Records what the analytics lane did with a run's snapshot (only that column of the run record
   * changes), under the run's lease like every other write of a run record.
   */
  async recordLane(runId: string, lane: LaneRunState, options: WriteOptions): Promise<void> {
    const entity = { partitionKey: RUNS_PARTITION, rowKey: runRowKey(runId)!, lane: encodeLaneState(lane) };
    await this.#runs.write([["update", entity, "Merge", { etag: "*" }]], `recording the analytics lane of run ${runId}`, options);
  }
  listUnfinishedRuns(options: ListRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    return this.#runs.listUnfinishedRuns(options);
  }
  /** The latest snapshot's pointer and the newest unfinished run, in one request (what is due: RunsTable.readDueRecords). */
  readDueRecords(options: RunsReadOptions = {}): Promise<{ latest: LatestSnapshot | undefined; unfinished: SyncRunRecord | undefined }> {
    return this.#runs.readDueRecords(options);
  }

  getLatestSnapshot(options: RunsReadOptions = {}): Promise<LatestSnapshot | undefined> {
    return this.#runs.getLatestSnapshot(options);
  }

  // Reading (snapshotReader.ts)
  /** The objects of a complete snapshot (SnapshotReader.listSnapshotObjects). */
  listSnapshotObjects(snapshotId: string, options: ListSnapshotUsersOptions = {}): AsyncIterableIterator<GraphObject> {
    return this.#reader.listSnapshotObjects(snapshotId, options);
  }
  /** A complete snapshot's objects in ascending id order (its partitions merged; bounded memory). */
  listSnapshotObjectsById(snapshotId: string, options: OperationOptions = {}): AsyncIterableIterator<GraphObject> {
    return this.#reader.listSnapshotObjectsById(snapshotId, this.partitionCount, options);
  }
  /** listSnapshotObjects under the users' name. */
  listSnapshotUsers(snapshotId: string, options: ListSnapshotUsersOptions = {}): AsyncIterableIterator<GraphUser> {
    return this.#reader.listSnapshotObjects(snapshotId, options);
  }
  diffSnapshots(fromId: string, toId: string, options: DiffSnapshotsOptions = {}): AsyncIterableIterator<SnapshotChange> {
    return this.#reader.diffSnapshots(fromId, toId, options);
  }

  // Retention (retention.ts)
  deleteExpiredSnapshots(options: DeleteExpiredSnapshotsOptions): Promise<DeleteExpiredSnapshotsResult> {
    return this.#retention.deleteExpiredSnapshots(options);
  }
  deleteSnapshot(snapshotId: string, options: WriteOptions = {}): Promise<number> {
    return this.#retention.deleteSnapshot(snapshotId, options);
  }
}
