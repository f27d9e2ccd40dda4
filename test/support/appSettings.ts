/**
 * The fewest settings loadSettings accepts for the app, its directory tenant aside (single-tenant
 * mode adds GRAPH_TENANT_ID). Spelled as an operator might paste them: an upper-case client id and a
 * trailing slash on the vault URL, which loadSettings normalises.
 */
export const APP_SETTINGS = {
  GRAPH_CLIENT_ID: "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
  KEY_VAULT_URL: "https://contoso-sync.vault.azure.net/",
  KEY_VAULT_CERTIFICATE_NAME: "graph-client",
  SNAPSHOT_STORAGE: "UseDevelopmentStorage=true",
};
