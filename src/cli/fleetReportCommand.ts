/**
 * `entra-user-sync report` in multi-tenant mode without --tenant: the fleet page (src/report/fleetReport.ts),
 * every tenant's health worst first. Written to a file, it comes with each tenant's own page next to
 * it (`report-<tenantId>.html`, the same as `report --tenant <tenantId>`), which the fleet page links
 * to; to standard output, the page names the command for each tenant's page instead.
 */
import { dirname, join, resolve } from "node:path";
import { renderFleetReport, tenantPageName } from "../report/fleetReport.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { selectTenant } from "./clients.js";
import { write } from "./output.js";
import { writeOutputFile } from "./outputFile.js";
import { reportCommand, type ReportOptions } from "./reportCommand.js";
import { registryFromEnvironment } from "./tenantRegistry.js";

export async function fleetReportCommand(options: ReportOptions): Promise<void> {
  const { registry } = registryFromEnvironment();
  const records: TenantRecord[] = [];
  for await (const record of registry.listTenants()) records.push(record);
  const toFile = options.out !== "-";
  const path = toFile ? resolve(options.out) : undefined;
  if (path) {
    for (const record of records) {
      await reportCommand({ ...options, tenant: await selectTenant(record.tenantId), out: join(dirname(path), tenantPageName(record.tenantId)) });
    }
  }
  const html = renderFleetReport(records, { now: new Date(), tenantPages: toFile });
  if (!path) {
    await write(html);
    return;
  }
  await writeOutputFile(path, html);
  process.stderr.write(`Wrote the fleet page of ${records.length} tenant${records.length === 1 ? "" : "s"} to ${path}, each tenant's page next to it\n`);
}
