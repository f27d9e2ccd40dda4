/**
 * Storage-side fencing of one table's partitions: each partition holds a fence row (RowKey "", which
 * no user can have: an empty object id is never stored), and every transaction a run sends to the
 * partition carries an If-Match update of that row. A run that takes partitions over first rewrites
 * their fence rows unconditionally (a claim), so a write that an earlier holder sends late (it was
 * frozen between its lease check and the wire) fails with 412 and changes nothing. Transactions of
 * one partition are sent one after another, each with the ETag the previous one returned.
 * The argument is in docs/storage.md ("Fencing").
 */
import { randomUUID } from "node:crypto";
import { isRestError } from "@azure/core-rest-pipeline";
import type { TableClient, TableTransactionResponse, TransactionAction } from "@azure/data-tables";
import type { UserSyncError } from "../shared/errors.js";
import type { LosableLeaseGuard } from "./leaseGuard.js";
import { createLeaseLostError } from "./leaseErrors.js";

/** RowKey of a partition's fence row: sorts before every user, and is never a user's id. */
export const FENCE_ROW_KEY = "";

/** True for a fence row, which readers skip. */
export function isFenceRow(entity: { rowKey?: unknown }): boolean {
  return entity.rowKey === FENCE_ROW_KEY;
}

/** Operations per transaction left for data when the fence row takes one. */
export const FENCED_MAX_OPERATIONS = 99;

export interface PartitionFenceOptions {
  table: TableClient;
  guard: LosableLeaseGuard;
  /** Bounds the requests in flight (shared with the store's other writes). */
  limit: <T>(task: () => Promise<T>) => Promise<T>;
  /** Turns a storage failure into the product's error (named operation, endpoint, fix; `batch`: the transaction's entities, in order). */
  translate: (error: unknown, operation: string, batch?: ReadonlyArray<{ partitionKey?: string; rowKey?: string }>) => Error;
  /** Counts a request sent (for the store's statistics). */
  onRequest?: () => void;
}

interface PartitionState {
  etag: string | undefined;
  /** Claimed at its first write, not before (claimOnFirstWrite). */
  claimAtFirstWrite: boolean;
  tail: Promise<unknown>;
  /** Steps queued and not yet settled: at 0 the state folds back into its ETag. */
  pending: number;
}

const SETTLED: Promise<unknown> = Promise.resolve();

/** The index of the operation a failed transaction names ("1:The update condition…"). */
export function failedOperationIndex(error: unknown): number | undefined {
  const message = isRestError(error) ? error.message : (error as { message?: unknown } | null)?.message;
  const match = typeof message === "string" ? /^(\d+):/.exec(message.trim()) : null;
  return match ? Number(match[1]) : undefined;
}

/** The entities of a transaction's actions, in order (for naming the one the service refused). */
export function entitiesOf(actions: readonly TransactionAction[]): Array<{ partitionKey?: string; rowKey?: string }> {
  return actions.map((action) => action[1] as { partitionKey?: string; rowKey?: string });
}

export class PartitionFence {
  readonly #options: PartitionFenceOptions;
  /** A partition this fence wrote and left idle is its ETag alone; one with work queued (or a claim awaited) is a PartitionState. */
  readonly #partitions = new Map<string, string | PartitionState>();

  constructor(options: PartitionFenceOptions) {
    this.#options = options;
  }

  /** Takes these partitions over: any earlier holder's next write to them fails. */
  async claim(partitionKeys: Iterable<string>, abortSignal?: AbortSignal): Promise<void> {
    await Promise.all([...new Set(partitionKeys)].map((partitionKey) => this.#enqueue(partitionKey, (state) => this.#claimRow(partitionKey, state, abortSignal))));
  }

  /**
   * Takes these partitions over at their first write (just before it, in its slot), not now: a run
   * that writes none of them sends nothing for them. Only where no earlier holder can have a write
   * on the wire: under a lease created after its last holder released it (an earlier holder that
   * lost its lease was followed by one that took it over and claimed every partition).
   */
  claimOnFirstWrite(partitionKeys: Iterable<string>): void {
    for (const partitionKey of new Set(partitionKeys)) {
      // A partition with a known ETag was claimed (or created) by this fence already.
      if (typeof this.#partitions.get(partitionKey) === "string") continue;
      const state = this.#stateOf(partitionKey);
      if (state.etag === undefined) state.claimAtFirstWrite = true;
    }
  }

  /** How many partitions this fence keeps anything for, and how many of them are more than an ETag (for tests and benchmarks). */
  get stats(): { partitions: number; active: number } {
    let active = 0;
    for (const entry of this.#partitions.values()) if (typeof entry !== "string") active += 1;
    return { partitions: this.#partitions.size, active };
  }

  /** Rewrites the partition's fence row unconditionally (a claim) and keeps its ETag. */
  async #claimRow(partitionKey: string, state: PartitionState, abortSignal: AbortSignal | undefined): Promise<void> {
    const { table, guard } = this.#options;
    guard.assertHeld();
    this.#options.onRequest?.();
    try {
      const response = await table.upsertEntity(this.#row(partitionKey), "Replace", { abortSignal });
      state.etag = response.etag ?? (await this.#readEtag(partitionKey, abortSignal));
      state.claimAtFirstWrite = false;
    } catch (error) {
      throw this.#options.translate(error, `taking partition ${partitionKey} of ${table.tableName} over`);
    }
  }

  /**
   * Sends one transaction of `partitionKey`'s entities with the fence row checked and moved on.
   * The first transaction of a partition nobody claimed creates the row (a brand-new partition).
   */
  submit(partitionKey: string, actions: readonly TransactionAction[], operation: string, abortSignal?: AbortSignal): Promise<void> {
    return this.#enqueue(partitionKey, (state) =>
      this.#options.limit(async () => {
        const { table, guard } = this.#options;
        if (state.claimAtFirstWrite) await this.#claimRow(partitionKey, state, abortSignal);
        guard.assertHeld();
        // Each transaction writes its own id into the fence row: if the SDK retries a transaction whose
        // first attempt was applied but not answered (a timeout), the retry's conflict is ours, not a takeover.
        const writeId = randomUUID();
        const row = this.#row(partitionKey, writeId);
        const fence: TransactionAction = state.etag === undefined ? ["create", row] : ["update", row, "Replace", { etag: state.etag }];
        const all = [...actions, fence];
        this.#options.onRequest?.();
        let response: TableTransactionResponse;
        try {
          response = await table.submitTransaction(all, { abortSignal });
        } catch (error) {
          const status = (error as { statusCode?: number } | null)?.statusCode;
          const index = failedOperationIndex(error);
          if (status === 409 || status === 412) {
            const current = await this.#readRow(partitionKey, abortSignal);
            // An earlier attempt of this very transaction was applied (a transaction is all or nothing),
            // whichever operation the retry failed on (a data row's create fails before the fence's update).
            if (current !== undefined && current.writeId === writeId) {
              state.etag = current.etag;
              return;
            }
            if (index === all.length - 1 || index === undefined) throw this.#lost(partitionKey);
          }
          throw this.#options.translate(error, operation, entitiesOf(all));
        }
        state.etag = response.subResponses[all.length - 1]?.etag ?? (await this.#readEtag(partitionKey, abortSignal));
      }),
    );
  }

  #enqueue<T>(partitionKey: string, step: (state: PartitionState) => Promise<T>): Promise<T> {
    const state = this.#stateOf(partitionKey);
    state.pending += 1;
    const result = state.tail.then(() => step(state));
    const settle = () => this.#settle(partitionKey, state);
    state.tail = result.then(settle, settle);
    return result;
  }

  /** The partition's working state, made from its ETag (or from nothing) when it has none. */
  #stateOf(partitionKey: string): PartitionState {
    const entry = this.#partitions.get(partitionKey);
    if (typeof entry === "object") return entry;
    const state: PartitionState = { etag: entry, claimAtFirstWrite: false, tail: SETTLED, pending: 0 };
    this.#partitions.set(partitionKey, state);
    return state;
  }

  /** After a step: a partition left with nothing queued and no claim awaited keeps its ETag only (or nothing, if it has none yet). */
  #settle(partitionKey: string, state: PartitionState): void {
    state.pending -= 1;
    if (state.pending > 0 || state.claimAtFirstWrite || this.#partitions.get(partitionKey) !== state) return;
    if (state.etag === undefined) this.#partitions.delete(partitionKey);
    else this.#partitions.set(partitionKey, state.etag);
  }

  /** The fence row's ETag when the service did not return it, after checking the row is still ours. */
  async #readEtag(partitionKey: string, abortSignal: AbortSignal | undefined): Promise<string> {
    const row = await this.#readRow(partitionKey, abortSignal);
    if (row?.owner !== this.#options.guard.owner) throw this.#lost(partitionKey);
    return row.etag;
  }

  async #readRow(partitionKey: string, abortSignal: AbortSignal | undefined): Promise<{ owner?: string; writeId?: string; etag: string } | undefined> {
    const { table } = this.#options;
    this.#options.onRequest?.();
    try {
      return await table.getEntity<{ owner?: string; writeId?: string }>(partitionKey, FENCE_ROW_KEY, { abortSignal });
    } catch (error) {
      if ((error as { statusCode?: number } | null)?.statusCode === 404) return undefined;
      throw this.#options.translate(error, `reading the fence row of partition ${partitionKey} of ${table.tableName}`);
    }
  }

  #row(partitionKey: string, writeId: string = randomUUID()) {
    return { partitionKey, rowKey: FENCE_ROW_KEY, kind: "fence", owner: this.#options.guard.owner, writeId, at: new Date() };
  }

  #lost(partitionKey: string): UserSyncError {
    const error = createLeaseLostError("partitionTakenOver", { partitionKey, table: this.#options.table.tableName });
    this.#options.guard.markLost(error);
    return error;
  }
}
