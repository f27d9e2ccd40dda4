/**
 * Retention: which snapshots to keep, and deleting the others. A snapshot's run record is marked
 * (`snapshotDeletedAt`) before its users are deleted and again when they are gone
 * (`snapshotPurgedAt`), so readers that started before fail rather than print part of it, and a
 * deletion cut short is finished by the next run. Run records stay as history.
 */
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import { entitiesOf, isFenceRow } from "../tables/partitionFence.js";
import { storageError } from "../tables/storageErrors.js";
import { queryPages, submitAll } from "../tables/tableStore.js";
import { encodeRun, type SyncRunRecord } from "./runRecords.js";
import type { RunsTable, WriteOptions } from "./runsTable.js";
import { assertSnapshotId } from "./snapshotErrors.js";

export interface DeleteExpiredSnapshotsOptions extends WriteOptions {
  /** Keep the newest this many complete snapshots (at least 1: the latest is always kept). */
  keepCount: number;
  /** Also keep complete snapshots younger than this. 0 keeps none by age. */
  keepWithinInMs: number;
  /**
   * Keep a complete snapshot until a newer one has been complete for this long, so that a reader
   * that started while it was the latest can finish. Default 0 (the product passes
   * SNAPSHOT_RETENTION_GRACE_MINUTES, 60 by default).
   */
  keepSupersededWithinInMs?: number;
  /** "Now", for tests. */
  now?: Date;
}

export interface DeleteExpiredSnapshotsResult {
  /** Snapshots whose users were deleted (old complete ones, and partial data of failed or abandoned runs). */
  deletedSnapshotIds: string[];
  deletedEntities: number;
}

export class SnapshotRetention {
  readonly #snapshots: TableClient;
  readonly #runs: RunsTable;
  readonly #storage: TableStorageSettings;
  readonly #limit: LimitFunction;

  constructor(options: { snapshots: TableClient; runs: RunsTable; storage: TableStorageSettings; limit: LimitFunction }) {
    this.#snapshots = options.snapshots;
    this.#runs = options.runs;
    this.#storage = options.storage;
    this.#limit = options.limit;
  }

  /**
   * Applies retention: keeps the newest `keepCount` complete snapshots, those younger than
   * `keepWithinInMs`, those superseded less than `keepSupersededWithinInMs` ago, and always the
   * latest; deletes the users of every other complete snapshot and the partial data of failed and
   * abandoned runs. Running and paused runs are never touched.
   */
  async deleteExpiredSnapshots(options: DeleteExpiredSnapshotsOptions): Promise<DeleteExpiredSnapshotsResult> {
    if (!Number.isInteger(options.keepCount) || options.keepCount < 1) {
      throw new UserSyncError("invalid_setting", `keepCount ${options.keepCount} is not valid: keep at least 1 snapshot.`);
    }
    const signal = { abortSignal: options.abortSignal };
    const now = (options.now ?? new Date()).getTime();
    const grace = options.keepSupersededWithinInMs ?? 0;
    const latest = await this.#runs.getLatestSnapshot(signal);
    const doomed: SyncRunRecord[] = [];
    let complete = 0;
    // When the newest complete snapshot newer than the one looked at completed (runs come newest first).
    let supersededAt: number | undefined;
    for await (const run of this.#runs.listRuns(signal)) {
      // Marked by a retention that stopped before it finished: finish it.
      if (run.snapshotDeletedAt && !run.snapshotPurgedAt) {
        doomed.push(run);
        continue;
      }
      if (run.status === "succeeded") {
        complete += 1;
        const endedAt = (run.endedAt ?? run.startedAt).getTime();
        const keep =
          complete <= options.keepCount ||
          now - endedAt < options.keepWithinInMs ||
          (supersededAt !== undefined && now - supersededAt < grace) ||
          run.snapshotId === latest?.snapshotId;
        supersededAt = Math.max(supersededAt ?? 0, endedAt);
        if (!keep && !run.snapshotDeletedAt) doomed.push(run);
      } else if ((run.status === "failed" || run.status === "abandoned") && !run.snapshotDeletedAt) {
        doomed.push(run);
      }
    }
    const result: DeleteExpiredSnapshotsResult = { deletedSnapshotIds: [], deletedEntities: 0 };
    for (const run of doomed) {
      // Mark first: a reader that started before sees the mark at its end and fails.
      let marked = run;
      if (!run.snapshotDeletedAt) {
        marked = { ...run, snapshotDeletedAt: new Date() };
        await this.#runs.write([["update", encodeRun(marked), "Replace", { etag: "*" }]], `recording that snapshot ${run.snapshotId} is being deleted`, options);
      }
      result.deletedEntities += await this.deleteSnapshot(run.snapshotId, options);
      const purged: SyncRunRecord = { ...marked, snapshotPurgedAt: new Date() };
      await this.#runs.write([["update", encodeRun(purged), "Replace", { etag: "*" }]], `recording that snapshot ${run.snapshotId} was deleted`, options);
      result.deletedSnapshotIds.push(run.snapshotId);
    }
    return result;
  }

  /**
   * Deletes one snapshot's users (and fence rows), partition by partition, in delete transactions
   * of at most 100 (one partition each). Returns how many users it deleted. Safe to repeat. Under
   * a lease, each transaction is sent only while the lease is held.
   */
  async deleteSnapshot(snapshotId: string, options: WriteOptions = {}): Promise<number> {
    assertSnapshotId(snapshotId);
    const abortSignal = options.abortSignal;
    const filter = odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}`;
    let deleted = 0;
    for await (const page of queryPages(this.#snapshots, this.#storage, `reading snapshot ${snapshotId} to delete it`, {
      filter,
      select: ["PartitionKey", "RowKey"],
      abortSignal,
      tableMayNotExist: true,
    })) {
      const byPartition = new Map<string, string[]>();
      for (const entity of page) {
        const pk = String(entity.partitionKey);
        let rows = byPartition.get(pk);
        if (!rows) byPartition.set(pk, (rows = []));
        rows.push(String(entity.rowKey));
      }
      const tasks: Array<() => Promise<void>> = [];
      for (const [pk, rows] of byPartition) {
        for (let i = 0; i < rows.length; i += 100) {
          const batch = rows.slice(i, i + 100);
          tasks.push(async () => {
            const actions: TransactionAction[] = batch.map((rowKey) => ["delete", { partitionKey: pk, rowKey }]);
            options.lease?.assertHeld();
            try {
              await this.#snapshots.submitTransaction(actions, { abortSignal });
            } catch (error) {
              throw storageError(this.#storage, this.#snapshots.tableName, `deleting ${batch.length} users of snapshot ${snapshotId} (partition ${pk})`, error, { batch: entitiesOf(actions) });
            }
            deleted += batch.filter((rowKey) => !isFenceRow({ rowKey })).length;
          });
        }
      }
      await submitAll(tasks, this.#limit, abortSignal);
    }
    return deleted;
  }
}
