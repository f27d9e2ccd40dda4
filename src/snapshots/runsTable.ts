/**
 * The runs partition of the snapshot store: run records, the `latest` pointer and the lease. Reads,
 * and the one way to write it: a transaction that, under a lease, also renews the lease entity with
 * If-Match, so only the lease's holder ever changes a run record or the pointer (docs/storage.md,
 * "Fencing").
 */
import { randomUUID } from "node:crypto";
import { odata, type TableClient, type TableEntityResult, type TableTransactionResponse, type TransactionAction } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import { runRowKey } from "../tables/keys.js";
import { entitiesOf, failedOperationIndex } from "../tables/partitionFence.js";
import { storageError } from "../tables/storageErrors.js";
import { isStatusCode, queryEntities, READ_PAGE_SIZE } from "../tables/tableStore.js";
import type { LeaseStore } from "./leaseStore.js";
import { decodeRun, LATEST_ROW, numberOf, RUNS_PARTITION, type LatestEntity, type LatestSnapshot, type RunEntity, type SyncRunRecord } from "./runRecords.js";
import type { WriterLease } from "./writerLease.js";
import type { OperationOptions } from "../shared/abort.js";

export type RunsReadOptions = OperationOptions;

/** Rows a page of readDueRecords holds: an unfinished run or two, and the pointer. */
const DUE_RECORDS_PAGE_SIZE = 8;

function decodeLatest(entity: LatestEntity): LatestSnapshot {
  const latest: LatestSnapshot = { snapshotId: entity.snapshotId, runId: entity.runId, completedAt: entity.completedAt, userCount: numberOf(entity.userCount) };
  if (entity.startedAt instanceof Date) latest.startedAt = entity.startedAt;
  return latest;
}

export interface ListRunsOptions extends RunsReadOptions {
  /** Stop after this many runs. */
  maxResults?: number;
}

/**
 * Options of a write. A run always passes its `lease`: the write is then sent only while the lease
 * is held (checked by this process's clocks) and is fenced in storage (the lease entity, or the
 * partition's fence row, is checked in the same transaction). Without a lease the write is not
 * fenced: only for tools that own the store alone (tests, the benchmark).
 */
export interface WriteOptions extends OperationOptions {
  lease?: WriterLease;
}

export class RunsTable {
  readonly #table: TableClient;
  readonly #storage: TableStorageSettings;
  readonly #leases: LeaseStore;

  constructor(table: TableClient, storage: TableStorageSettings, leases: LeaseStore) {
    this.#table = table;
    this.#storage = storage;
    this.#leases = leases;
  }

  get tableName(): string {
    return this.#table.tableName;
  }

  /** The run with this id, or undefined when there is none (or no runs table yet). */
  async getRun(runId: string, options: RunsReadOptions = {}): Promise<SyncRunRecord | undefined> {
    const rowKey = runRowKey(runId);
    if (rowKey === undefined) return undefined;
    const abortSignal = options.abortSignal;
    try {
      const entity = await this.#table.getEntity<RunEntity>(RUNS_PARTITION, rowKey, { abortSignal });
      return entity.runId === runId ? decodeRun(entity) : undefined;
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#table.tableName, `reading run ${runId}`, error);
    }
  }

  /** Runs, newest first. */
  listRuns(options: ListRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    return this.#list(odata`PartitionKey eq ${RUNS_PARTITION} and RowKey lt ${LATEST_ROW}`, "listing runs", options);
  }

  /** Runs that are `running` or `paused`, newest first. */
  listUnfinishedRuns(options: ListRunsOptions = {}): AsyncIterableIterator<SyncRunRecord> {
    return this.#list(
      odata`PartitionKey eq ${RUNS_PARTITION} and RowKey lt ${LATEST_ROW} and (status eq ${"running"} or status eq ${"paused"})`,
      "listing unfinished runs",
      options,
    );
  }

  /**
   * What is due reads, in one query of the runs partition: the newest unfinished run (`running` or
   * `paused`) and the latest snapshot's pointer. The range is the one the query of unfinished runs
   * scans anyway (every run row, RowKey below `latest`), with the pointer at its end; a page holds
   * a few rows, so one request answers unless several runs are left unfinished.
   */
  async readDueRecords(options: RunsReadOptions = {}): Promise<{ latest: LatestSnapshot | undefined; unfinished: SyncRunRecord | undefined }> {
    const filter = odata`PartitionKey eq ${RUNS_PARTITION} and RowKey le ${LATEST_ROW} and (RowKey eq ${LATEST_ROW} or status eq ${"running"} or status eq ${"paused"})`;
    let unfinished: SyncRunRecord | undefined;
    // The pointer sorts after every run: once it is read, nothing is left to read.
    for await (const entity of queryEntities<RunEntity | LatestEntity>(this.#table, this.#storage, "reading the latest snapshot and unfinished runs", {
      filter,
      abortSignal: options.abortSignal,
      pageSize: DUE_RECORDS_PAGE_SIZE,
      tableMayNotExist: true,
    })) {
      if (entity.kind === "latest") return { latest: decodeLatest(entity), unfinished };
      if (entity.kind === "run") unfinished ??= decodeRun(entity);
    }
    return { latest: undefined, unfinished };
  }

  async *#list(filter: string, operation: string, options: ListRunsOptions): AsyncIterableIterator<SyncRunRecord> {
    const maxResults = options.maxResults ?? Number.POSITIVE_INFINITY;
    if (maxResults <= 0) return;
    let count = 0;
    // No runs table yet means no runs.
    for await (const entity of queryEntities<RunEntity>(this.#table, this.#storage, operation, {
      filter,
      abortSignal: options.abortSignal,
      pageSize: Math.min(READ_PAGE_SIZE, maxResults),
      tableMayNotExist: true,
    })) {
      if (entity.kind !== "run") continue;
      yield decodeRun(entity);
      if (++count >= maxResults) return;
    }
  }

  /** The latest complete snapshot, or undefined when no run has completed yet. */
  async getLatestSnapshot(options: RunsReadOptions = {}): Promise<LatestSnapshot | undefined> {
    const entity = await this.getLatestEntity(options.abortSignal);
    return entity ? decodeLatest(entity) : undefined;
  }

  /** The pointer entity with its ETag, or undefined (no pointer, or no runs table yet). */
  async getLatestEntity(abortSignal: AbortSignal | undefined): Promise<TableEntityResult<LatestEntity> | undefined> {
    try {
      return await this.#table.getEntity<LatestEntity>(RUNS_PARTITION, LATEST_ROW, { abortSignal });
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#table.tableName, "reading the latest snapshot", error);
    }
  }

  /**
   * One transaction in the runs partition. With a lease, the lease entity is renewed (If-Match) in
   * the same transaction, after a local check that it is still held. `raw` rethrows the service's
   * error (for callers that handle a conflict on another operation); a conflict on the lease is
   * always `lease_lost`.
   */
  async write(actions: TransactionAction[], operation: string, options: WriteOptions, mode: { raw?: boolean } = {}): Promise<TableTransactionResponse | undefined> {
    const abortSignal = options.abortSignal;
    const operationOptions = { abortSignal };
    const lease = options.lease;
    if (!lease) {
      try {
        // One operation needs no transaction.
        const [only] = actions;
        if (actions.length === 1 && only && (only[0] === "create" || only[0] === "update")) {
          if (only[0] === "create") await this.#table.createEntity(only[1], operationOptions);
          else await this.#table.updateEntity(only[1], "Replace", { ...operationOptions, etag: "*" });
          return undefined;
        }
        return await this.#table.submitTransaction(actions, operationOptions);
      } catch (error) {
        if (mode.raw) throw error;
        throw storageError(this.#storage, this.#table.tableName, operation, error, { batch: entitiesOf(actions) });
      }
    }
    return lease.exclusive(async () => {
      lease.assertHeld();
      const sentAt = performance.now();
      const expiresAt = new Date(Date.now() + lease.durationInMs);
      const writeId = randomUUID();
      const all: TransactionAction[] = [...actions, ["update", this.#leases.entityFor(lease, expiresAt, writeId), "Replace", { etag: lease.etag }]];
      let response: TableTransactionResponse;
      try {
        response = await this.#table.submitTransaction(all, operationOptions);
      } catch (error) {
        const index = failedOperationIndex(error);
        if (isStatusCode(error, 404, 409, 412)) {
          // The SDK may retry a transaction whose first attempt was applied but not answered: then the
          // lease entity carries this write's id, and the transaction (all or nothing) is done, whichever
          // operation the retry failed on (a record's create fails before the lease's update).
          const etag = await this.#leases.etagIfWrittenBy(writeId, abortSignal);
          if (etag !== undefined) {
            lease.renewed(etag, expiresAt, sentAt);
            return undefined;
          }
          if (index === all.length - 1 || (index === undefined && !(await this.#leases.holds(lease, abortSignal)))) throw this.#leases.lost(lease);
        }
        if (mode.raw) throw error;
        throw storageError(this.#storage, this.#table.tableName, operation, error, { batch: entitiesOf(all) });
      }
      await this.#leases.afterWrite(lease, response.subResponses[all.length - 1]?.etag, expiresAt, sentAt, abortSignal);
      return response;
    });
  }
}
