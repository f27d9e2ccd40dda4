/**
 * The mirror's users: reading the entities of a page's users, writing them (whole, or only their
 * state columns), listing them, the sweep of a full round, and the mirror's version (for readers).
 */
import { odata } from "@azure/data-tables";
import { isUserSyncError } from "../shared/errors.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { FENCE_ROW_KEY, isFenceRow } from "../tables/partitionFence.js";
import type { UserEntity } from "../tables/userEntity.js";
import {
  decodeMirrorEntity,
  encodeMirrorEntity,
  MIRROR_PARTITION_COUNT,
  mirrorPartitionKey,
  STATE_COLUMN,
  stateColumns,
  USER_PARTITION_HIGH,
  USER_PARTITION_LOW,
  type MirrorUser,
} from "./mirrorEntity.js";
import type { MirrorSkippedUser } from "./mirrorRecords.js";
import type { MirrorTables, MirrorWriteOptions } from "./mirrorTables.js";
import type { MirrorWrite } from "./planChanges.js";
import type { OperationOptions } from "../shared/abort.js";
import { byKey, mergeSorted } from "../shared/mergeSorted.js";

export interface ListMirrorUsersOptions extends OperationOptions {
  /** Also list soft-deleted, deleted and missing users. Default false. */
  includeRemoved?: boolean;
}

/** A Table filter holds at most 15 comparisons: the PartitionKey one and 14 RowKeys. */
const IDS_PER_QUERY = 14;
/** Users marked per sweep step. */
const SWEEP_BATCH = 1000;

export class MirrorUsers {
  readonly #tables: MirrorTables;

  constructor(tables: MirrorTables) {
    this.#tables = tables;
  }

  /** Every user partition's key (`u-00` … `u-0f`). */
  static partitions(): string[] {
    return Array.from({ length: MIRROR_PARTITION_COUNT }, (_, shard) => `${USER_PARTITION_LOW}${shard.toString(16).padStart(2, "0")}`);
  }

  /**
   * Takes every user partition over for `lease` (rewrites its fence row): at once when the lease was
   * taken over from a holder that did not release it (its late writes must fail from now on), else
   * at each partition's first write (a round that writes nothing, the idle tenant's, sends nothing).
   */
  async claim(lease: LosableLeaseGuard, options: OperationOptions = {}): Promise<void> {
    const fence = this.#tables.fencesOf(lease).users;
    if (lease.tookOverFrom === undefined) fence.claimOnFirstWrite(MirrorUsers.partitions());
    else await fence.claim(MirrorUsers.partitions(), options.abortSignal);
  }

  /** The mirror entities of these ids (those that exist), a few queries per partition. */
  async getUsers(ids: readonly string[], options: OperationOptions = {}): Promise<Map<string, MirrorUser>> {
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
        this.#tables.limit(async () => {
          const rows = query.ids.map((id) => odata`RowKey eq ${id}`).join(" or ");
          const filter = `${odata`PartitionKey eq ${query.partition}`} and (${rows})`;
          for await (const entity of this.#tables.query("users", filter, `reading ${query.ids.length} mirror users`, options.abortSignal)) {
            const mirrorUser = decodeMirrorEntity(entity, this.#tables.kind.entity);
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
        operations.push([encodeMirrorEntity(write.mirrorUser, this.#tables.kind.entity), "Replace"]);
      } catch (error) {
        if (!isUserSyncError(error, "user_not_storable")) throw error;
        skipped.push({ id: String(write.mirrorUser.user.id), reason: error.message });
      }
    }
    await this.#tables.submit("users", operations, "writing mirror users", options);
    return { skipped };
  }

  /** Mirror users in storage order; present users only unless `includeRemoved`. */
  async *listUsers(options: ListMirrorUsersOptions = {}): AsyncIterableIterator<MirrorUser> {
    let filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH}`;
    if (!options.includeRemoved) filter += ` and ${STATE_COLUMN} eq 'present'`;
    for await (const entity of this.#tables.query("users", filter, "reading the mirror", options.abortSignal, { tableMayNotExist: true })) {
      if (!isFenceRow(entity)) yield decodeMirrorEntity(entity, this.#tables.kind.entity);
    }
  }

  /** Present mirror users in ascending id order: each partition in RowKey (id) order, merged (one page of each in memory). */
  listUsersById(options: OperationOptions = {}): AsyncIterableIterator<MirrorUser> {
    const partitions = MirrorUsers.partitions().map((partition) => this.#listPartition(partition, options));
    return mergeSorted(partitions, byKey((user) => user.user.id));
  }

  async *#listPartition(partition: string, options: OperationOptions): AsyncIterableIterator<MirrorUser> {
    const filter = `${odata`PartitionKey eq ${partition}`} and ${STATE_COLUMN} eq 'present'`;
    for await (const entity of this.#tables.query("users", filter, "reading the mirror", options.abortSignal, { tableMayNotExist: true })) {
      if (!isFenceRow(entity)) yield decodeMirrorEntity(entity, this.#tables.kind.entity);
    }
  }

  /**
   * The ETags of the user partitions' fence rows: every write moves its partition's, so a reader
   * that reads them before and after knows whether a round wrote meanwhile.
   */
  async fenceVersion(options: OperationOptions = {}): Promise<string[]> {
    const parts: string[] = [];
    const filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH} and RowKey eq ${FENCE_ROW_KEY}`;
    for await (const entity of this.#tables.query("users", filter, "reading the mirror's version", options.abortSignal, { tableMayNotExist: true })) {
      parts.push(`${entity.partitionKey}=${entity.etag}`);
    }
    return parts;
  }

  /**
   * After a full round: yields, a step at a time, the present users that do not carry the round's
   * mark (never a set of all ids in memory). `mark` writes a step's users as missing.
   */
  async *notSeen(round: string, options: OperationOptions = {}): AsyncIterableIterator<MirrorUser[]> {
    // odata`` quotes and escapes the values; `_state` and `_round` are STATE_COLUMN and ROUND_COLUMN.
    const filter = odata`PartitionKey gt ${USER_PARTITION_LOW} and PartitionKey lt ${USER_PARTITION_HIGH} and _state eq ${"present"} and _round ne ${round}`;
    let batch: MirrorUser[] = [];
    for await (const entity of this.#tables.query("users", filter, "sweeping the mirror", options.abortSignal)) {
      batch.push(decodeMirrorEntity(entity, this.#tables.kind.entity));
      if (batch.length >= SWEEP_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
}
