/** `entra-user-sync tenants add <tenantId> [--name <text>]`: registers a customer tenant. */
import { loadSettings } from "../configuration/settings.js";
import { adminConsentUrlFor } from "../credentials/consent.js";
import { resolveTenant } from "../tenants/resolveTenant.js";
import { parseTenantId } from "../tenants/tenantId.js";
import { write } from "./output.js";
import { registryFromEnvironment } from "./tenantRegistry.js";

export interface TenantsAddOptions {
  name?: string;
}

export async function tenantsAddCommand(tenant: string, options: TenantsAddOptions): Promise<void> {
  const parsed = parseTenantId(tenant);
  const { registry } = registryFromEnvironment();
  // A domain is resolved to its tenant's GUID by the configured cloud's authority (docs/tenants.md).
  const settings = parsed.kind === "domain" ? loadSettings(process.env) : undefined;
  const resolved = settings ? await resolveTenant(tenant, { authorityHost: settings.authorityHost }) : { tenantId: parsed.kind === "guid" ? parsed.tenantId : "" };
  await registry.createTableIfNotExists();
  const record = await registry.addTenant(resolved.tenantId, {
    ...(options.name ? { name: options.name } : {}),
    ...("domain" in resolved && resolved.domain ? { domain: resolved.domain } : {}),
  });
  const via = record.domain ? ` (${record.domain})` : "";
  await write(`Added tenant ${record.tenantId}${via}${record.name ? `, "${record.name}"` : ""}. Its data goes to the tables ${record.tablePrefix}*.\n`);
  if (settings) {
    await write(`If its administrator has not consented yet: ${adminConsentUrlFor(settings, record.tenantId)}\n`);
  } else {
    await write(`If its administrator has not consented yet, see: entra-user-sync tenants consent-url ${record.tenantId}\n`);
  }
}
