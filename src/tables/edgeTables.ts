/**
 * The edges of one relationship (a group's `members`), in two tables so that both directions are
 * one partition read (ObjectKind's Relationship):
 * - forward, `<prefix><tables.forward>`: PartitionKey `<scope>-<source id>`, RowKey the target's id
 *   ("members of G");
 * - reverse, `<prefix><tables.reverse>`: PartitionKey `<scope>-<target id>`, RowKey the source's id
 *   ("groups of U").
 * The scope is a snapshot id, or `mirror` for the live mirror (MIRROR_EDGE_SCOPE), so a snapshot's
 * or the mirror's edges are one PartitionKey range. Each row keeps the target's type (`targetType`:
 * `user`, `group`, `device`, …). An edge that left is kept as a row with `present: false` (written
 * like any other: an upsert, so replaying a page is harmless) until a full round's sweep deletes it;
 * readers skip it.
 *
 * Every write is fenced like the snapshots' and the mirror's (PartitionFence): the first write of a
 * lease to a partition takes it over (rewrites its fence row), later ones move it on in the same
 * transaction, so a late write of an earlier holder fails and changes nothing.
 */
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { LosableLeaseGuard } from "./leaseGuard.js";
import { LeaseFencedTable } from "./leaseFencedTable.js";
import { FENCED_MAX_OPERATIONS, isFenceRow } from "./partitionFence.js";
import { storageError } from "./storageErrors.js";
import { queryEntities, submitAll } from "./tableStore.js";
import type { OperationOptions } from "../shared/abort.js";

/** The scope of the live mirror's edges (a snapshot's scope is its id). */
export const MIRROR_EDGE_SCOPE = "mirror";

/** One edge change to write (the kinds' Edge, src/kinds/objectKind.ts, has this shape). */
export interface EdgeChange {
  sourceId: string;
  targetId: string;
  targetType: string;
  /** The link was removed (kept as a row with `present: false`). */
  removed?: boolean;
}

/** What the tables need of the relationship (the kinds' Relationship): its name, for messages. */
export interface EdgeRelationship {
  readonly name: string;
}

/** One stored edge, as the readers hand it out. */
export interface StoredEdge {
  sourceId: string;
  targetId: string;
  /** The target's type without `#microsoft.graph.`: `user`, `group`, `device`, `servicePrincipal`, `orgContact`. */
  targetType: string;
}

export interface EdgeWriteOptions extends OperationOptions {
  /** The writer lease: every transaction is fenced. Absent only in tests that own the tables. */
  lease?: LosableLeaseGuard | undefined;
  /** A full round's mark, kept on each row written (the sweep deletes the rows without it). */
  round?: string;
}

export type EdgeReadOptions = OperationOptions;

export interface EdgeTablesOptions {
  relationship: EdgeRelationship;
  forward: TableClient;
  reverse: TableClient;
  storage: TableStorageSettings;
  limit: LimitFunction;
}

type Direction = "forward" | "reverse";

interface EdgeRow {
  partitionKey: string;
  rowKey: string;
  targetType: string;
  present: boolean;
  round?: string;
}

export class EdgeTables {
  readonly relationship: EdgeRelationship;
  readonly #tables: Record<Direction, TableClient>;
  readonly #storage: TableStorageSettings;
  readonly #limit: LimitFunction;
  readonly #writers: Record<Direction, LeaseFencedTable>;

  constructor(options: EdgeTablesOptions) {
    this.relationship = options.relationship;
    this.#tables = { forward: options.forward, reverse: options.reverse };
    this.#storage = options.storage;
    this.#limit = options.limit;
    this.#writers = {
      forward: new LeaseFencedTable({ table: options.forward, storage: options.storage, limit: options.limit }),
      reverse: new LeaseFencedTable({ table: options.reverse, storage: options.storage, limit: options.limit }),
    };
  }

  get tableNames(): { forward: string; reverse: string } {
    return { forward: this.#tables.forward.tableName, reverse: this.#tables.reverse.tableName };
  }

  async createTablesIfNotExist(options: EdgeReadOptions = {}): Promise<void> {
    await Promise.all(
      (["forward", "reverse"] as const).map(async (direction) => {
        const table = this.#tables[direction];
        try {
          await table.createTable({ abortSignal: options.abortSignal });
        } catch (error) {
          throw storageError(this.#storage, table.tableName, `creating table ${table.tableName}`, error);
        }
      }),
    );
  }

  /**
   * Writes edge changes into a scope: an edge without `removed` is present, one with it is kept as
   * left (`present: false`). The last change of an edge in `edges` wins. Both directions are written.
   */
  async writeEdges(scope: string, edges: readonly EdgeChange[], options: EdgeWriteOptions = {}): Promise<{ written: number; transactions: number }> {
    const byKey = new Map<string, EdgeChange>();
    for (const edge of edges) {
      const key = `${edge.sourceId}/${edge.targetId}`;
      byKey.delete(key);
      byKey.set(key, edge);
    }
    const rows = (direction: Direction) =>
      [...byKey.values()].map((edge): EdgeRow => {
        const [from, to] = direction === "forward" ? [edge.sourceId, edge.targetId] : [edge.targetId, edge.sourceId];
        return { partitionKey: `${scope}-${from}`, rowKey: to, targetType: edge.targetType, present: edge.removed !== true, ...(options.round ? { round: options.round } : {}) };
      });
    const forward = await this.#upsert("forward", rows("forward"), options);
    const reverse = await this.#upsert("reverse", rows("reverse"), options);
    return { written: byKey.size, transactions: forward + reverse };
  }

  /** The present edges of `sourceId` in a scope ("members of G"): one partition read. */
  async *listTargets(scope: string, sourceId: string, options: EdgeReadOptions = {}): AsyncIterableIterator<StoredEdge> {
    for await (const row of this.#query("forward", odata`PartitionKey eq ${`${scope}-${sourceId}`}`, options)) {
      yield { sourceId, targetId: row.rowKey, targetType: row.targetType };
    }
  }

  /** The present edges pointing at `targetId` in a scope ("groups of U"): one partition read. */
  async *listSources(scope: string, targetId: string, options: EdgeReadOptions = {}): AsyncIterableIterator<StoredEdge> {
    for await (const row of this.#query("reverse", odata`PartitionKey eq ${`${scope}-${targetId}`}`, options)) {
      yield { sourceId: row.rowKey, targetId, targetType: row.targetType };
    }
  }

  /** Every present edge of a scope, by source then target (one page of rows in memory at a time). */
  async *listEdges(scope: string, options: EdgeReadOptions = {}): AsyncIterableIterator<StoredEdge> {
    const prefix = `${scope}-`;
    for await (const row of this.#query("forward", rangeOf(scope), options)) {
      yield { sourceId: row.partitionKey.slice(prefix.length), targetId: row.rowKey, targetType: row.targetType };
    }
  }

  /**
   * After a full round of a scope: deletes every row that does not carry `round` (edges the round
   * did not see, and edges kept as left), in both directions. Returns the forward edges it deleted
   * that were present (to be logged as left), a step at a time.
   */
  async sweep(scope: string, round: string, options: EdgeWriteOptions = {}): Promise<StoredEdge[]> {
    const prefix = `${scope}-`;
    const left: StoredEdge[] = [];
    for (const direction of ["forward", "reverse"] as const) {
      const stale: EdgeRow[] = [];
      for await (const row of this.#query(direction, rangeOf(scope), options, { includeLeft: true })) {
        if (row.round === round && row.present) continue;
        stale.push(row);
        if (direction === "forward" && row.present) left.push({ sourceId: row.partitionKey.slice(prefix.length), targetId: row.rowKey, targetType: row.targetType });
      }
      await this.#delete(direction, stale, options);
    }
    return left;
  }

  /** Deletes a scope's rows in both directions (retention of a snapshot). Returns how many rows. */
  async deleteScope(scope: string, options: EdgeWriteOptions = {}): Promise<number> {
    let deleted = 0;
    for (const direction of ["forward", "reverse"] as const) {
      const rows: EdgeRow[] = [];
      for await (const row of this.#query(direction, rangeOf(scope), options, { includeLeft: true, includeFences: true })) rows.push(row);
      await this.#delete(direction, rows, options);
      deleted += rows.length;
    }
    return deleted;
  }

  async *#query(direction: Direction, filter: string, options: EdgeReadOptions, include: { includeLeft?: boolean; includeFences?: boolean } = {}): AsyncIterableIterator<EdgeRow> {
    const table = this.#tables[direction];
    for await (const entity of queryEntities<Record<string, unknown>>(table, this.#storage, `reading ${this.relationship.name} edges from ${table.tableName}`, {
      filter,
      abortSignal: options.abortSignal,
      tableMayNotExist: true,
    })) {
      if (isFenceRow(entity) && !include.includeFences) continue;
      const row: EdgeRow = {
        partitionKey: String(entity.partitionKey),
        rowKey: String(entity.rowKey),
        targetType: typeof entity.targetType === "string" ? entity.targetType : "directoryObject",
        present: entity.present !== false,
        ...(typeof entity.round === "string" ? { round: entity.round } : {}),
      };
      if (!row.present && !include.includeLeft) continue;
      yield row;
    }
  }

  async #upsert(direction: Direction, rows: readonly EdgeRow[], options: EdgeWriteOptions): Promise<number> {
    return this.#submit(direction, rows, (row) => ["upsert", { ...row }, "Replace"], `writing ${this.relationship.name} edges`, options);
  }

  async #delete(direction: Direction, rows: readonly EdgeRow[], options: EdgeWriteOptions): Promise<number> {
    // A fence row is deleted with the partition's last transaction: never together with a fenced write.
    const data = rows.filter((row) => !isFenceRow(row));
    const count = await this.#submit(direction, data, (row) => ["delete", { partitionKey: row.partitionKey, rowKey: row.rowKey }], `deleting ${this.relationship.name} edges`, options);
    const fences = rows.filter((row) => isFenceRow(row));
    const table = this.#tables[direction];
    await submitAll(
      fences.map((row) => async () => {
        try {
          await table.deleteEntity(row.partitionKey, row.rowKey, { abortSignal: options.abortSignal });
        } catch (error) {
          if ((error as { statusCode?: number } | null)?.statusCode === 404) return;
          throw storageError(this.#storage, table.tableName, `deleting the fence row of partition ${row.partitionKey}`, error);
        }
      }),
      this.#limit,
      options.abortSignal,
    );
    return count;
  }

  /** Sends rows grouped by partition, at most FENCED_MAX_OPERATIONS a transaction, fenced under a lease. Returns the transactions sent. */
  async #submit(direction: Direction, rows: readonly EdgeRow[], action: (row: EdgeRow) => TransactionAction, what: string, options: EdgeWriteOptions): Promise<number> {
    const table = this.#tables[direction];
    const byPartition = new Map<string, EdgeRow[]>();
    for (const row of rows) {
      let list = byPartition.get(row.partitionKey);
      if (!list) byPartition.set(row.partitionKey, (list = []));
      list.push(row);
    }
    const batches: Array<[string, TransactionAction[]]> = [];
    for (const [partitionKey, list] of byPartition) {
      for (let at = 0; at < list.length; at += FENCED_MAX_OPERATIONS) batches.push([partitionKey, list.slice(at, at + FENCED_MAX_OPERATIONS).map(action)]);
    }
    const tasks = batches.map(([partitionKey, actions]) => () =>
      this.#writers[direction].submit(partitionKey, actions, `${what} (${actions.length} in partition ${partitionKey} of ${table.tableName})`, options),
    );
    await submitAll(tasks, undefined, options.abortSignal);
    return batches.length;
  }
}

/** The PartitionKey range of a scope's partitions: `<scope>-…`. */
function rangeOf(scope: string): string {
  return odata`PartitionKey gt ${`${scope}-`} and PartitionKey lt ${`${scope}.`}`;
}
