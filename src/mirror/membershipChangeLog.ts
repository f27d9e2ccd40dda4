/**
 * The membership part of the groups' change log: for each mirror run of the groups, the members
 * that joined or left a group, one row per (group, member) per run, in the groups' change-log table
 * (`<prefix>GroupMirrorChanges`) beside the groups' own changes, in a partition of its own:
 * PartitionKey `<runId>-members`, RowKey `<groupId>_<memberId>`. Fenced like every write: the first
 * write of a lease to a run's partition takes it over.
 *
 * The users' manager changes (USER_SYNC_GROUPS) are kept in the same table, in a partition of the
 * users' mirror run: PartitionKey `<users' mirror runId>-managers`, RowKey the user's id, with
 * `from` / `to` (the manager's id before and after) and `change` (`set`, `cleared`, `changed`).
 */
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { OperationOptions } from "../shared/abort.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { LeaseFencedTable } from "../tables/leaseFencedTable.js";
import { FENCED_MAX_OPERATIONS, isFenceRow } from "../tables/partitionFence.js";
import { queryEntities, submitAll } from "../tables/tableStore.js";

/**
 * `joined` or `left`. `reason`, for a member that left: for a user member, `memberDeleted` (the
 * users' mirror says the user was deleted) or `removed` (taken out of the group), with Graph's own
 * `@removed.reason` in `graphReason` (src/sync/membershipChanges.ts); for a member of another kind,
 * Graph's `@removed.reason` (`deleted` both when it was taken out of the group and when it was
 * deleted from the directory: Graph does not tell them apart); `notSeen` when a full round did not
 * see the membership any more. Rows written before `graphReason` existed carry Graph's `deleted`.
 */
export interface MembershipChange {
  groupId: string;
  memberId: string;
  memberType: string;
  change: "joined" | "left";
  reason?: string;
  /** Graph's `@removed.reason` when `reason` is the product's (`memberDeleted`, `removed`). */
  graphReason?: string;
}

export interface MembershipChangeRecord extends MembershipChange {
  /** When the run saw the change. */
  at: Date;
}

/** A user's manager changed in a users' mirror round (`from`/`to` absent: none). */
export interface ManagerChangeRecord {
  userId: string;
  from?: string;
  to?: string;
  change: "set" | "cleared" | "changed";
  at: Date;
}

/** The PartitionKey of a users' mirror run's manager changes. */
export function managerChangesPartition(runId: string): string {
  return `${runId}-managers`;
}

export interface MembershipChangeLogOptions {
  /** The groups' change-log table. */
  table: TableClient;
  storage: TableStorageSettings;
  limit: LimitFunction;
}

/** The PartitionKey of a run's membership changes. */
export function membershipChangesPartition(runId: string): string {
  return `${runId}-members`;
}

export class MembershipChangeLog {
  readonly #table: TableClient;
  readonly #storage: TableStorageSettings;
  readonly #writer: LeaseFencedTable;

  constructor(options: MembershipChangeLogOptions) {
    this.#table = options.table;
    this.#storage = options.storage;
    this.#writer = new LeaseFencedTable(options);
  }

  /** Records membership changes of a run (a later change of the same membership in the run replaces the earlier). */
  async writeChanges(runId: string, changes: readonly MembershipChange[], at: Date, options: OperationOptions & { lease?: LosableLeaseGuard | undefined } = {}): Promise<void> {
    if (changes.length === 0) return;
    const partitionKey = membershipChangesPartition(runId);
    const byKey = new Map<string, Record<string, unknown> & { partitionKey: string; rowKey: string }>();
    for (const change of changes) {
      const rowKey = `${change.groupId}_${change.memberId}`;
      byKey.delete(rowKey);
      byKey.set(rowKey, { partitionKey, rowKey, ...change, at });
    }
    await this.#upsertRows(partitionKey, [...byKey.values()], `recording the membership changes of run ${runId}`, options);
  }

  /** Records the manager changes of a users' mirror run (one row per user: a later change replaces the earlier). */
  async writeManagerChanges(runId: string, changes: ReadonlyArray<Omit<ManagerChangeRecord, "at">>, at: Date, options: OperationOptions & { lease?: LosableLeaseGuard | undefined } = {}): Promise<void> {
    if (changes.length === 0) return;
    const partitionKey = managerChangesPartition(runId);
    const byKey = new Map<string, Record<string, unknown> & { partitionKey: string; rowKey: string }>();
    for (const change of changes) byKey.set(change.userId, { partitionKey, rowKey: change.userId, ...change, at });
    await this.#upsertRows(partitionKey, [...byKey.values()], `recording the manager changes of mirror run ${runId}`, options);
  }

  /** A users' mirror run's manager changes, by user id. */
  async *listManagerChanges(runId: string, options: OperationOptions = {}): AsyncIterableIterator<ManagerChangeRecord> {
    const filter = odata`PartitionKey eq ${managerChangesPartition(runId)}`;
    for await (const entity of queryEntities<Record<string, unknown>>(this.#table, this.#storage, `reading the manager changes of mirror run ${runId}`, { filter, abortSignal: options.abortSignal, tableMayNotExist: true })) {
      if (isFenceRow(entity)) continue;
      const change = entity.change === "cleared" || entity.change === "changed" ? entity.change : "set";
      yield {
        userId: String(entity.userId),
        ...(typeof entity.from === "string" ? { from: entity.from } : {}),
        ...(typeof entity.to === "string" ? { to: entity.to } : {}),
        change,
        at: new Date(entity.at as string),
      };
    }
  }

  async #upsertRows(partitionKey: string, rows: ReadonlyArray<Record<string, unknown> & { partitionKey: string; rowKey: string }>, operation: string, options: OperationOptions & { lease?: LosableLeaseGuard | undefined }): Promise<void> {
    const batches: TransactionAction[][] = [];
    for (let i = 0; i < rows.length; i += FENCED_MAX_OPERATIONS) batches.push(rows.slice(i, i + FENCED_MAX_OPERATIONS).map((row) => ["upsert", row, "Replace"]));
    await submitAll(
      batches.map((actions) => () => this.#writer.submit(partitionKey, actions, operation, options)),
      undefined,
      options.abortSignal,
    );
  }

  /** A run's membership changes, by group then member. */
  async *listChanges(runId: string, options: OperationOptions = {}): AsyncIterableIterator<MembershipChangeRecord> {
    const filter = odata`PartitionKey eq ${membershipChangesPartition(runId)}`;
    for await (const entity of queryEntities<Record<string, unknown>>(this.#table, this.#storage, `reading the membership changes of run ${runId}`, {
      filter,
      abortSignal: options.abortSignal,
      tableMayNotExist: true,
    })) {
      if (isFenceRow(entity)) continue;
      const record: MembershipChangeRecord = {
        groupId: String(entity.groupId),
        memberId: String(entity.memberId),
        memberType: String(entity.memberType),
        change: entity.change === "left" ? "left" : "joined",
        at: new Date(entity.at as string),
      };
      if (typeof entity.reason === "string") record.reason = entity.reason;
      if (typeof entity.graphReason === "string") record.graphReason = entity.graphReason;
      yield record;
    }
  }
}
