/**
 * The live mirror in Azure Table Storage: the current objects of one kind (users unless `kind` says
 * otherwise: src/kinds/) keyed by object id, the delta state
 * (saved deltaLink, the `$select` it is bound to, the current full round), each run's change set,
 * and a record of mirror runs. One client for the two tables, in the style of the Azure SDK; each
 * job lives in its own module: users (mirrorUsers.ts), the change log (mirrorChangeLog.ts), the
 * delta state and runs (mirrorRuns.ts, mirrorRecords.ts), and the tables themselves
 * (mirrorTables.ts). Layout and guarantees: docs/mirror.md.
 */
import type { TokenCredential } from "@azure/identity";
import type { TableServiceClientOptions } from "@azure/data-tables";
import pLimit from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import { kindTableNames } from "../kinds/tableNames.js";
import { USERS } from "../kinds/users.js";
import type { LosableLeaseGuard } from "../tables/leaseGuard.js";
import { checkedTablePrefix } from "../kinds/tablePrefix.js";
import { createTableClient } from "../tables/tableClient.js";
import type { MirrorUser } from "./mirrorEntity.js";
import { MirrorChangeLog } from "./mirrorChangeLog.js";
import type { MirrorChangeRecord, MirrorDeltaState, MirrorRunRecord, MirrorSkippedUser, SavedDeltaStateVersion, VersionedDeltaState } from "./mirrorRecords.js";
import { MirrorRuns, type ListMirrorRunsOptions } from "./mirrorRuns.js";
import { MirrorTables, type MirrorTableStats, type MirrorWriteOptions } from "./mirrorTables.js";
import { MirrorUsers, type ListMirrorUsersOptions } from "./mirrorUsers.js";
import type { MirrorChange, MirrorWrite } from "./planChanges.js";
import type { OperationOptions } from "../shared/abort.js";
import { DEFAULT_WRITE_CONCURRENCY } from "../configuration/defaults.js";

export * from "./mirrorRecords.js";
export type { ListMirrorRunsOptions } from "./mirrorRuns.js";
export type { MirrorTableStats, MirrorWriteOptions } from "./mirrorTables.js";
export type { ListMirrorUsersOptions } from "./mirrorUsers.js";

export interface UserMirrorClientOptions {
  storage: TableStorageSettings;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential;
  /** Tables are the kind's mirror and change log (`<prefix>Mirror` and `<prefix>MirrorChanges` for users). Default "entraUser". */
  tablePrefix?: string;
  /** The kind of object the mirror holds (src/kinds/). Default: the users. */
  kind?: ObjectKind;
  /** Entity group transactions in flight at once. Default 16. */
  writeConcurrency?: number;
  clientOptions?: TableServiceClientOptions;
}

export { DEFAULT_TABLE_PREFIX } from "../configuration/defaults.js";

export interface BeginRoundOptions extends OperationOptions {
  /** The runs left `running`, as read under the same lease (readRoundStart): not read again. */
  running?: readonly MirrorRunRecord[];
}

export class UserMirrorClient {
  readonly kind: ObjectKind;
  readonly mirrorTableName: string;
  readonly changesTableName: string;
  readonly #tables: MirrorTables;
  readonly #users: MirrorUsers;
  readonly #changes: MirrorChangeLog;
  readonly #runs: MirrorRuns;

  constructor(options: UserMirrorClientOptions) {
    const prefix = checkedTablePrefix(options.tablePrefix);
    this.kind = options.kind ?? USERS;
    const names = kindTableNames(prefix, this.kind);
    this.mirrorTableName = names.mirror;
    this.changesTableName = names.changes;
    const common = { storage: options.storage, credential: options.credential, clientOptions: options.clientOptions, owner: "UserMirrorClient" };
    this.#tables = new MirrorTables({
      kind: this.kind,
      users: createTableClient({ ...common, tableName: this.mirrorTableName }),
      changes: createTableClient({ ...common, tableName: this.changesTableName }),
      storage: options.storage,
      limit: pLimit(options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY),
    });
    this.#users = new MirrorUsers(this.#tables);
    this.#changes = new MirrorChangeLog(this.#tables);
    this.#runs = new MirrorRuns(this.#tables);
  }

  /** Table requests and entity operations, cumulative since the client was built. */
  get stats(): MirrorTableStats {
    return this.#tables.stats;
  }

  async createTablesIfNotExist(options: OperationOptions = {}): Promise<void> {
    const signal = { abortSignal: options.abortSignal };
    await Promise.all((["users", "changes"] as const).map((name) => this.#tables.call(name, `creating table ${this.#tables.table(name).tableName}`, (table) => table.createTable(signal))));
  }

  /**
   * Starts a round under `lease`: takes every user partition over (rewrites its fence row), so that
   * a write an earlier holder sends late fails, and marks mirror runs left `running` (their process
   * died or lost its lease) as failed, taking their change-log partitions over too. Returns the ids
   * of the runs it marked. `running`: those runs as `readRoundStart` read them under this lease
   * (not read again).
   */
  async beginRound(lease: LosableLeaseGuard, options: BeginRoundOptions = {}): Promise<string[]> {
    await this.#users.claim(lease, options);
    const stale = options.running ? options.running.map((run) => ({ ...run })) : await Array.fromAsync(this.#runs.listRuns({ ...options, status: "running" }));
    await this.#changes.claim(
      stale.map((run) => run.runId),
      lease,
      options,
    );
    for (const run of stale) {
      run.status = "failed";
      run.endedAt ??= new Date();
      run.error = "It stopped before it finished (its process died, or it lost the writer lease); the next round read its changes again.";
      await this.#runs.recordRun(run, { ...options, lease });
    }
    return stale.map((run) => run.runId);
  }

  // Users (mirrorUsers.ts)
  getUsers(ids: readonly string[], options: OperationOptions = {}): Promise<Map<string, MirrorUser>> {
    return this.#users.getUsers(ids, options);
  }
  applyWrites(writes: readonly MirrorWrite[], options: MirrorWriteOptions = {}): Promise<{ skipped: MirrorSkippedUser[] }> {
    return this.#users.applyWrites(writes, options);
  }
  /** Present objects in ascending id order (what a merge-join needs), in bounded memory. */
  listUsersById(options: OperationOptions = {}): AsyncIterableIterator<MirrorUser> {
    return this.#users.listUsersById(options);
  }
  listUsers(options: ListMirrorUsersOptions = {}): AsyncIterableIterator<MirrorUser> {
    return this.#users.listUsers(options);
  }

  /**
   * After a full round: marks every present user that does not carry the round's mark as `missing`,
   * a step of 1,000 at a time (never a set of all ids in memory), and records each in the run's
   * change set. Returns how many were marked.
   */
  async sweep(round: string, runId: string, now: Date, options: MirrorWriteOptions = {}): Promise<number> {
    let swept = 0;
    for await (const batch of this.#users.notSeen(round, options)) {
      const state = { state: "missing" as const, removedAt: now, runId, change: "removed" as const };
      await this.#users.applyWrites(
        batch.map((m) => ({ mode: "Merge", id: m.user.id, state: { ...state, round: m.round } })),
        options,
      );
      await this.#changes.writeChanges(
        runId,
        batch.map((m) => ({ id: m.user.id, change: "removed", reason: "notSeen", user: m.user })),
        now,
        options,
      );
      swept += batch.length;
    }
    return swept;
  }

  /**
   * A token that changes whenever a round writes to the mirror: the ETags of the user partitions'
   * fence rows (every write moves its partition's) and of the delta state. A reader compares it
   * before and after, so it never presents a mix of two states as one.
   */
  async getVersion(options: OperationOptions = {}): Promise<string> {
    const parts = await this.#users.fenceVersion(options);
    const state = await this.#runs.getDeltaState(options);
    return [...parts, `state=${state?.etag ?? ""}`].join(";");
  }

  // The change log (mirrorChangeLog.ts)
  writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options: MirrorWriteOptions = {}): Promise<void> {
    return this.#changes.writeChanges(runId, changes, at, options);
  }
  listChanges(runId: string, options: OperationOptions = {}): AsyncIterableIterator<MirrorChangeRecord> {
    return this.#changes.listChanges(runId, options);
  }

  // The delta state and runs (mirrorRuns.ts)
  getDeltaState(options: OperationOptions = {}): Promise<VersionedDeltaState | undefined> {
    return this.#runs.getDeltaState(options);
  }
  /** The delta state and the runs left running, in one query (what a round starts from). */
  readRoundStart(options: OperationOptions = {}): Promise<{ saved: VersionedDeltaState | undefined; running: MirrorRunRecord[] }> {
    return this.#runs.readRoundStart(options);
  }
  saveDeltaState(state: MirrorDeltaState, previous: SavedDeltaStateVersion, options: MirrorWriteOptions = {}): Promise<string> {
    return this.#runs.saveDeltaState(state, previous, options);
  }
  /** The round's end: the delta state and the run's record in one transaction (mirrorRuns.ts). */
  finishRound(state: MirrorDeltaState, previous: SavedDeltaStateVersion, run: MirrorRunRecord, options: MirrorWriteOptions = {}): Promise<string> {
    return this.#runs.finishRound(state, previous, run, options);
  }
  recordRun(run: MirrorRunRecord, options: MirrorWriteOptions = {}): Promise<void> {
    return this.#runs.recordRun(run, options);
  }
  listRuns(options: ListMirrorRunsOptions = {}): AsyncIterableIterator<MirrorRunRecord> {
    return this.#runs.listRuns(options);
  }
  getRun(runId: string, options: OperationOptions = {}): Promise<MirrorRunRecord | undefined> {
    return this.#runs.getRun(runId, options);
  }
  skippedSinceFullRound(options: OperationOptions = {}): Promise<{ count: number; first: MirrorSkippedUser[] }> {
    return this.#runs.skippedSinceFullRound(options);
  }
}
