/**
 * The mirror's own records in its table, all in the `runs` partition: the delta state (saved only
 * with an ETag check, so two runs cannot both advance it) and one record per mirror run (created,
 * then replaced only with the ETag of our last write, so a run marked failed by a later one cannot
 * overwrite that). A round ends with both in one entity group transaction (`finishRound`).
 */
import { randomUUID } from "node:crypto";
import { odata, type TransactionAction } from "@azure/data-tables";
import { failedOperationIndex } from "../tables/partitionFence.js";
import { runRowKey } from "../tables/keys.js";
import { storageError } from "../tables/storageErrors.js";
import { isStatusCode } from "../tables/tableStore.js";
import {
  decodeDeltaState,
  decodeMirrorRun,
  encodeDeltaState,
  encodeMirrorRun,
  LEGACY_STATE_PARTITION,
  RUNS_PARTITION,
  STATE_ROW,
  type MirrorDeltaState,
  type SavedDeltaStateVersion,
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
    return (await this.#readState(RUNS_PARTITION, options)) ?? (await this.#readState(LEGACY_STATE_PARTITION, options));
  }

  /**
   * What a round starts from, in one query of the runs partition: the delta state and the runs
   * left `running` (their process died, or they lost the lease). The state's row sorts after every
   * run, at the end of the range that query scans anyway. A state kept where versions before issue
   * 31 kept it costs one more read, until the next round moves it.
   */
  async readRoundStart(options: OperationOptions = {}): Promise<{ saved: VersionedDeltaState | undefined; running: MirrorRunRecord[] }> {
    const filter = odata`PartitionKey eq ${RUNS_PARTITION} and RowKey le ${STATE_ROW} and (RowKey eq ${STATE_ROW} or status eq ${"running"})`;
    const running: MirrorRunRecord[] = [];
    for await (const entity of this.#tables.query("users", filter, "reading the delta state and unfinished mirror runs", options.abortSignal, { tableMayNotExist: true })) {
      if (entity.rowKey === STATE_ROW) return { saved: { state: decodeDeltaState(entity), etag: entity.etag }, running };
      running.push(decodeMirrorRun(entity));
    }
    return { saved: await this.#readState(LEGACY_STATE_PARTITION, options), running };
  }

  async #readState(partitionKey: string, options: OperationOptions): Promise<VersionedDeltaState | undefined> {
    const table = this.#tables.table("users");
    this.#tables.stats.requests += 1;
    try {
      const entity = await table.getEntity<Record<string, unknown>>(partitionKey, STATE_ROW, { abortSignal: options.abortSignal });
      return { state: decodeDeltaState(entity), etag: entity.etag, ...(partitionKey === LEGACY_STATE_PARTITION ? { legacy: true as const } : {}) };
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#tables.storage, table.tableName, "reading the delta state", error);
    }
  }

  /**
   * Saves the delta state: creates it when there was none (or it was read from its old place),
   * else replaces it only if it still has the ETag it was read with. Another run saving in between
   * means this one lost its lease: `lease_lost`.
   */
  async saveDeltaState(state: MirrorDeltaState, previous: SavedDeltaStateVersion, options: MirrorWriteOptions = {}): Promise<string> {
    const table = this.#tables.table("users");
    // Each write carries its own id, so a retry that finds the write already applied knows it.
    const entity = { ...encodeDeltaState(state), writeId: randomUUID() };
    const signal = { abortSignal: options.abortSignal };
    options.lease?.assertHeld();
    this.#tables.stats.requests += 1;
    try {
      const response = creates(previous) ? await table.createEntity(entity, signal) : await table.updateEntity(entity, "Replace", { ...signal, etag: previous!.etag });
      await this.#dropLegacy(previous, options);
      return response.etag ?? "";
    } catch (error) {
      if (isStatusCode(error, 409, 412)) {
        // The SDK retries a write whose first attempt was applied but not answered (a timeout): then the 409/412 is our own write.
        const own = await this.#etagIfWrittenBy(RUNS_PARTITION, STATE_ROW, entity.writeId, options);
        if (own !== undefined) return own;
        throw this.#lost(createLeaseLostError("deltaStateSaved", { runId: state.runId }), options);
      }
      throw storageError(this.#tables.storage, table.tableName, "saving the delta state", error);
    }
  }

  /**
   * The round's end in one entity group transaction of the runs partition: the delta state saved
   * (as `saveDeltaState`) and the run's record replaced with the ETag of our last write of it (as
   * `recordRun`). All or nothing: a run marked failed by the run that took over saves no state,
   * and a crash leaves either both or neither. Returns the state's new ETag; sets `run.etag`.
   */
  async finishRound(state: MirrorDeltaState, previous: SavedDeltaStateVersion, run: MirrorRunRecord, options: MirrorWriteOptions = {}): Promise<string> {
    const table = this.#tables.table("users");
    const writeId = randomUUID();
    const stateEntity = { ...encodeDeltaState(state), writeId };
    const runEntity = { ...encodeMirrorRun(run), writeId };
    const actions: TransactionAction[] = [
      creates(previous) ? ["create", stateEntity] : ["update", stateEntity, "Replace", { etag: previous!.etag }],
      run.etag === undefined ? ["create", runEntity] : ["update", runEntity, "Replace", { etag: run.etag }],
    ];
    options.lease?.assertHeld();
    this.#tables.stats.requests += 1;
    let etags: [string | undefined, string | undefined];
    try {
      const response = await table.submitTransaction(actions, { abortSignal: options.abortSignal });
      etags = [response.subResponses[0]?.etag, response.subResponses[1]?.etag];
    } catch (error) {
      if (!isStatusCode(error, 409, 412)) throw storageError(this.#tables.storage, table.tableName, `recording mirror run ${run.runId} with its delta state`, error);
      // A retried transaction whose first attempt was applied (a timeout) finds its own rows: both, since a transaction is all or nothing.
      const own = await this.#etagIfWrittenBy(RUNS_PARTITION, STATE_ROW, writeId, options);
      if (own === undefined) throw this.#lost(createLeaseLostError(failedOperationIndex(error) === 0 ? "deltaStateSaved" : "runMarkedFailed", { runId: run.runId }), options);
      etags = [own, await this.#etagIfWrittenBy(RUNS_PARTITION, runEntity.rowKey, writeId, options)];
    }
    run.etag = etags[1] ?? (await this.#etagIfWrittenBy(RUNS_PARTITION, runEntity.rowKey, writeId, options));
    const stateEtag = etags[0] ?? (await this.#etagIfWrittenBy(RUNS_PARTITION, STATE_ROW, writeId, options)) ?? "";
    await this.#dropLegacy(previous, options);
    return stateEtag;
  }

  /** After the state moved from its old place: the old row goes (only as it was read; a failure leaves it, unread while the new one exists). */
  async #dropLegacy(previous: SavedDeltaStateVersion, options: OperationOptions): Promise<void> {
    if (!previous?.legacy) return;
    await this.#tables.call("users", "removing the delta state's old row", (table) => table.deleteEntity(LEGACY_STATE_PARTITION, STATE_ROW, { abortSignal: options.abortSignal, etag: previous.etag })).catch(() => undefined);
  }

  #lost(error: ReturnType<typeof createLeaseLostError>, options: MirrorWriteOptions): Error {
    options.lease?.markLost(error);
    return error;
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
        throw this.#lost(createLeaseLostError("runMarkedFailed", { runId: run.runId }), options);
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
    // Every run's row sorts before the delta state's.
    const runs = odata`PartitionKey eq ${RUNS_PARTITION} and RowKey lt ${STATE_ROW}`;
    const filter = options.status ? `${runs} and ${odata`status eq ${options.status}`}` : runs;
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

/** A save creates the state's row when there was none, or when it was read from its old place. */
function creates(previous: SavedDeltaStateVersion): boolean {
  return previous === undefined || previous.legacy === true;
}
