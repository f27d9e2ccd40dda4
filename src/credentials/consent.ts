import { CLOUDS, type CloudName } from "../configuration/clouds.js";

/**
 * The URL an administrator opens to grant the app's application permissions (admin consent) in the
 * tenant: `{authority host}/{tenant}/adminconsent?client_id={client id}&redirect_uri={redirect URI}`.
 * The redirect URI must be one the app registers (infra/entra/main.bicep): Entra sends the
 * administrator there afterwards, with `admin_consent=True&tenant=…` or `error=…`. Every URL the
 * product prints has it (`undefined` only where a test builds a token client by hand).
 */
export function adminConsentUrl(authorityHost: string, tenantId: string, clientId: string, redirectUri: string | undefined): string {
  const host = authorityHost.replace(/\/+$/, "");
  const redirect = redirectUri === undefined ? "" : `&redirect_uri=${encodeURIComponent(redirectUri)}`;
  return `${host}/${encodeURIComponent(tenantId)}/adminconsent?client_id=${encodeURIComponent(clientId)}${redirect}`;
}

/** The consent redirect URI the app registers in that cloud (src/configuration/clouds.ts). */
export function consentRedirectUri(cloud: CloudName): string {
  return CLOUDS[cloud].consentRedirectUri;
}

/** The admin-consent URL of the configured app, cloud and authority host in one tenant. */
export function adminConsentUrlFor(settings: { authorityHost: string; clientId: string; cloud: CloudName }, tenantId: string): string {
  return adminConsentUrl(settings.authorityHost, tenantId, settings.clientId, consentRedirectUri(settings.cloud));
}
