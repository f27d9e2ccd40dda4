/** `entra-user-sync tenants list [--json]`: the registered tenants, in tenant id order, with their health. */
import { consentState, tenantHealth, worstFirst } from "../fanout/tenantHealth.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { formatTable, write } from "./output.js";
import { formatAge, registryFromEnvironment, tenantJson, tenantState } from "./tenantRegistry.js";

export interface TenantsListOptions {
  json: boolean;
  /** Sorted by health, worst first (reads the whole registry before printing), instead of tenant id order. */
  worstFirst?: boolean;
}

async function sortedWorstFirst(records: AsyncIterable<TenantRecord>, now: Date): Promise<TenantRecord[]> {
  const all: TenantRecord[] = [];
  for await (const record of records) all.push(record);
  return all.sort((a, b) => worstFirst(a, b, now));
}

export async function tenantsListCommand(options: TenantsListOptions): Promise<void> {
  const { registry } = registryFromEnvironment();
  const rows: string[][] = [["TENANT", "NAME", "STATE", "HEALTH", "LAST SUCCESS", "USERS", "MIRROR AGE", "CONSENT", "LAST OUTCOME"]];
  const now = new Date();
  const records = options.worstFirst ? await sortedWorstFirst(registry.listTenants(), now) : registry.listTenants();
  for await (const record of records) {
    if (options.json) {
      await write(`${JSON.stringify(tenantJson(record))}\n`);
      continue;
    }
    const outcome = record.lastOutcome ? `${record.lastOutcome}${record.lastOutcomeAt ? ` at ${record.lastOutcomeAt.toISOString()}` : ""}` : "";
    const health = [tenantHealth(record, now), record.lastSuccessAt ? formatAge(record.lastSuccessAt, now) : "never", record.userCount?.toString() ?? "", record.mirrorRoundAt ? formatAge(record.mirrorRoundAt, now) : "", consentState(record)];
    rows.push([record.tenantId, record.name ?? record.domain ?? "", tenantState(record), ...health, outcome + (record.lastErrorCode ? ` (${record.lastErrorCode})` : "")]);
  }
  if (options.json) return;
  if (rows.length === 1) {
    await write("No tenants are registered. Add one with: entra-user-sync tenants add <tenantId> (see docs/tenants.md).\n");
    return;
  }
  await write(formatTable(rows));
}
