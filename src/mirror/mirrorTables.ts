/**
 * The mirror's two tables (users, delta state and runs in `<prefix>Mirror`; change sets in
 * `<prefix>MirrorChanges`) and what every part of the mirror does with them: counted requests,
 * queries, and transactions of Replace/Merge upserts, fenced per partition under a lease.
 */
import type { TableClient, TableEntityResult, TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { entitiesOf, FENCED_MAX_OPERATIONS, PartitionFence } from "../tables/partitionFence.js";
import { storageError } from "../tables/storageErrors.js";
import { queryEntities, submitAll } from "../tables/tableStore.js";
import { planTransactions, SERVICE_TRANSACTION_LIMITS } from "../tables/transactions.js";
import type { UserEntity } from "../tables/userEntity.js";
import type { OperationOptions } from "../shared/abort.js";

/**
 * Options of a write. A round passes its `lease`: every write is then sent only while the lease is
 * held, and user and change-log writes are fenced per partition (beginRound takes the partitions
 * over). Without it writes are not fenced: only for tools that own the store alone (tests).
 */
export interface MirrorWriteOptions extends OperationOptions {
  lease?: LosableLeaseGuard;
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

export type MirrorTableName = "users" | "changes";

export class MirrorTables {
  readonly stats: MirrorTableStats = { requests: 0, entitiesWritten: 0, transactions: 0, entitiesRead: 0 };
  /** The kind of object the mirror holds: its entity encoding. */
  readonly kind: ObjectKind;
  readonly storage: TableStorageSettings;
  readonly limit: LimitFunction;
  readonly #tables: Record<MirrorTableName, TableClient>;
  readonly #fences = new WeakMap<LosableLeaseGuard, Record<MirrorTableName, PartitionFence>>();

  constructor(options: { kind: ObjectKind; users: TableClient; changes: TableClient; storage: TableStorageSettings; limit: LimitFunction }) {
    this.kind = options.kind;
    this.#tables = { users: options.users, changes: options.changes };
    this.storage = options.storage;
    this.limit = options.limit;
  }

  table(name: MirrorTableName): TableClient {
    return this.#tables[name];
  }

  /** One counted request; failures become the product's storage errors, naming `operation`. */
  async call<T>(name: MirrorTableName, operation: string, action: (table: TableClient) => Promise<T>): Promise<T> {
    const table = this.#tables[name];
    this.stats.requests += 1;
    try {
      return await action(table);
    } catch (error) {
      throw storageError(this.storage, table.tableName, operation, error);
    }
  }

  /** A query's entities, one page at a time, counted. */
  query(name: MirrorTableName, filter: string, operation: string, abortSignal: AbortSignal | undefined, options: { tableMayNotExist?: boolean } = {}): AsyncIterableIterator<TableEntityResult<Record<string, unknown>>> {
    this.stats.requests += 1;
    return queryEntities(this.#tables[name], this.storage, operation, {
      filter,
      abortSignal,
      ...(options.tableMayNotExist ? { tableMayNotExist: true } : {}),
      onPage: (entities) => {
        this.stats.requests += 1;
        this.stats.entitiesRead += entities;
      },
    });
  }

  /**
   * Writes upserts (Replace or Merge) in single-partition transactions of at most 100 operations and
   * under 4 MiB, with bounded concurrency; under a lease, fenced per partition. An entity given twice
   * is written once (the last write wins), as a transaction requires.
   */
  async submit(name: MirrorTableName, operations: ReadonlyArray<[UserEntity, "Replace" | "Merge"]>, operation: string, options: MirrorWriteOptions): Promise<void> {
    const table = this.#tables[name];
    const abortSignal = options.abortSignal;
    const byKey = new Map<string, [UserEntity, "Replace" | "Merge"]>();
    for (const op of operations) {
      const key = `${op[0].partitionKey}\u0000${op[0].rowKey}`;
      byKey.delete(key);
      byKey.set(key, op);
    }
    const fence = options.lease ? this.fencesOf(options.lease)[name] : undefined;
    const limits = fence ? { maxOperations: FENCED_MAX_OPERATIONS, maxPayloadBytes: SERVICE_TRANSACTION_LIMITS.maxPayloadBytes - 4096 } : SERVICE_TRANSACTION_LIMITS;
    const modes = new Map<UserEntity, "Replace" | "Merge">([...byKey.values()].map(([entity, mode]) => [entity, mode]));
    const tasks = planTransactions(modes.keys(), limits).map((entities) => async () => {
      const actions: TransactionAction[] = entities.map((entity) => ["upsert", entity, modes.get(entity)!]);
      const description = `${operation} (${entities.length} entities)`;
      if (fence) {
        await fence.submit(entities[0]!.partitionKey, actions, description, abortSignal);
      } else {
        this.stats.requests += 1;
        try {
          await table.submitTransaction(actions, { abortSignal });
        } catch (error) {
          throw storageError(this.storage, table.tableName, description, error, { batch: entitiesOf(actions) });
        }
      }
      this.stats.transactions += 1;
      this.stats.entitiesWritten += actions.length;
    });
    // Fenced transactions take their slot in the fence (one partition's are sent one after another).
    await submitAll(tasks, fence ? undefined : this.limit, abortSignal);
  }

  /** The fences of one lease holder: the user partitions, and the change-log partitions. */
  fencesOf(lease: LosableLeaseGuard): Record<MirrorTableName, PartitionFence> {
    let fences = this.#fences.get(lease);
    if (!fences) {
      const make = (table: TableClient) =>
        new PartitionFence({
          table,
          guard: lease,
          limit: this.limit,
          translate: (error, operation, batch) => storageError(this.storage, table.tableName, operation, error, { ...(batch ? { batch } : {}) }) as Error,
          onRequest: () => {
            this.stats.requests += 1;
          },
        });
      fences = { users: make(this.#tables.users), changes: make(this.#tables.changes) };
      this.#fences.set(lease, fences);
    }
    return fences;
  }
}
