/** `entra-user-sync tenants consent-url <tenantId>`: the admin-consent URL of the app in that tenant, in the configured cloud. */
import { loadConsentSettings } from "../configuration/consentSettings.js";
import { adminConsentUrlFor } from "../credentials/consent.js";
import { parseTenantId } from "../tenants/tenantId.js";
import { write } from "./output.js";

export async function tenantsConsentUrlCommand(tenant: string): Promise<void> {
  const parsed = parseTenantId(tenant);
  // Only GRAPH_CLIENT_ID, GRAPH_CLOUD and GRAPH_AUTHORITY_HOST: nothing else is needed to print it.
  const settings = loadConsentSettings(process.env);
  await write(`${adminConsentUrlFor(settings, parsed.kind === "guid" ? parsed.tenantId : parsed.domain)}\n`);
}
