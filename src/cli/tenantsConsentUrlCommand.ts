/** `entra-user-sync tenants consent-url <tenantId>`: the admin-consent URL of the app in that tenant, in the configured cloud. */
import { loadSettings } from "../configuration/settings.js";
import { adminConsentUrl } from "../credentials/consent.js";
import { parseTenantId } from "../tenants/tenantId.js";
import { write } from "./output.js";

export async function tenantsConsentUrlCommand(tenant: string): Promise<void> {
  const parsed = parseTenantId(tenant);
  const settings = loadSettings({ ...process.env, USER_SYNC_TENANT_MODE: process.env.USER_SYNC_TENANT_MODE ?? "multi" });
  await write(`${adminConsentUrl(settings.authorityHost, parsed.kind === "guid" ? parsed.tenantId : parsed.domain, settings.clientId)}\n`);
}
