/** The names of every setting the code reads. infra/ and the docs are checked against this list. */
export const SETTING_NAMES = [
  "GRAPH_TENANT_ID",
  // Many tenants (docs/tenants.md)
  "USER_SYNC_TENANT_MODE",
  "USER_SYNC_QUEUE",
  "USER_SYNC_QUEUE__queueServiceUri",
  "GRAPH_CLIENT_ID",
  "GRAPH_CLOUD",
  "GRAPH_AUTHORITY_HOST",
  "GRAPH_ENDPOINT",
  "KEY_VAULT_URL",
  "KEY_VAULT_CERTIFICATE_NAME",
  // Graph credential modes (docs/credentials.md)
  "GRAPH_CREDENTIAL",
  "KEY_VAULT_SECRET_NAME",
  "GRAPH_CLIENT_SECRET",
  "SNAPSHOT_STORAGE",
  "SNAPSHOT_STORAGE__tableServiceUri",
  "STORAGE_REQUEST_TIMEOUT_SECONDS",
  "USER_SYNC_SCHEDULE",
  "USER_SYNC_FULL_SCHEDULE",
  "USER_SYNC_SELECT",
  // Groups, memberships and managers (docs/groups.md)
  "USER_SYNC_GROUPS",
  // Graph resilience
  "GRAPH_MAX_RETRIES",
  "GRAPH_MAX_RETRY_WAIT_SECONDS",
  "GRAPH_REQUEST_TIMEOUT_SECONDS",
  "GRAPH_AZURE_REGION",
  // Identity endpoints: Entra, the managed identity, Key Vault
  "IDENTITY_REQUEST_TIMEOUT_SECONDS",
  // Snapshot store: resumable runs, writer lease, retention
  "USER_SYNC_MAX_RUN_MINUTES",
  "USER_SYNC_RESUME_WITHIN_MINUTES",
  "USER_SYNC_LEASE_SECONDS",
  "SNAPSHOT_RETENTION_COUNT",
  "SNAPSHOT_RETENTION_DAYS",
  "SNAPSHOT_RETENTION_GRACE_MINUTES",
  // The analytics lane (docs/analytics.md)
  "USER_SYNC_EXPORT_STORAGE",
  "USER_SYNC_EXPORT_STORAGE__blobServiceUri",
  "USER_SYNC_EXPORT_CONTAINER",
  "USER_SYNC_EXPORT_RETENTION_DAYS",
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];
