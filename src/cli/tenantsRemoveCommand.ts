/**
 * `entra-user-sync tenants remove <tenantId> [--delete-data]`: offboards a tenant. Its registry row
 * goes first (so no new run starts for it; a queued message finds no tenant and is dropped), then,
 * with --delete-data, its tables; what was deleted is printed.
 */
import { composeTenantStorage } from "../app/compose.js";
import { deleteTenantData } from "../tenants/tenantData.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { assertTenantGuid } from "../tenants/tenantId.js";
import { write } from "./output.js";
import { registryFromEnvironment } from "./tenantRegistry.js";

export interface TenantsRemoveOptions {
  deleteData: boolean;
}

export async function tenantsRemoveCommand(tenant: string, options: TenantsRemoveOptions): Promise<void> {
  const id = assertTenantGuid(tenant);
  const { registry, storage } = registryFromEnvironment();
  const removed = await registry.deleteTenant(id);
  if (!removed && !options.deleteData) throw createTenantError("tenantNotRegistered", id, id);
  await write(removed ? `Removed tenant ${id} from the registry.\n` : `Tenant ${id} was not in the registry.\n`);
  if (!options.deleteData) {
    await write(`Its data is kept (tables t${id.replace(/-/g, "")}*); delete it with: entra-user-sync tenants remove ${id} --delete-data\n`);
    return;
  }
  const tables = await deleteTenantData(id, { storage, store: composeTenantStorage(storage, id).store });
  for (const table of tables) await write(table.existed ? `Deleted table ${table.tableName}\n` : `No table ${table.tableName} (nothing stored)\n`);
  const count = tables.filter((t) => t.existed).length;
  await write(`Deleted ${count} table${count === 1 ? "" : "s"} of tenant ${id}: its snapshots, run records, lease, mirror and change log.\n`);
}
