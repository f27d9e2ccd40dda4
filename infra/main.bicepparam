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
