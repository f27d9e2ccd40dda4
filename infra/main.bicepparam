// Parameters for infra/main.bicep, read from the environment so that the pipeline and azd share
// this one file. azd passes AZURE_ENV_NAME and the values of its environment (azd env set NAME value);
// the pipeline defines the same names as variables (azure-pipelines.yml). docs/deploy.md lists them.
using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param appUniqueName = readEnvironmentVariable('APP_UNIQUE_NAME', 'entra-user-sync-${readEnvironmentVariable('AZURE_ENV_NAME')}')
param graphGrantExists = bool(readEnvironmentVariable('GRAPH_GRANT_EXISTS', 'false'))
param assignGraphAppRole = bool(readEnvironmentVariable('ASSIGN_GRAPH_APP_ROLE', 'true'))
param manageAppRegistration = bool(readEnvironmentVariable('MANAGE_APP_REGISTRATION', 'true'))
param existingGraphClientId = readEnvironmentVariable('EXISTING_GRAPH_CLIENT_ID', '')
param graphTenantId = readEnvironmentVariable('GRAPH_TENANT_ID', '')
param graphCloud = readEnvironmentVariable('GRAPH_CLOUD', 'AzurePublic')
param certificateName = readEnvironmentVariable('CERTIFICATE_NAME', 'entra-user-sync')
param graphCredential = readEnvironmentVariable('GRAPH_CREDENTIAL', 'keyVaultCertificate')
param additionalTrustedCertificateNames = readEnvironmentVariable('ADDITIONAL_TRUSTED_CERTIFICATE_NAMES', '')
param userSyncSchedule = readEnvironmentVariable('USER_SYNC_SCHEDULE', '0 0 * * * *')
param userSyncSelect = readEnvironmentVariable('USER_SYNC_SELECT', '')
param alertEmailAddresses = readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', '')
param snapshotStorageSku = readEnvironmentVariable('SNAPSHOT_STORAGE_SKU', 'Standard_LRS')
