// Parameters for infra/main.bicep (the Azure deployment), read from the environment so that the
// pipeline and azd share this one file. azd passes AZURE_ENV_NAME and the values of its environment
// (azd env set NAME value); the pipeline defines the same names as variables (azure-pipelines.yml).
// docs/deploy.md lists them.
using './main.bicep'

var managed = bool(readEnvironmentVariable('MANAGE_APP_REGISTRATION', 'true'))
var cloud = readEnvironmentVariable('GRAPH_CLOUD', 'AzurePublic')

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param appUniqueName = readEnvironmentVariable('APP_UNIQUE_NAME', 'entra-user-sync-${readEnvironmentVariable('AZURE_ENV_NAME')}')
param manageAppRegistration = managed
param graphClientId = readEnvironmentVariable('GRAPH_CLIENT_ID', '')
param graphTenantId = readEnvironmentVariable('GRAPH_TENANT_ID', '')
// Refused when compiled, before anything is deployed: the Entra deployment can only create the app
// registration in the Azure public cloud.
param graphCloud = managed && cloud != 'AzurePublic'
  ? fail('GRAPH_CLOUD is ${cloud} and MANAGE_APP_REGISTRATION is true: the Microsoft Graph Bicep extension only creates app registrations in the Azure public cloud. Set MANAGE_APP_REGISTRATION=false and create the app registration by hand (docs/deploy.md, "Another tenant or a national cloud").')
  : cloud
param certificateName = readEnvironmentVariable('CERTIFICATE_NAME', 'entra-user-sync')
param graphCredential = readEnvironmentVariable('GRAPH_CREDENTIAL', 'keyVaultCertificate')
param additionalTrustedCertificateNames = readEnvironmentVariable('ADDITIONAL_TRUSTED_CERTIFICATE_NAMES', '')
param userSyncSchedule = readEnvironmentVariable('USER_SYNC_SCHEDULE', '0 0 * * * *')
param userSyncSelect = readEnvironmentVariable('USER_SYNC_SELECT', '')
param alertEmailAddresses = readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', '')
param snapshotStorageSku = readEnvironmentVariable('SNAPSHOT_STORAGE_SKU', 'Standard_LRS')
param privateNetworking = bool(readEnvironmentVariable('PRIVATE_NETWORKING', 'false'))
// Multi-tenant mode (docs/tenants.md): the function identity may use the tenant queue.
param multiTenant = readEnvironmentVariable('USER_SYNC_TENANT_MODE', 'single') == 'multi'
// The analytics lane (docs/analytics.md): Parquet sets of every promoted snapshot in a container of the snapshot account.
param analyticsLane = bool(readEnvironmentVariable('ANALYTICS_LANE', 'false'))
param analyticsContainerName = readEnvironmentVariable('USER_SYNC_EXPORT_CONTAINER', 'user-sync-analytics')
param userSyncMaxRunMinutes = int(readEnvironmentVariable('USER_SYNC_MAX_RUN_MINUTES', '25'))
// Optional app settings, each from the variable of its name; empty: unset, the code's default
// (README, "Settings"). Set them here rather than in the portal: a deployment replaces all settings.
param optionalSettings = {
  USER_SYNC_FULL_SCHEDULE: readEnvironmentVariable('USER_SYNC_FULL_SCHEDULE', '')
  USER_SYNC_GROUPS: readEnvironmentVariable('USER_SYNC_GROUPS', '')
  SNAPSHOT_RETENTION_COUNT: readEnvironmentVariable('SNAPSHOT_RETENTION_COUNT', '')
  SNAPSHOT_RETENTION_DAYS: readEnvironmentVariable('SNAPSHOT_RETENTION_DAYS', '')
  SNAPSHOT_RETENTION_GRACE_MINUTES: readEnvironmentVariable('SNAPSHOT_RETENTION_GRACE_MINUTES', '')
  USER_SYNC_RESUME_WITHIN_MINUTES: readEnvironmentVariable('USER_SYNC_RESUME_WITHIN_MINUTES', '')
  USER_SYNC_LEASE_SECONDS: readEnvironmentVariable('USER_SYNC_LEASE_SECONDS', '')
  GRAPH_MAX_RETRIES: readEnvironmentVariable('GRAPH_MAX_RETRIES', '')
  GRAPH_MAX_RETRY_WAIT_SECONDS: readEnvironmentVariable('GRAPH_MAX_RETRY_WAIT_SECONDS', '')
  GRAPH_REQUEST_TIMEOUT_SECONDS: readEnvironmentVariable('GRAPH_REQUEST_TIMEOUT_SECONDS', '')
  STORAGE_REQUEST_TIMEOUT_SECONDS: readEnvironmentVariable('STORAGE_REQUEST_TIMEOUT_SECONDS', '')
  IDENTITY_REQUEST_TIMEOUT_SECONDS: readEnvironmentVariable('IDENTITY_REQUEST_TIMEOUT_SECONDS', '')
  GRAPH_AZURE_REGION: readEnvironmentVariable('GRAPH_AZURE_REGION', '')
  GRAPH_AUTHORITY_HOST: readEnvironmentVariable('GRAPH_AUTHORITY_HOST', '')
  GRAPH_ENDPOINT: readEnvironmentVariable('GRAPH_ENDPOINT', '')
  USER_SYNC_TRACE_SAMPLING_RATIO: readEnvironmentVariable('USER_SYNC_TRACE_SAMPLING_RATIO', '')
  USER_SYNC_EXPORT_RETENTION_DAYS: readEnvironmentVariable('USER_SYNC_EXPORT_RETENTION_DAYS', '')
}
