/**
 * Reading snapshots: a complete snapshot's objects (of the reader's kind: users), and the
 * differences between two. Every read is
 * all or nothing: the snapshot is checked to be complete before the first user and again after the
 * last, so a snapshot that retention began deleting meanwhile fails the read (`read_incomplete`)
 * instead of ending a partial list in success.
 */
import { odata, type TableClient } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { GraphObject, ObjectKind } from "../kinds/objectKind.js";
import { assertSnapshotId, createSnapshotError } from "./snapshotErrors.js";
import { isFenceRow } from "../tables/partitionFence.js";
import { queryEntities } from "../tables/tableStore.js";
import type { SyncRunRecord } from "./runRecords.js";
import type { RunsTable } from "./runsTable.js";
import { diffSortedUsers, type SnapshotChange } from "./snapshotDiff.js";
import type { OperationOptions } from "../shared/abort.js";
import { byKey, mergeSorted } from "../shared/mergeSorted.js";

export interface ListSnapshotUsersOptions extends OperationOptions {
  /** Also list the users of a snapshot whose run is running or failed (partial). Default false. */
  includeIncomplete?: boolean;
}

export type DiffSnapshotsOptions = OperationOptions;

export class SnapshotReader {
  readonly #kind: ObjectKind;
  readonly #snapshots: TableClient;
  readonly #runs: RunsTable;
  readonly #storage: TableStorageSettings;

  /** `snapshots`: the kind's snapshot table. */
  constructor(kind: ObjectKind, snapshots: TableClient, runs: RunsTable, storage: TableStorageSettings) {
    this.#kind = kind;
    this.#snapshots = snapshots;
    this.#runs = runs;
    this.#storage = storage;
  }

  /**
   * The objects of a snapshot, decoded, one page of entities in memory at a time. Refuses a
   * snapshot whose run did not succeed unless `includeIncomplete` is set. Objects come in storage
   * order (partition, then object id), not Graph's order.
   */
  async *listSnapshotObjects(snapshotId: string, options: ListSnapshotUsersOptions = {}): AsyncIterableIterator<GraphObject> {
    const signal = { abortSignal: options.abortSignal };
    if (options.includeIncomplete) assertSnapshotId(snapshotId);
    else await this.getCompleteRun(snapshotId, signal);
    // One range over the snapshot's partitions: `<id>-00` … `<id>-ff` sort between `<id>-` and `<id>.`.
    const filter = odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}`;
    for await (const entity of queryEntities(this.#snapshots, this.#storage, `reading snapshot ${snapshotId}`, { filter, abortSignal: options.abortSignal })) {
      if (!isFenceRow(entity)) yield this.#kind.entity.decode(entity);
    }
    if (!options.includeIncomplete) await this.#assertStillWhole(snapshotId, signal);
  }

  /**
   * The objects of a complete snapshot in ascending id order (what a merge-join, such as diff
   * --groups, needs): its `partitionCount` partitions, each read in RowKey (id) order, merged; one
   * page of each partition in memory at a time. All or nothing, as listSnapshotObjects.
   */
  async *listSnapshotObjectsById(snapshotId: string, partitionCount: number, options: OperationOptions = {}): AsyncIterableIterator<GraphObject> {
    const signal = { abortSignal: options.abortSignal };
    await this.getCompleteRun(snapshotId, signal);
    const partitions = Array.from({ length: partitionCount }, (_, shard) => this.#partitionObjects(`${snapshotId}-${shard.toString(16).padStart(2, "0")}`, options.abortSignal));
    yield* mergeSorted(partitions, byKey((object) => String(object.id)));
    await this.#assertStillWhole(snapshotId, signal);
  }

  /**
   * What changed from snapshot `fromId` to `toId`: objects added, removed, and changed (with each
   * changed property's old and new value), in storage order. Memory stays bounded: both snapshots
   * are read one partition at a time, in RowKey order, and merge-joined. Both must be complete and
   * spread over the same number of partitions.
   */
  async *diffSnapshots(fromId: string, toId: string, options: DiffSnapshotsOptions = {}): AsyncIterableIterator<SnapshotChange> {
    const signal = { abortSignal: options.abortSignal };
    const from = await this.getCompleteRun(fromId, signal);
    const to = await this.getCompleteRun(toId, signal);
    if (from.partitionCount !== to.partitionCount) {
      throw createSnapshotError({ kind: "partitionCountsDiffer", fromId, toId, from: from.partitionCount, to: to.partitionCount });
    }
    for (let shard = 0; shard < from.partitionCount; shard++) {
      const suffix = shard.toString(16).padStart(2, "0");
      yield* diffSortedUsers(this.#partitionObjects(`${fromId}-${suffix}`, options.abortSignal), this.#partitionObjects(`${toId}-${suffix}`, options.abortSignal));
    }
    await this.#assertStillWhole(fromId, signal);
    await this.#assertStillWhole(toId, signal);
  }

  /** The run of a complete snapshot, or `snapshot_not_found` saying why it is not one (no such run, incomplete, deleted). */
  async getCompleteRun(snapshotId: string, options: OperationOptions = {}): Promise<SyncRunRecord> {
    assertSnapshotId(snapshotId);
    const run = await this.#runs.getRun(snapshotId, options);
    if (!run) throw createSnapshotError({ kind: "noSuchSnapshot", snapshotId });
    if (run.status !== "succeeded") throw createSnapshotError({ kind: "incomplete", snapshotId, status: run.status });
    if (run.snapshotDeletedAt) throw createSnapshotError({ kind: "deleted", snapshotId, deletedAt: run.snapshotDeletedAt });
    return run;
  }

  /** Fails with `read_incomplete` when retention began deleting the snapshot (or its record changed) after it was checked. */
  async #assertStillWhole(snapshotId: string, options: OperationOptions): Promise<void> {
    const run = await this.#runs.getRun(snapshotId, options);
    if (run?.status === "succeeded" && !run.snapshotDeletedAt) return;
    throw createSnapshotError({ kind: "changedWhileRead", snapshotId, deletedAt: run?.snapshotDeletedAt });
  }

  /** One partition's objects in RowKey order. */
  async *#partitionObjects(partitionKey: string, abortSignal: AbortSignal | undefined): AsyncIterableIterator<GraphObject> {
    const filter = odata`PartitionKey eq ${partitionKey}`;
    for await (const entity of queryEntities(this.#snapshots, this.#storage, `reading partition ${partitionKey}`, { filter, abortSignal })) {
      if (!isFenceRow(entity)) yield this.#kind.entity.decode(entity);
    }
  }
}

