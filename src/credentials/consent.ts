/**
 * The URL an administrator opens to grant the app's application permissions (admin consent) in the
 * tenant: `{authority host}/{tenant}/adminconsent?client_id={client id}`.
 */
export function adminConsentUrl(authorityHost: string, tenantId: string, clientId: string): string {
  const host = authorityHost.replace(/\/+$/, "");
  return `${host}/${encodeURIComponent(tenantId)}/adminconsent?client_id=${encodeURIComponent(clientId)}`;
}
