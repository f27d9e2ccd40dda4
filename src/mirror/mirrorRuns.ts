/**
 * The mirror's own records in its table: the delta state (saved only with an ETag check, so two
 * runs cannot both advance it) and one record per mirror run (created, then replaced only with the
 * ETag of our last write, so a run marked failed by a later one cannot overwrite that).
 */
import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { runRowKey } from "../tables/keys.js";
import { storageError } from "../tables/storageErrors.js";
import { isStatusCode } from "../tables/tableStore.js";
import {
  decodeDeltaState,
  decodeMirrorRun,
  encodeDeltaState,
  encodeMirrorRun,
  RUNS_PARTITION,
  STATE_PARTITION,
  STATE_ROW,
  type MirrorDeltaState,
  type MirrorRunRecord,
  type MirrorSkippedUser,
  type VersionedDeltaState,
} from "./mirrorRecords.js";
import type { MirrorTables, MirrorWriteOptions } from "./mirrorTables.js";
import { createLeaseLostError } from "../tables/leaseErrors.js";
import type { OperationOptions } from "../shared/abort.js";

export interface ListMirrorRunsOptions extends OperationOptions {
  maxResults?: number;
  /** Only runs with this status. */
  status?: MirrorRunRecord["status"];
}

export class MirrorRuns {
  readonly #tables: MirrorTables;

  constructor(tables: MirrorTables) {
    this.#tables = tables;
  }

  /** The saved delta state, or undefined before the first round (or before the tables exist). */
  async getDeltaState(options: OperationOptions = {}): Promise<VersionedDeltaState | undefined> {
    const table = this.#tables.table("users");
    this.#tables.stats.requests += 1;
    try {
      const entity = await table.getEntity<Record<string, unknown>>(STATE_PARTITION, STATE_ROW, { abortSignal: options.abortSignal });
      return { state: decodeDeltaState(entity), etag: entity.etag };
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#tables.storage, table.tableName, "reading the delta state", error);
    }
  }

  /**
   * Saves the delta state: creates it when `etag` is undefined, else replaces it only if it still
   * has that ETag. Another run saving in between means this one lost its lease: `lease_lost`.
   */
  async saveDeltaState(state: MirrorDeltaState, etag: string | undefined, options: MirrorWriteOptions = {}): Promise<string> {
    const table = this.#tables.table("users");
    // Each write carries its own id, so a retry that finds the write already applied knows it.
    const entity = { ...encodeDeltaState(state), writeId: randomUUID() };
    const signal = { abortSignal: options.abortSignal };
    options.lease?.assertHeld();
    this.#tables.stats.requests += 1;
    try {
      const response = etag === undefined ? await table.createEntity(entity, signal) : await table.updateEntity(entity, "Replace", { ...signal, etag });
      return response.etag ?? "";
    } catch (error) {
      if (isStatusCode(error, 409, 412)) {
        // The SDK retries a write whose first attempt was applied but not answered (a timeout): then the 409/412 is our own write.
        const own = await this.#etagIfWrittenBy(STATE_PARTITION, STATE_ROW, entity.writeId, options);
        if (own !== undefined) return own;
        const lost = createLeaseLostError("deltaStateSaved", { runId: state.runId });
        options.lease?.markLost(lost);
        throw lost;
      }
      throw storageError(this.#tables.storage, table.tableName, "saving the delta state", error);
    }
  }

  /**
   * Writes the run record: created the first time, then replaced only if it still has the ETag of
   * our last write (another run marking it failed wins), and only while `lease` is held.
   */
  async recordRun(run: MirrorRunRecord, options: MirrorWriteOptions = {}): Promise<void> {
    const table = this.#tables.table("users");
    const entity = { ...encodeMirrorRun(run), writeId: randomUUID() };
    const signal = { abortSignal: options.abortSignal };
    options.lease?.assertHeld();
    this.#tables.stats.requests += 1;
    try {
      const response = run.etag === undefined ? await table.createEntity(entity, signal) : await table.updateEntity(entity, "Replace", { ...signal, etag: run.etag });
      run.etag = response.etag;
    } catch (error) {
      if (isStatusCode(error, 409, 412)) {
        // A retried write whose first attempt was applied (a timeout) finds its own record: not a later run's mark.
        const own = await this.#etagIfWrittenBy(entity.partitionKey, entity.rowKey, entity.writeId, options);
        if (own !== undefined) {
          run.etag = own;
          return;
        }
        const lost = createLeaseLostError("runMarkedFailed", { runId: run.runId });
        options.lease?.markLost(lost);
        throw lost;
      }
      throw storageError(this.#tables.storage, table.tableName, `recording mirror run ${run.runId}`, error);
    }
  }

  /** The entity's ETag when its last write carried `writeId` (a write of ours that was applied), else undefined. */
  async #etagIfWrittenBy(partitionKey: string, rowKey: string, writeId: string, options: OperationOptions): Promise<string | undefined> {
    const table = this.#tables.table("users");
    this.#tables.stats.requests += 1;
    try {
      const entity = await table.getEntity<{ writeId?: unknown }>(partitionKey, rowKey, { abortSignal: options.abortSignal });
      return entity.writeId === writeId ? entity.etag : undefined;
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#tables.storage, table.tableName, `reading back ${partitionKey}/${rowKey}`, error);
    }
  }

  /** Mirror runs, newest first. */
  async *listRuns(options: ListMirrorRunsOptions = {}): AsyncIterableIterator<MirrorRunRecord> {
    const max = options.maxResults ?? Number.POSITIVE_INFINITY;
    if (max <= 0) return;
    let count = 0;
    const filter = options.status ? odata`PartitionKey eq ${RUNS_PARTITION} and status eq ${options.status}` : odata`PartitionKey eq ${RUNS_PARTITION}`;
    for await (const entity of this.#tables.query("users", filter, "listing mirror runs", options.abortSignal, { tableMayNotExist: true })) {
      yield decodeMirrorRun(entity);
      if (++count >= max) return;
    }
  }

  /** The run with this id, or undefined. */
  async getRun(runId: string, options: OperationOptions = {}): Promise<MirrorRunRecord | undefined> {
    const rowKey = runRowKey(runId);
    if (rowKey === undefined) return undefined;
    const table = this.#tables.table("users");
    this.#tables.stats.requests += 1;
    try {
      const entity = await table.getEntity<Record<string, unknown>>(RUNS_PARTITION, rowKey, { abortSignal: options.abortSignal });
      return entity.runId === runId ? decodeMirrorRun(entity) : undefined;
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#tables.storage, table.tableName, `reading mirror run ${runId}`, error);
    }
  }

  /** Users the runs since the last full round could not store (they may be missing from the mirror). */
  async skippedSinceFullRound(options: OperationOptions = {}): Promise<{ count: number; first: MirrorSkippedUser[] }> {
    const result = { count: 0, first: [] as MirrorSkippedUser[] };
    for await (const run of this.listRuns(options)) {
      if (run.status !== "succeeded") continue;
      result.count += run.counters.skippedUsers ?? 0;
      for (const user of run.skipped ?? []) if (result.first.length < 5) result.first.push(user);
      if (run.mode === "full") break;
    }
    return result;
  }
}
