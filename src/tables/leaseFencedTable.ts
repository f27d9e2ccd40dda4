/**
 * One table's transactions under the writer lease (the groups' edge tables, the membership change
 * log): per lease, a PartitionFence whose partitions are each claimed once, in the slot of the
 * lease's first transaction there (so a late write of an earlier holder fails and changes nothing); without
 * a lease (tests that own the tables), plain transactions through the store's limit.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { OperationOptions } from "../shared/abort.js";
import type { LosableLeaseGuard } from "./leaseGuard.js";
import { PartitionFence } from "./partitionFence.js";
import { storageError } from "./storageErrors.js";

export interface LeaseFencedTableOptions {
  table: TableClient;
  storage: TableStorageSettings;
  /** Bounds the requests in flight (shared with the store's other writes). */
  limit: LimitFunction;
}

export interface FencedSubmitOptions extends OperationOptions {
  /** The writer lease: the transaction is fenced. Absent only in tests that own the tables. */
  lease?: LosableLeaseGuard | undefined;
}

export class LeaseFencedTable {
  readonly #table: TableClient;
  readonly #storage: TableStorageSettings;
  readonly #limit: LimitFunction;
  readonly #fences = new WeakMap<LosableLeaseGuard, PartitionFence>();

  constructor(options: LeaseFencedTableOptions) {
    this.#table = options.table;
    this.#storage = options.storage;
    this.#limit = options.limit;
  }

  /** Sends one transaction of `partitionKey` (`operation` names it in errors), fenced under `options.lease`. */
  async submit(partitionKey: string, actions: TransactionAction[], operation: string, options: FencedSubmitOptions = {}): Promise<void> {
    if (options.lease) {
      const fence = this.#fenceOf(options.lease);
      // Nothing for a partition this lease wrote already (the fence knows its ETag).
      fence.claimOnFirstWrite([partitionKey]);
      await fence.submit(partitionKey, actions, operation, options.abortSignal);
      return;
    }
    await this.#limit(async () => {
      try {
        await this.#table.submitTransaction(actions, { abortSignal: options.abortSignal });
      } catch (error) {
        throw storageError(this.#storage, this.#table.tableName, operation, error);
      }
    });
  }

  #fenceOf(lease: LosableLeaseGuard): PartitionFence {
    let fence = this.#fences.get(lease);
    if (!fence) {
      const table = this.#table;
      fence = new PartitionFence({
        table,
        guard: lease,
        limit: this.#limit,
        translate: (error, operation, batch) => storageError(this.#storage, table.tableName, operation, error, { ...(batch ? { batch } : {}) }) as Error,
      });
      this.#fences.set(lease, fence);
    }
    return fence;
  }
}
