/**
 * A tenant's own tables (per-tenant tables: docs/tenants.md), and deleting them when the tenant is
 * offboarded (`tenants remove --delete-data`).
 */
import type { TokenCredential } from "@azure/identity";
import type { SnapshotStorageSettings } from "../configuration/settings.js";
import { storageError } from "../tables/storageErrors.js";
import { createTableClient } from "../tables/tableClient.js";
import { isStatusCode } from "../tables/tableStore.js";
import { tenantTablePrefix } from "./tenantId.js";

/** The tables of the snapshot store and the live mirror, for a table prefix. */
export function tenantTableNames(tablePrefix: string): string[] {
  return ["Snapshots", "Runs", "Mirror", "MirrorChanges"].map((suffix) => `${tablePrefix}${suffix}`);
}

export interface DeleteTenantDataOptions {
  storage: SnapshotStorageSettings;
  credential?: TokenCredential | undefined;
  abortSignal?: AbortSignal;
}

export interface DeletedTable {
  tableName: string;
  /** False: the table did not exist (nothing of the tenant was stored in it). */
  existed: boolean;
}

/** Deletes every table of the tenant; says which existed. */
export async function deleteTenantData(tenantId: string, options: DeleteTenantDataOptions): Promise<DeletedTable[]> {
  const deleted: DeletedTable[] = [];
  for (const tableName of tenantTableNames(tenantTablePrefix(tenantId))) {
    const table = createTableClient({ storage: options.storage, tableName, credential: options.credential, owner: "deleteTenantData" });
    let existed = true;
    try {
      // One entity at most: only to tell whether the table exists (deleteTable hides a 404).
      await table.listEntities({ abortSignal: options.abortSignal }).byPage({ maxPageSize: 1 }).next();
    } catch (error) {
      if (!isStatusCode(error, 404)) throw storageError(options.storage, tableName, `reading table ${tableName}`, error);
      existed = false;
    }
    if (existed) {
      try {
        await table.deleteTable({ abortSignal: options.abortSignal });
      } catch (error) {
        throw storageError(options.storage, tableName, `deleting table ${tableName}`, error);
      }
    }
    deleted.push({ tableName, existed });
  }
  return deleted;
}
