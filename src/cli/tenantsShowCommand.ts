/** `entra-user-sync tenants show <tenantId>`: one tenant's registry record, its tables and its state. */
import { createTenantError } from "../tenants/tenantErrors.js";
import { tenantTableNames } from "../tenants/tenantData.js";
import { assertTenantGuid } from "../tenants/tenantId.js";
import { write } from "./output.js";
import { registryFromEnvironment, tenantState } from "./tenantRegistry.js";

export async function tenantsShowCommand(tenant: string): Promise<void> {
  const id = assertTenantGuid(tenant);
  const { registry } = registryFromEnvironment();
  const record = await registry.getTenant(id);
  if (record === undefined) throw createTenantError("tenantNotRegistered", id, id);
  const lines = [
    `Tenant:        ${record.tenantId}`,
    ...(record.name ? [`Name:          ${record.name}`] : []),
    ...(record.domain ? [`Added by:      ${record.domain}`] : []),
    `Added:         ${record.addedAt.toISOString()}`,
    `Tables:        ${tenantTableNames(record.tablePrefix).join(", ")}`,
    `State:         ${tenantState(record)}`,
    ...(record.lastOutcome ? [`Last outcome:  ${record.lastOutcome}${record.lastOutcomeAt ? ` at ${record.lastOutcomeAt.toISOString()}` : ""}`] : []),
    ...(record.lastError ? [`Last error:    ${record.lastError}`] : []),
  ];
  await write(`${lines.join("\n")}\n`);
}
