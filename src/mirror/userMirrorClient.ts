/**
 * The live mirror in Azure Table Storage: the current users keyed by object id, the delta state
 * (saved deltaLink, the `$select` it is bound to, the current full round), each run's change set,
 * and a record of mirror runs. Layout and guarantees: docs/mirror.md.
 */
import type { TokenCredential } from "@azure/identity";
import { odata, type TableClient, type TableServiceClientOptions, type TransactionAction } from "@azure/data-tables";
import pLimit, { type LimitFunction } from "p-limit";
import type { SnapshotStorageSettings } from "../configuration/settings.js";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { FENCED_MAX_OPERATIONS, isFenceRow, PartitionFence } from "../tables/partitionFence.js";
import { createTableClient } from "../tables/tableClient.js";
import { redact } from "../shared/redact.js";
import { runRowKey, timeOfSnapshotId } from "../snapshots/snapshotIds.js";
import { storageError, storageErrorCode } from "../snapshots/storageErrors.js";
import { planTransactions, SERVICE_TRANSACTION_LIMITS } from "../snapshots/transactions.js";
import { decodeUserEntity, encodeUserEntity, type UserEntity } from "../snapshots/userEntity.js";
import {
  CHANGE_COLUMN,
  decodeMirrorEntity,
  MIRROR_PARTITION_COUNT,
  encodeMirrorEntity,
  mirrorPartitionKey,
  STATE_COLUMN,
  stateColumns,
  USER_PARTITION_HIGH,
  USER_PARTITION_LOW,
  type MirrorChangeKind,
  type MirrorRemovedReason,
  type MirrorUser,
} from "./mirrorEntity.js";
import type { MirrorChange, MirrorWrite } from "./planChanges.js";

export interface UserMirrorClientOptions {
  storage: SnapshotStorageSettings;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential;
  /** Tables are `<prefix>Mirror` and `<prefix>MirrorChanges`. Default "entraUser". */
  tablePrefix?: string;
  /** Entity group transactions in flight at once. Default 16. */
  writeConcurrency?: number;
  clientOptions?: TableServiceClientOptions;
}

export interface OperationOptionsBase {
  abortSignal?: AbortSignal;
}

/**
 * Options of a write. A round passes its `lease`: every write is then sent only while the lease is
 * held, and user and change-log writes are fenced per partition (beginRound takes the partitions
 * over). Without it writes are not fenced: only for tools that own the store alone (tests).
 */
export interface MirrorWriteOptions extends OperationOptionsBase {
  lease?: LosableLeaseGuard;
}

/** A user the mirror could not hold (over 1 MiB, over 255 properties, an id that is not a key). */
export interface MirrorSkippedUser {
  id: string;
  reason: string;
}

/** Skipped users listed in a mirror run record (`counters.skippedUsers` counts all). */
export const MAX_MIRROR_SKIPPED_RECORDED = 40;

/** The delta state: what the next run continues from. */
export interface MirrorDeltaState {
  /** The saved `@odata.deltaLink`; absent until a first round completes. */
  deltaLink?: string;
  /** The `$select` the token is bound to. */
  select: string[];
  /** The full round whose marks the mirror carries. */
  round: string;
  /** When the last full round completed. */
  fullRoundAt?: Date;
  savedAt: Date;
  /** The run that saved it. */
  runId: string;
}

/** Read with its ETag: saving it again fails if another run saved in between. */
export interface VersionedDeltaState {
  state: MirrorDeltaState;
  etag: string;
}

export type MirrorRunMode = "full" | "incremental";
/**
 * Why a run was full: the first round, a forced run (`run --full`), the full-round schedule, a
 * `$select` change, an expired token (400 syncStateNotFound), a token Graph can no longer serve
 * (410 Gone). Incremental runs say `deltaLink`.
 */
export type MirrorRunReason = "firstRound" | "forced" | "scheduled" | "selectChanged" | "tokenExpired" | "tokenGone" | "deltaLink";

export interface MirrorChangeCounts {
  added: number;
  updated: number;
  restored: number;
  removed: number;
  /** Entries that changed nothing (repeats, replays). */
  unchanged: number;
}

export interface MirrorRunRecord {
  runId: string;
  status: "running" | "succeeded" | "failed";
  mode: MirrorRunMode;
  reason: MirrorRunReason;
  /** What started the run, when known (absent in records written before it was recorded). */
  trigger?: "timer" | "cli";
  startedAt: Date;
  endedAt?: Date;
  select: string[];
  pages: number;
  itemsRead: number;
  /** Users written by a full round. */
  usersWritten: number;
  changes: MirrorChangeCounts;
  /** Users marked `missing` by the sweep of a full round. */
  swept: number;
  counters: Record<string, number>;
  /** The first users the mirror could not store (the count is `counters.skippedUsers`). */
  skipped?: MirrorSkippedUser[];
  error?: string;
  /** The record's ETag after our last write of it: later writes are conditional on it. */
  etag?: string;
}

export interface MirrorChangeRecord extends MirrorChange {
  /** When the run saw the change. */
  at: Date;
}

export interface ListMirrorUsersOptions extends OperationOptionsBase {
  /** Also list soft-deleted, deleted and missing users. Default false. */
  includeRemoved?: boolean;
}

export interface ListMirrorRunsOptions extends OperationOptionsBase {
  maxResults?: number;
  /** Only runs with this status. */
  status?: MirrorRunRecord["status"];
}

/** Table requests and entity operations, cumulative since the client was built. */
export interface MirrorTableStats {
  /** Requests sent to the table service: transactions, point reads, query pages, single writes. */
  requests: number;
  /** Entities written (each operation of a transaction counts). */
  entitiesWritten: number;
  /** Entity group transactions. */
  transactions: number;
  /** Entities read by queries. */
  entitiesRead: number;
}

export const DEFAULT_TABLE_PREFIX = "entraUser";
const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,50}$/;
const STATE_PARTITION = "state";
const STATE_ROW = "delta";
const RUNS_PARTITION = "runs";
const READ_PAGE_SIZE = 1000;
/** A Table filter holds at most 15 comparisons: the PartitionKey one and 14 RowKeys. */
const IDS_PER_QUERY = 14;
const MAX_ERROR_LENGTH = 2000;

const double = (value: number) => ({ value, type: "Double" as const });
const numberOf = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));
const isStatus = (error: unknown, ...codes: number[]) => codes.includes((error as { statusCode?: number } | null)?.statusCode ?? -1);

export class UserMirrorClient {
  readonly mirrorTableName: string;
  readonly changesTableName: string;
  readonly stats: MirrorTableStats = { requests: 0, entitiesWritten: 0, transactions: 0, entitiesRead: 0 };
  readonly #storage: SnapshotStorageSettings;
  readonly #mirror: TableClient;
  readonly #changes: TableClient;
  readonly #limit: LimitFunction;

  constructor(options: UserMirrorClientOptions) {
    const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
    if (!TABLE_PREFIX.test(prefix)) {
      throw new UserSyncError("invalid_setting", `The table prefix "${prefix}" is not valid: use 1 to 51 letters and digits, starting with a letter.`);
    }
    this.mirrorTableName = `${prefix}Mirror`;
    this.changesTableName = `${prefix}MirrorChanges`;
    this.#storage = options.storage;
    this.#limit = pLimit(options.writeConcurrency ?? 16);
    const common = { storage: options.storage, credential: options.credential, clientOptions: options.clientOptions, owner: "UserMirrorClient" };
    this.#mirror = createTableClient({ ...common, tableName: this.mirrorTableName });
    this.#changes = createTableClient({ ...common, tableName: this.changesTableName });
  }

  async #call<T>(table: TableClient, operation: string, action: () => Promise<T>): Promise<T> {
    this.stats.requests += 1;
    try {
      return await action();
    } catch (error) {
      throw storageError(this.#storage, table.tableName, operation, error);
    }
  }

  async createTablesIfNotExist(options: OperationOptionsBase = {}): Promise<void> {
    const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    await Promise.all([this.#mirror, this.#changes].map((t) => this.#call(t, `creating table ${t.tableName}`, () => t.createTable(signal))));
  }

  // -------------------------------------------------------------------------------------------
  // Delta state

  /** The saved delta state, or undefined before the first round (or before the tables exist). */
  async getDeltaState(options: OperationOptionsBase = {}): Promise<VersionedDeltaState | undefined> {
    this.stats.requests += 1;
    try {
      const entity = await this.#mirror.getEntity<Record<string, unknown>>(STATE_PARTITION, STATE_ROW, options.abortSignal ? { abortSignal: options.abortSignal } : {});
      const state: MirrorDeltaState = {
        select: String(entity.select ?? "").split(",").filter((s) => s !== ""),
        round: String(entity.round ?? ""),
        savedAt: new Date(entity.savedAt as string),
        runId: String(entity.runId ?? ""),
      };
      if (typeof entity.deltaLink === "string" && entity.deltaLink !== "") state.deltaLink = entity.deltaLink;
      if (entity.fullRoundAt) state.fullRoundAt = new Date(entity.fullRoundAt as string);
      return { state, etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw storageError(this.#storage, this.#mirror.tableName, "reading the delta state", error);
    }
  }

  /**
   * Saves the delta state: creates it when `etag` is undefined, else replaces it only if it still
   * has that ETag. Another run saving in between fails this one with `run_in_progress`.
   */
  async saveDeltaState(state: MirrorDeltaState, etag: string | undefined, options: MirrorWriteOptions = {}): Promise<string> {
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: STATE_PARTITION,
      rowKey: STATE_ROW,
      select: state.select.join(","),
      round: state.round,
      savedAt: state.savedAt,
      runId: state.runId,
      deltaLink: state.deltaLink ?? "",
    };
    if (state.fullRoundAt) entity.fullRoundAt = state.fullRoundAt;
    const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    options.lease?.assertHeld();
    this.stats.requests += 1;
    try {
      const response = etag === undefined ? await this.#mirror.createEntity(entity, signal) : await this.#mirror.updateEntity(entity, "Replace", { ...signal, etag });
      return response.etag ?? "";
    } catch (error) {
      if (isStatus(error, 409, 412)) {
        const lost = new UserSyncError(
          "lease_lost",
          `Another run saved the mirror's delta state while run ${state.runId} was running (this run's writer lease had expired and was taken over); this run's delta link was not saved and it wrote nothing more. The other run keeps the mirror up to date.`,
          { details: { runId: state.runId } },
        );
        options.lease?.markLost(lost);
        throw lost;
      }
      throw storageError(this.#storage, this.#mirror.tableName, "saving the delta state", error);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Users

  /** The mirror entities of these ids (those that exist), a few queries per partition. */
  async getUsers(ids: readonly string[], options: OperationOptionsBase = {}): Promise<Map<string, MirrorUser>> {
    const byPartition = new Map<string, string[]>();
    for (const id of new Set(ids)) {
      const partition = mirrorPartitionKey(id);
      const list = byPartition.get(partition) ?? [];
      list.push(id);
      byPartition.set(partition, list);
    }
    const queries: Array<{ partition: string; ids: string[] }> = [];
    for (const [partition, list] of byPartition) {
      for (let i = 0; i < list.length; i += IDS_PER_QUERY) queries.push({ partition, ids: list.slice(i, i + IDS_PER_QUERY) });
    }
    const found = new Map<string, MirrorUser>();
    await Promise.all(
      queries.map((query) =>
        this.#limit(async () => {
          const rows = query.ids.map((id) => odata`RowKey eq ${id}`).join(" or ");
          const filter = `${odata`PartitionKey eq ${query.partition}`} and (${rows})`;
          for await (const entity of this.#query(this.#mirror, filter, `reading ${query.ids.length} mirror users`, options.abortSignal)) {
            const mirrorUser = decodeMirrorEntity(entity);
            found.set(mirrorUser.user.id, mirrorUser);
          }
        }),
      ),
    );
    return found;
  }

  /**
   * Applies writes in entity group transactions (one partition, ≤ 100 operations, < 4 MiB each).
   * A user that cannot be stored at all is left out and returned in `skipped` with the reason; the
   * rest is written.
   */
  async applyWrites(writes: readonly MirrorWrite[], options: MirrorWriteOptions = {}): Promise<{ skipped: MirrorSkippedUser[] }> {
    const skipped: MirrorSkippedUser[] = [];
    const operations: Array<[UserEntity, "Replace" | "Merge"]> = [];
    for (const write of writes) {
      if (write.mode === "Merge") {
        operations.push([{ partitionKey: mirrorPartitionKey(write.id), rowKey: write.id, ...stateColumns(write.state) }, "Merge"]);
        continue;
      }
      try {
        operations.push([encodeMirrorEntity(write.mirrorUser), "Replace"]);
      } catch (error) {
        if (!isUserSyncError(error, "user_not_storable")) throw error;
        skipped.push({ id: String(write.mirrorUser.user.id), reason: error.message });
      }
    }
    await this.#submit(this.#mirror, operations, "writing mirror users", options, "users");
    return { skipped };
  }

  /**
   * Starts a round under `lease`: takes every user partition over (rewrites its fence row), so that
   * a write an earlier holder sends late fails, and marks mirror runs left `running` (their process
   * died or lost its lease) as failed, taking their change-log partitions over too. Returns the ids
   * of the runs it marked.
   */
  async beginRound(lease: LosableLeaseGuard, options: OperationOptionsBase = {}): Promise<string[]> {
    const fences = this.#fencesOf(lease);
    const partitions = Array.from({ length: MIRROR_PARTITION_COUNT }, (_, shard) => `${USER_PARTITION_LOW}${shard.toString(16).padStart(2, "0")}`);
    await fences.users.claim(partitions, options.abortSignal);
    const stale: MirrorRunRecord[] = [];
    for await (const run of this.listRuns({ ...options, status: "running" })) stale.push(run);
    for (const run of stale) {
      await fences.changes.claim([run.runId], options.abortSignal);
      run.status = "failed";
      run.endedAt = run.endedAt ?? new Date();
      run.error = "It stopped before it finished (its process died, or it lost the writer lease); the next round read its changes again.";
      await this.recordRun(run, { ...options, lease });
    }
    return stale.map((run) => run.runId);
  }

  /**
   * A token that changes whenever a round writes to the mirror: the ETags of the user partitions'
   * fence rows (every write moves its partition's) and of the delta state. A reader compares it
   * before and after, so it never presents a mix of two states as one.
   */
  async getVersion(options: OperationOptionsBase = {}): Promise<string> {
    const parts: string[] = [];
    const filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH} and RowKey eq ${""}`;
    for await (const entity of this.#query(this.#mirror, filter, "reading the mirror's version", options.abortSignal, { tableMayNotExist: true })) {
      parts.push(`${String(entity.partitionKey)}=${String(entity.etag)}`);
    }
    const state = await this.getDeltaState(options);
    parts.push(`state=${state?.etag ?? ""}`);
    return parts.join(";");
  }

  /** Users the runs since the last full round could not store (they are missing from the mirror). */
  async skippedSinceFullRound(options: OperationOptionsBase = {}): Promise<{ count: number; first: MirrorSkippedUser[] }> {
    const result = { count: 0, first: [] as MirrorSkippedUser[] };
    for await (const run of this.listRuns(options)) {
      if (run.status !== "succeeded") continue;
      result.count += run.counters.skippedUsers ?? 0;
      for (const user of run.skipped ?? []) if (result.first.length < 5) result.first.push(user);
      if (run.mode === "full") break;
    }
    return result;
  }

  /** Mirror users in storage order; present users only unless `includeRemoved`. */
  async *listUsers(options: ListMirrorUsersOptions = {}): AsyncIterableIterator<MirrorUser> {
    let filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH}`;
    if (!options.includeRemoved) filter += ` and ${STATE_COLUMN} eq 'present'`;
    for await (const entity of this.#query(this.#mirror, filter, "reading the mirror", options.abortSignal, { tableMayNotExist: true })) {
      if (!isFenceRow(entity)) yield decodeMirrorEntity(entity);
    }
  }

  /**
   * After a full round: marks every present user that does not carry the round's mark as `missing`,
   * one query page at a time (never a set of all ids in memory), and records each in the run's
   * change set. Returns how many were marked.
   */
  async sweep(round: string, runId: string, now: Date, options: MirrorWriteOptions = {}): Promise<number> {
    // odata`` quotes and escapes the values; `_state` and `_round` are STATE_COLUMN and ROUND_COLUMN.
    const filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH} and _state eq ${"present"} and _round ne ${round}`;
    let swept = 0;
    let batch: MirrorUser[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const state = { state: "missing" as const, removedAt: now, runId, change: "removed" as const };
      await this.applyWrites(
        batch.map((m) => ({ mode: "Merge", id: m.user.id, state: { ...state, round: m.round } })),
        options,
      );
      await this.writeChanges(
        runId,
        batch.map((m) => ({ id: m.user.id, change: "removed", reason: "notSeen", user: m.user })),
        now,
        options,
      );
      swept += batch.length;
      batch = [];
    };
    for await (const entity of this.#query(this.#mirror, filter, "sweeping the mirror", options.abortSignal)) {
      batch.push(decodeMirrorEntity(entity));
      if (batch.length >= READ_PAGE_SIZE) await flush();
    }
    await flush();
    return swept;
  }

  // -------------------------------------------------------------------------------------------
  // Change sets

  /**
   * Records changes of a run (one row per user per run: a later change of the same user replaces it).
   * A user too large for a row is recorded with its id only (the change is still on record).
   */
  async writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options: MirrorWriteOptions = {}): Promise<void> {
    const operations = changes.map((change): [UserEntity, "Replace"] => {
      let entity: UserEntity;
      try {
        entity = encodeUserEntity(change.user, runId);
      } catch (error) {
        if (!isUserSyncError(error, "user_not_storable")) throw error;
        entity = encodeUserEntity({ id: change.id }, runId);
      }
      entity[CHANGE_COLUMN] = change.change;
      if (change.reason !== undefined) entity._reason = change.reason;
      entity._at = at;
      return [entity, "Replace"];
    });
    await this.#submit(this.#changes, operations, `recording the change set of run ${runId}`, options, "changes");
  }

  /** The change set of a run, in object id order. */
  async *listChanges(runId: string, options: OperationOptionsBase = {}): AsyncIterableIterator<MirrorChangeRecord> {
    for await (const entity of this.#query(this.#changes, odata`PartitionKey eq ${runId}`, `reading the change set of run ${runId}`, options.abortSignal, { tableMayNotExist: true })) {
      if (isFenceRow(entity)) continue;
      const record: MirrorChangeRecord = {
        id: String(entity.rowKey),
        change: entity[CHANGE_COLUMN] as MirrorChangeKind,
        user: decodeUserEntity(entity),
        at: new Date(entity._at as string),
      };
      if (typeof entity._reason === "string") record.reason = entity._reason as MirrorRemovedReason;
      yield record;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Runs

  /**
   * Writes the run record: created the first time, then replaced only if it still has the ETag of
   * our last write (another run marking it failed wins), and only while `lease` is held.
   */
  async recordRun(run: MirrorRunRecord, options: MirrorWriteOptions = {}): Promise<void> {
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: RUNS_PARTITION,
      rowKey: runRowKey(run.runId)!,
      runId: run.runId,
      status: run.status,
      mode: run.mode,
      reason: run.reason,
      ...(run.trigger ? { trigger: run.trigger } : {}),
      startedAt: run.startedAt,
      select: run.select.join(","),
      pages: double(run.pages),
      itemsRead: double(run.itemsRead),
      usersWritten: double(run.usersWritten),
      added: double(run.changes.added),
      updated: double(run.changes.updated),
      restored: double(run.changes.restored),
      removed: double(run.changes.removed),
      unchanged: double(run.changes.unchanged),
      swept: double(run.swept),
      counters: JSON.stringify(run.counters),
    };
    if (run.skipped && run.skipped.length > 0) entity.skipped = JSON.stringify(run.skipped.slice(0, MAX_MIRROR_SKIPPED_RECORDED));
    if (run.endedAt) entity.endedAt = run.endedAt;
    if (run.error !== undefined) {
      const safe = redact(run.error);
      entity.error = safe.length <= MAX_ERROR_LENGTH ? safe : `${safe.slice(0, MAX_ERROR_LENGTH - 1)}…`;
    }
    const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
    options.lease?.assertHeld();
    this.stats.requests += 1;
    try {
      const response =
        run.etag === undefined ? await this.#mirror.createEntity(entity, signal) : await this.#mirror.updateEntity(entity, "Replace", { ...signal, etag: run.etag });
      run.etag = response.etag;
    } catch (error) {
      if (isStatus(error, 409, 412)) {
        const lost = new UserSyncError("lease_lost", `Mirror run ${run.runId} was marked failed by a later run (this run's writer lease had expired); it wrote nothing more.`, { details: { runId: run.runId } });
        options.lease?.markLost(lost);
        throw lost;
      }
      throw storageError(this.#storage, this.#mirror.tableName, `recording mirror run ${run.runId}`, error);
    }
  }

  /** Mirror runs, newest first. */
  async *listRuns(options: ListMirrorRunsOptions = {}): AsyncIterableIterator<MirrorRunRecord> {
    const max = options.maxResults ?? Number.POSITIVE_INFINITY;
    let count = 0;
    if (max <= 0) return;
    const filter = options.status ? odata`PartitionKey eq ${RUNS_PARTITION} and status eq ${options.status}` : odata`PartitionKey eq ${RUNS_PARTITION}`;
    for await (const e of this.#query(this.#mirror, filter, "listing mirror runs", options.abortSignal, { tableMayNotExist: true })) {
      let counters: Record<string, number>;
      try {
        counters = JSON.parse(String(e.counters ?? "{}")) as Record<string, number>;
      } catch {
        counters = {};
      }
      const record: MirrorRunRecord = {
        runId: String(e.runId),
        status: e.status as MirrorRunRecord["status"],
        mode: e.mode as MirrorRunMode,
        reason: e.reason as MirrorRunReason,
        startedAt: new Date(e.startedAt as string),
        select: String(e.select ?? "").split(",").filter((s) => s !== ""),
        pages: numberOf(e.pages),
        itemsRead: numberOf(e.itemsRead),
        usersWritten: numberOf(e.usersWritten),
        changes: { added: numberOf(e.added), updated: numberOf(e.updated), restored: numberOf(e.restored), removed: numberOf(e.removed), unchanged: numberOf(e.unchanged) },
        swept: numberOf(e.swept),
        counters,
      };
      if (e.trigger === "timer" || e.trigger === "cli") record.trigger = e.trigger;
      if (e.endedAt) record.endedAt = new Date(e.endedAt as string);
      if (typeof e.error === "string") record.error = e.error;
      if (typeof e.etag === "string") record.etag = e.etag;
      if (typeof e.skipped === "string") {
        try {
          const parsed = JSON.parse(e.skipped) as unknown;
          if (Array.isArray(parsed)) record.skipped = parsed as MirrorSkippedUser[];
        } catch {
          // An unreadable list is left out; the count is in counters.skippedUsers.
        }
      }
      yield record;
      if (++count >= max) return;
    }
  }

  /** The run with this id, or undefined. */
  async getRun(runId: string, options: OperationOptionsBase = {}): Promise<MirrorRunRecord | undefined> {
    if (timeOfSnapshotId(runId) === undefined) return undefined;
    for await (const run of this.listRuns(options)) if (run.runId === runId) return run;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------

  async *#query(
    table: TableClient,
    filter: string,
    operation: string,
    abortSignal: AbortSignal | undefined,
    options: { tableMayNotExist?: boolean } = {},
  ): AsyncIterableIterator<Record<string, unknown> & { partitionKey?: string; rowKey?: string }> {
    const pages = table
      .listEntities<Record<string, unknown>>({ queryOptions: { filter }, ...(abortSignal ? { abortSignal } : {}) })
      .byPage({ maxPageSize: READ_PAGE_SIZE });
    for (;;) {
      let next: IteratorResult<Array<Record<string, unknown>>>;
      this.stats.requests += 1;
      try {
        next = await pages.next();
      } catch (error) {
        if (options.tableMayNotExist && isStatus(error, 404) && storageErrorCode(error) === "TableNotFound") return;
        throw storageError(this.#storage, table.tableName, operation, error);
      }
      if (next.done) return;
      this.stats.entitiesRead += next.value.length;
      yield* next.value;
    }
  }

  async #submit(
    table: TableClient,
    operations: ReadonlyArray<[UserEntity, "Replace" | "Merge"]>,
    operation: string,
    options: MirrorWriteOptions,
    which: "users" | "changes",
  ): Promise<void> {
    const abortSignal = options.abortSignal;
    // Within one call an entity appears once (the last write wins), as a transaction requires.
    const byKey = new Map<string, [UserEntity, "Replace" | "Merge"]>();
    for (const op of operations) {
      const key = `${op[0].partitionKey}\u0000${op[0].rowKey}`;
      byKey.delete(key);
      byKey.set(key, op);
    }
    const fence = options.lease ? this.#fencesOf(options.lease)[which] : undefined;
    const limits = fence ? { maxOperations: FENCED_MAX_OPERATIONS, maxPayloadBytes: SERVICE_TRANSACTION_LIMITS.maxPayloadBytes - 4096 } : SERVICE_TRANSACTION_LIMITS;
    const modes = new Map<UserEntity, "Replace" | "Merge">([...byKey.values()].map(([entity, mode]) => [entity, mode]));
    const transactions = planTransactions(modes.keys(), limits);
    let failure: { error: unknown } | undefined;
    await Promise.all(
      transactions.map(async (entities) => {
        const actions: TransactionAction[] = entities.map((entity) => ["upsert", entity, modes.get(entity)!]);
        const description = `${operation} (${entities.length} entities)`;
        try {
          if (failure || abortSignal?.aborted) return;
          if (fence) {
            await fence.submit(entities[0]!.partitionKey, actions, description, abortSignal);
          } else {
            await this.#limit(async () => {
              if (failure || abortSignal?.aborted) return;
              await this.#call(table, description, () => table.submitTransaction(actions, abortSignal ? { abortSignal } : {}));
            });
          }
          this.stats.transactions += 1;
          this.stats.entitiesWritten += actions.length;
        } catch (error) {
          failure ??= { error };
        }
      }),
    );
    if (failure) throw failure.error;
    abortSignal?.throwIfAborted();
  }

  /** The fences of one lease holder: the user partitions, and the change-log partitions. */
  #fencesOf(lease: LosableLeaseGuard): { users: PartitionFence; changes: PartitionFence } {
    let fences = this.#fences.get(lease);
    if (!fences) {
      const make = (table: TableClient) =>
        new PartitionFence({
          table,
          guard: lease,
          limit: this.#limit,
          translate: (error, operation) => storageError(this.#storage, table.tableName, operation, error) as Error,
          onRequest: () => {
            this.stats.requests += 1;
          },
        });
      fences = { users: make(this.#mirror), changes: make(this.#changes) };
      this.#fences.set(lease, fences);
    }
    return fences;
  }
  readonly #fences = new WeakMap<LosableLeaseGuard, { users: PartitionFence; changes: PartitionFence }>();
}
