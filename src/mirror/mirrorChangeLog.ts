/**
 * The change log: each mirror run's change set, one row per object per run (PartitionKey the run
 * id), holding the object (a user) as it was after the change, in its kind's encoding.
 */
import { odata } from "@azure/data-tables";
import { isUserSyncError } from "../shared/errors.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { isFenceRow } from "../tables/partitionFence.js";
import type { UserEntity } from "../tables/userEntity.js";
import { CHANGE_COLUMN, type MirrorChangeKind, type MirrorRemovedReason } from "./mirrorEntity.js";
import type { MirrorChangeRecord } from "./mirrorRecords.js";
import type { MirrorTables, MirrorWriteOptions } from "./mirrorTables.js";
import type { MirrorChange } from "./planChanges.js";
import type { OperationOptions } from "../shared/abort.js";

export class MirrorChangeLog {
  readonly #tables: MirrorTables;

  constructor(tables: MirrorTables) {
    this.#tables = tables;
  }

  /** Takes the change-log partitions of these runs over for `lease` (their late writes fail). */
  async claim(runIds: readonly string[], lease: LosableLeaseGuard, options: OperationOptions = {}): Promise<void> {
    await this.#tables.fencesOf(lease).changes.claim(runIds, options.abortSignal);
  }

  /**
   * Records changes of a run (one row per user per run: a later change of the same user replaces it).
   * A user too large for a row is recorded with its id only (the change is still on record).
   */
  async writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options: MirrorWriteOptions = {}): Promise<void> {
    const { encode } = this.#tables.kind.entity;
    const operations = changes.map((change): [UserEntity, "Replace"] => {
      let entity: UserEntity;
      try {
        entity = encode(change.user, runId);
      } catch (error) {
        if (!isUserSyncError(error, "user_not_storable")) throw error;
        entity = encode({ id: change.id }, runId);
      }
      entity[CHANGE_COLUMN] = change.change;
      if (change.reason !== undefined) entity._reason = change.reason;
      entity._at = at;
      return [entity, "Replace"];
    });
    await this.#tables.submit("changes", operations, `recording the change set of run ${runId}`, options);
  }

  /** The change set of a run, in object id order. */
  async *listChanges(runId: string, options: OperationOptions = {}): AsyncIterableIterator<MirrorChangeRecord> {
    for await (const entity of this.#tables.query("changes", odata`PartitionKey eq ${runId}`, `reading the change set of run ${runId}`, options.abortSignal, { tableMayNotExist: true })) {
      if (isFenceRow(entity)) continue;
      const record: MirrorChangeRecord = {
        id: String(entity.rowKey),
        change: entity[CHANGE_COLUMN] as MirrorChangeKind,
        user: this.#tables.kind.entity.decode(entity),
        at: new Date(entity._at as string),
      };
      if (typeof entity._reason === "string") record.reason = entity._reason as MirrorRemovedReason;
      yield record;
    }
  }
}
