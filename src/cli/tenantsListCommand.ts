/**
 * `entra-user-sync tenants list [--json] [--worst-first]`: the registered tenants with their health,
 * in tenant id order, streamed: a registry of a million tenants is listed one page in memory at a
 * time. The table's columns are sized by its first page (LIST_PAGE rows), the name column at least
 * NAME_WIDTH wide when more pages follow; a longer name further down is cut with "…".
 * `--worst-first` sorts by health instead, and so reads the whole registry before printing.
 */
import { consentState, tenantHealth, worstFirst } from "../fanout/tenantHealth.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { columnWidths, formatRows, truncate, write } from "./output.js";
import { formatAge, registryFromEnvironment, tenantJson, tenantState } from "./tenantRegistry.js";

export interface TenantsListOptions {
  json: boolean;
  /** Sorted by health, worst first (reads the whole registry before printing), instead of tenant id order. */
  worstFirst?: boolean;
}

/** Rows written at once, and the rows that size the table's columns. */
export const LIST_PAGE = 1000;
/** The widest a tenant's state gets ("running since " and an ISO 8601 time). */
const STATE_WIDTH = "running since 2000-01-01T00:00:00.000Z".length;
/** The name column's width at least, when the table is longer than its first page. */
export const NAME_WIDTH = 32;
const HEADER = ["TENANT", "NAME", "STATE", "HEALTH", "LAST SUCCESS", "USERS", "MIRROR AGE", "CONSENT", "LAST OUTCOME"];

async function sortedWorstFirst(records: AsyncIterable<TenantRecord>, now: Date): Promise<TenantRecord[]> {
  const all: TenantRecord[] = [];
  for await (const record of records) all.push(record);
  return all.sort((a, b) => worstFirst(a, b, now));
}

export async function tenantsListCommand(options: TenantsListOptions): Promise<void> {
  const { registry } = registryFromEnvironment();
  const now = new Date();
  const records = options.worstFirst ? await sortedWorstFirst(registry.listTenants(), now) : registry.listTenants();
  if (options.json) {
    let lines: string[] = [];
    for await (const record of records) {
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
  for await (const record of records) {
    rows.push(tableRow(record, now));
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

function tableRow(record: TenantRecord, now: Date): string[] {
  const outcome = record.lastOutcome ? `${record.lastOutcome}${record.lastOutcomeAt ? ` at ${record.lastOutcomeAt.toISOString()}` : ""}` : "";
  const health = [
    tenantHealth(record, now),
    record.lastSuccessAt ? formatAge(record.lastSuccessAt, now) : "never",
    record.userCount?.toString() ?? "",
    record.mirrorRoundAt ? formatAge(record.mirrorRoundAt, now) : "",
    consentState(record),
  ];
  return [record.tenantId, record.name ?? record.domain ?? "", tenantState(record), ...health, outcome + (record.lastErrorCode ? ` (${record.lastErrorCode})` : "")];
}

/** Names cut to the name column's width (rows after the first page may hold longer ones). */
function fitName(rows: string[][], width: number): string[][] {
  return rows.map((row) => (row[1]!.length > width ? [row[0]!, truncate(row[1]!, width), ...row.slice(2)] : row));
}
