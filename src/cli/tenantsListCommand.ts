/** `entra-user-sync tenants list [--json]`: the registered tenants, in tenant id order. */
import { formatTable, write } from "./output.js";
import { registryFromEnvironment, tenantJson, tenantState } from "./tenantRegistry.js";

export interface TenantsListOptions {
  json: boolean;
}

export async function tenantsListCommand(options: TenantsListOptions): Promise<void> {
  const { registry } = registryFromEnvironment();
  const rows: string[][] = [["TENANT", "NAME", "STATE", "LAST OUTCOME"]];
  for await (const record of registry.listTenants()) {
    if (options.json) {
      await write(`${JSON.stringify(tenantJson(record))}\n`);
      continue;
    }
    const outcome = record.lastOutcome ? `${record.lastOutcome}${record.lastOutcomeAt ? ` at ${record.lastOutcomeAt.toISOString()}` : ""}` : "";
    rows.push([record.tenantId, record.name ?? record.domain ?? "", tenantState(record), outcome]);
  }
  if (options.json) return;
  if (rows.length === 1) {
    await write("No tenants are registered. Add one with: entra-user-sync tenants add <tenantId> (see docs/tenants.md).\n");
    return;
  }
  await write(formatTable(rows));
}
