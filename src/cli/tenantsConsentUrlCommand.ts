/** `entra-user-sync tenants consent-url <tenantId>`: the admin-consent URL of the app in that tenant, in the configured cloud. */
import { loadSettings } from "../configuration/settings.js";
import { adminConsentUrlFor } from "../credentials/consent.js";
import { parseTenantId } from "../tenants/tenantId.js";
import { write } from "./output.js";

export async function tenantsConsentUrlCommand(tenant: string): Promise<void> {
  const parsed = parseTenantId(tenant);
  const settings = loadSettings({ ...process.env, USER_SYNC_TENANT_MODE: process.env.USER_SYNC_TENANT_MODE ?? "multi" });
  await write(`${adminConsentUrlFor(settings, parsed.kind === "guid" ? parsed.tenantId : parsed.domain)}\n`);
}
