/**
 * The snapshot store: point-in-time copies of the directory's users in Azure Table Storage, and a
 * record of every sync run. Layout and guarantees: docs/storage.md.
 */
import type { TokenCredential } from "@azure/identity";
import { odata, TableClient, type TableEntityResult, type TableServiceClientOptions, type TransactionAction } from "@azure/data-tables";
import pLimit, { type LimitFunction } from "p-limit";
import type { SnapshotStorageSettings } from "../configuration/settings.js";
import type { GraphUser } from "../graph/types.js";
import { UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { isSnapshotId, newSnapshotId, runRowKey, snapshotPartitionKey, timeOfSnapshotId } from "./snapshotIds.js";
import { storageError, storageErrorCode } from "./storageErrors.js";
import { planTransactions, SERVICE_TRANSACTION_LIMITS, type TransactionLimits } from "./transactions.js";
import { decodeUserEntity, encodeUserEntity, type UserEntity } from "./userEntity.js";

export type SyncTrigger = "timer" | "cli";
export type SyncRunStatus = "running" | "succeeded" | "failed";

/** What a run counts. `counters` is an open bag for later measures (throttles, retries, waitedInMs...). */
export interface RunStats {
  pages: number;
  usersRead: number;
  entitiesWritten: number;
  transactions: number;
  counters?: Record<string, number>;
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
  stats: RunStats & { counters: Record<string, number> };
  /** Why a failed run failed: redacted, at most MAX_ERROR_LENGTH characters. */
  error?: string;
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
export type CreateTablesIfNotExistOptions = OperationOptionsBase;
export interface StartRunOptions extends OperationOptionsBase {
  trigger: SyncTrigger;
  select: readonly string[];
}
export type UpsertUsersOptions = OperationOptionsBase;
export type CompleteRunOptions = OperationOptionsBase;
export type FailRunOptions = OperationOptionsBase;
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
}

export const DEFAULT_TABLE_PREFIX = "entraUser";
export const DEFAULT_PARTITION_COUNT = 16;
export const DEFAULT_WRITE_CONCURRENCY = 16;
export const MAX_ERROR_LENGTH = 2000;

/** All runs and the pointer share one partition, so that promoting a run is one transaction. */
const RUNS_PARTITION = "runs";
/** RowKey of the pointer; run RowKeys start with a digit, so it sorts after every run. */
const LATEST_ROW = "latest";
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
  return {
    pages: stats.pages,
    usersRead: stats.usersRead,
    entitiesWritten: stats.entitiesWritten,
    transactions: stats.transactions,
    counters,
  };
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
    const clientOptions: TableServiceClientOptions = {
      ...options.clientOptions,
      allowInsecureConnection: options.storage.allowInsecureConnection,
    };
    const storage = options.storage;
    if (storage.kind === "identity") {
      if (!options.credential) {
        throw new UserSyncError("no_azure_credential", "An identity-based snapshot store (SNAPSHOT_STORAGE__tableServiceUri) needs a credential; pass one to SnapshotStoreClient.");
      }
      if (!storage.tableServiceUri.toLowerCase().startsWith("https://")) {
        throw new UserSyncError(
          "invalid_setting",
          "SNAPSHOT_STORAGE__tableServiceUri uses http, but an identity-based connection sends tokens only over https (the Azure SDK refuses otherwise). Use the account's https table endpoint; for Azurite, set SNAPSHOT_STORAGE=UseDevelopmentStorage=true instead.",
          { details: { settings: "SNAPSHOT_STORAGE__tableServiceUri" } },
        );
      }
      const credential = options.credential;
      this.#snapshots = new TableClient(storage.tableServiceUri, this.snapshotsTableName, credential, clientOptions);
      this.#runs = new TableClient(storage.tableServiceUri, this.runsTableName, credential, clientOptions);
    } else {
      this.#snapshots = TableClient.fromConnectionString(storage.connectionString, this.snapshotsTableName, clientOptions);
      this.#runs = TableClient.fromConnectionString(storage.connectionString, this.runsTableName, clientOptions);
    }
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
    const abortSignal = options.abortSignal;
    await this.#call(this.#runs, `recording run ${runId}`, () =>
      this.#runs.createEntity(this.#runEntity(run), abortSignal ? { abortSignal } : {}),
    );
    return run;
  }

  /**
   * Writes users into a snapshot: upserts (Replace) in entity group transactions of one partition,
   * at most 100 operations and under 4 MiB each, with bounded concurrency. A user id given twice
   * is written once (the last one wins). All users are encoded before anything is written, so a
   * user that cannot be stored fails the call without a partial write of this page.
   */
  async upsertUsers(snapshotId: string, users: readonly GraphUser[], options: UpsertUsersOptions = {}): Promise<UpsertUsersResult> {
    this.#assertSnapshotId(snapshotId);
    const byId = new Map<string, UserEntity>();
    for (const user of users) {
      const entity = encodeUserEntity(user, snapshotPartitionKey(snapshotId, String(user.id), this.partitionCount));
      byId.delete(entity.rowKey);
      byId.set(entity.rowKey, entity);
    }
    const plan = planTransactions(byId.values(), this.#transactionLimits);
    const abortSignal = options.abortSignal;
    let failure: { error: unknown } | undefined;
    await Promise.all(
      plan.map((entities) =>
        this.#limit(async () => {
          // After one transaction fails, the rest of this call is not started.
          if (failure || abortSignal?.aborted) return;
          const actions: TransactionAction[] = entities.map((entity) => ["upsert", entity, "Replace"]);
          try {
            await this.#call(this.#snapshots, `writing ${entities.length} users of snapshot ${snapshotId} (partition ${entities[0]!.partitionKey})`, () =>
              this.#snapshots.submitTransaction(actions, abortSignal ? { abortSignal } : {}),
            );
          } catch (error) {
            failure ??= { error };
          }
        }),
      ),
    );
    if (failure) throw failure.error;
    abortSignal?.throwIfAborted();
    return { entitiesWritten: byId.size, transactions: plan.length };
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
    const operationOptions = abortSignal ? { abortSignal } : {};
    const runEntity = this.#runEntity(completed);
    for (let attempt = 1; ; attempt++) {
      const current = await this.#getLatestEntity(abortSignal);
      if (current && current.snapshotId > completed.snapshotId) {
        await this.#call(this.#runs, `recording run ${run.runId} as succeeded`, () =>
          this.#runs.updateEntity(runEntity, "Replace", { ...operationOptions, etag: "*" }),
        );
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
        // "update" (not upsert): fails if the run record does not exist.
        ["update", runEntity, "Replace", { etag: "*" }],
        current ? ["update", latest, "Replace", { etag: current.etag }] : ["create", latest],
      ];
      try {
        await this.#runs.submitTransaction(actions, operationOptions);
        return completed;
      } catch (error) {
        // Another run moved `latest` between our read and our write: read it again and decide again.
        if (attempt < PROMOTION_ATTEMPTS && isStatusCode(error, 409, 412)) continue;
        throw storageError(this.#storage, this.#runs.tableName, `promoting snapshot ${run.snapshotId} to latest`, error);
      }
    }
  }

  /** Marks the run failed with a redacted, bounded error text. `latest` is never touched. */
  async failRun(run: SyncRunRecord, error: string, stats: RunStats, options: FailRunOptions = {}): Promise<SyncRunRecord> {
    const failed: SyncRunRecord = { ...run, status: "failed", endedAt: new Date(), stats: normalizeStats(stats), error: boundedError(error) };
    const abortSignal = options.abortSignal;
    await this.#call(this.#runs, `recording run ${run.runId} as failed`, () =>
      this.#runs.upsertEntity(this.#runEntity(failed), "Replace", abortSignal ? { abortSignal } : {}),
    );
    return failed;
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
    }
    // One range over the snapshot's partitions: `<id>-00` … `<id>-ff` sort between `<id>-` and `<id>.`.
    const pages = this.#snapshots
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}` },
        ...(abortSignal ? { abortSignal } : {}),
      })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    for await (const page of this.#pages(this.#snapshots, `reading snapshot ${snapshotId}`, pages)) {
      for (const entity of page) yield decodeUserEntity(entity);
    }
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
      },
    };
    if (entity.endedAt) record.endedAt = new Date(entity.endedAt);
    if (entity.error) record.error = entity.error;
    return record;
  }
}
