/**
 * A tenant's own tables (per-tenant tables: docs/tenants.md), and deleting them when the tenant is
 * offboarded (`tenants remove --delete-data`): under the tenant's writer lease, so never while one
 * of its runs writes, and its run-records table (which holds the lease) last.
 */
import type { TokenCredential } from "@azure/identity";
import type { TableStorageSettings } from "../configuration/settings.js";
import { runsTableName, storeTableNames } from "../kinds/tableNames.js";
import { MANAGER, OBJECT_KINDS } from "../kinds/users.js";
import { GROUPS } from "../kinds/groups.js";
import { isUserSyncError } from "../shared/errors.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import { storageError } from "../tables/storageErrors.js";
import { createTableClient } from "../tables/tableClient.js";
import { isStatusCode } from "../tables/tableStore.js";
import { createTenantError } from "./tenantErrors.js";
import { tenantTablePrefix } from "./tenantId.js";
import type { OperationOptions } from "../shared/abort.js";

/** The tables of the snapshot store and the live mirror, for a table prefix: every object kind's, and the run records. */
export function tenantTableNames(tablePrefix: string): string[] {
  return storeTableNames(tablePrefix, OBJECT_KINDS);
}

export interface DeleteTenantDataOptions extends OperationOptions {
  storage: TableStorageSettings;
  /** The tenant's snapshot store (its writer lease): built by the composition (composeTenantStorage). */
  store: SnapshotStoreClient;
  credential?: TokenCredential | undefined;
}

export interface DeletedTable {
  tableName: string;
  /** False: the table did not exist (nothing of the tenant was stored in it). */
  existed: boolean;
}

/**
 * Deletes every table of the tenant; says which existed. Takes the tenant's writer lease first
 * (`tenant_busy` while a run of the tenant holds it: nothing is deleted) and deletes the run
 * records, where the lease lives, last.
 */
export async function deleteTenantData(tenantId: string, options: DeleteTenantDataOptions): Promise<DeletedTable[]> {
  const prefix = tenantTablePrefix(tenantId);
  const runs = runsTableName(prefix);
  // The groups' tables (USER_SYNC_GROUPS) go too, and are reported only when they existed.
  const groupTables = [...storeTableNames(prefix, [GROUPS]).filter((name) => name !== runs), `${prefix}${MANAGER.tables.forward}`, `${prefix}${MANAGER.tables.reverse}`];
  const others = [...tenantTableNames(prefix).filter((name) => name !== runs), ...groupTables];
  const runsTable = createTableClient({ storage: options.storage, tableName: runs, credential: options.credential, owner: "deleteTenantData" });
  // Looked at once: without it there is no lease to take, and it is not deleted below either.
  const runsExisted = await tableExists(runsTable, runs, options);
  if (runsExisted) {
    try {
      // Held until its table is deleted: a run that starts meanwhile finds it held and skips.
      await options.store.acquireLease({ trigger: "cli", abortSignal: options.abortSignal });
    } catch (error) {
      if (isUserSyncError(error, "run_in_progress")) {
        const { runId, expiresAt } = error.details;
        throw createTenantError("tenantBusy", `${runId ? `run ${String(runId)}` : "a run"} holds its writer lease${expiresAt ? ` until ${String(expiresAt)}` : ""}`, tenantId);
      }
      throw error;
    }
  }
  const deleted = new Map<string, DeletedTable>();
  for (const tableName of [...others, runs]) {
    const table = tableName === runs ? runsTable : createTableClient({ storage: options.storage, tableName, credential: options.credential, owner: "deleteTenantData" });
    const existed = tableName === runs ? runsExisted : await tableExists(table, tableName, options);
    if (existed) {
      try {
        await table.deleteTable({ abortSignal: options.abortSignal });
      } catch (error) {
        throw storageError(options.storage, tableName, `deleting table ${tableName}`, error);
      }
    }
    deleted.set(tableName, { tableName, existed });
  }
  // Said in the tables' usual order (snapshots, run records, mirror, change log).
  return [...tenantTableNames(prefix), ...groupTables].map((tableName) => deleted.get(tableName)!).filter((table) => table.existed || !groupTables.includes(table.tableName));
}

/** One entity at most: only to tell whether the table exists (deleteTable hides a 404). */
async function tableExists(table: ReturnType<typeof createTableClient>, tableName: string, options: DeleteTenantDataOptions): Promise<boolean> {
  try {
    await table.listEntities({ abortSignal: options.abortSignal }).byPage({ maxPageSize: 1 }).next();
    return true;
  } catch (error) {
    if (!isStatusCode(error, 404)) throw storageError(options.storage, tableName, `reading table ${tableName}`, error);
    return false;
  }
}
