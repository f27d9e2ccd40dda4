/**
 * `entra-user-sync tenants list [--json]`: the registered tenants, in tenant id order, streamed:
 * a registry of a million tenants is listed one page in memory at a time. The table's columns are
 * sized by its first page (LIST_PAGE rows), the name column at least NAME_WIDTH wide when more
 * pages follow; a longer name further down is cut with "…".
 */
import { columnWidths, formatRows, truncate, write } from "./output.js";
import { registryFromEnvironment, tenantJson, tenantState } from "./tenantRegistry.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";

export interface TenantsListOptions {
  json: boolean;
}

/** Rows written at once, and the rows that size the table's columns. */
export const LIST_PAGE = 1000;
/** The widest a tenant's state gets ("running since " and an ISO 8601 time). */
const STATE_WIDTH = "running since 2000-01-01T00:00:00.000Z".length;
/** The name column's width at least, when the table is longer than its first page. */
export const NAME_WIDTH = 32;
const HEADER = ["TENANT", "NAME", "STATE", "LAST OUTCOME"];

export async function tenantsListCommand(options: TenantsListOptions): Promise<void> {
  const { registry } = registryFromEnvironment();
  if (options.json) {
    let lines: string[] = [];
    for await (const record of registry.listTenants()) {
      lines.push(JSON.stringify(tenantJson(record)));
      if (lines.length >= LIST_PAGE) {
        await write(`${lines.join("\n")}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) await write(`${lines.join("\n")}\n`);
    return;
  }
  let rows: string[][] = [HEADER];
  let widths: number[] | undefined;
  let listed = 0;
  for await (const record of registry.listTenants()) {
    rows.push(tableRow(record));
    listed += 1;
    if (rows.length < LIST_PAGE) continue;
    if (widths === undefined) {
      // More rows follow than the first page: the state column takes its widest form, names get room.
      widths = columnWidths(rows);
      widths[1] = Math.max(widths[1]!, NAME_WIDTH);
      widths[2] = Math.max(widths[2]!, STATE_WIDTH);
    }
    await write(formatRows(fitName(rows, widths[1]!), widths));
    rows = [];
  }
  if (listed === 0) {
    await write("No tenants are registered. Add one with: entra-user-sync tenants add <tenantId> (see docs/tenants.md).\n");
    return;
  }
  if (rows.length > 0) await write(formatRows(fitName(rows, (widths ??= columnWidths(rows))[1]!), widths));
}

function tableRow(record: TenantRecord): string[] {
  const outcome = record.lastOutcome ? `${record.lastOutcome}${record.lastOutcomeAt ? ` at ${record.lastOutcomeAt.toISOString()}` : ""}` : "";
  return [record.tenantId, record.name ?? record.domain ?? "", tenantState(record), outcome];
}

/** Names cut to the name column's width (rows after the first page may hold longer ones). */
function fitName(rows: string[][], width: number): string[][] {
  return rows.map((row) => (row[1]!.length > width ? [row[0]!, truncate(row[1]!, width), ...row.slice(2)] : row));
}
