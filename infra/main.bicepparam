// Parameters for infra/main.bicep, read from the environment so that the pipeline and azd share
// this one file. azd sets AZURE_ENV_NAME and the variables of its environment (azd env set ...);
// the pipeline sets the same names as variables (azure-pipelines.yml).
using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param appUniqueName = readEnvironmentVariable('APP_UNIQUE_NAME', 'entra-user-sync-${readEnvironmentVariable('AZURE_ENV_NAME')}')
param graphGrantExists = bool(readEnvironmentVariable('GRAPH_GRANT_EXISTS', 'false'))
param userSyncSchedule = readEnvironmentVariable('USER_SYNC_SCHEDULE', '0 0 * * * *')
param userSyncSelect = readEnvironmentVariable('USER_SYNC_SELECT', '')
param alertEmailAddresses = readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', '')
