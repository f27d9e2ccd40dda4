// Parameters of the Entra deployment (main.bicep beside this file), read from the environment like
// ../main.bicepparam. infra/scripts/deploy-entra.sh sets CERTIFICATE_CREDENTIALS and
// FUNCTION_IDENTITY_PRINCIPAL_ID from the Azure deployment's outputs, and GRAPH_GRANT_EXISTS (and
// GROUP_MEMBER_GRANT_EXISTS with USER_SYNC_GROUPS=true) from infra/scripts/graph-grant-exists.sh.
using './main.bicep'

var cloud = readEnvironmentVariable('GRAPH_CLOUD', 'AzurePublic')
var federated = readEnvironmentVariable('GRAPH_CREDENTIAL', 'keyVaultCertificate') == 'managedIdentityFederation'
// Every readEnvironmentVariable is evaluated whichever branch is taken, hence the defaults.
var principalId = readEnvironmentVariable('FUNCTION_IDENTITY_PRINCIPAL_ID', '')

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param appUniqueName = readEnvironmentVariable('APP_UNIQUE_NAME', 'entra-user-sync-${readEnvironmentVariable('AZURE_ENV_NAME')}')
param certificateCredentials = federated ? [] : json(readEnvironmentVariable('CERTIFICATE_CREDENTIALS', '[]'))
param federatedIdentityPrincipalId = !federated
  ? ''
  : (empty(principalId) ? fail('GRAPH_CREDENTIAL is managedIdentityFederation but FUNCTION_IDENTITY_PRINCIPAL_ID is empty: set it from the Azure deployment\'s output of that name (infra/scripts/deploy-entra.sh).') : principalId)
param graphTenantId = readEnvironmentVariable('GRAPH_TENANT_ID', '')
// Refused here, before anything is deployed: the application can only be created in the public cloud.
param graphCloud = cloud == 'AzurePublic' ? cloud : fail('GRAPH_CLOUD is ${cloud}: the Microsoft Graph Bicep extension only creates applications in the Azure public cloud. Set MANAGE_APP_REGISTRATION=false and create the app registration by hand (docs/deploy.md, "Another tenant or a national cloud").')
param graphGrantExists = bool(readEnvironmentVariable('GRAPH_GRANT_EXISTS'))
param assignGraphAppRole = bool(readEnvironmentVariable('ASSIGN_GRAPH_APP_ROLE', 'true'))
// Groups and memberships (docs/groups.md): GroupMember.Read.All is required and granted when USER_SYNC_GROUPS is true.
param groups = bool(readEnvironmentVariable('USER_SYNC_GROUPS', 'false'))
// Set by infra/scripts/deploy-entra.sh (azd-postprovision.ps1) from graph-grant-exists with GroupMember.Read.All's app role id.
param groupMemberGrantExists = bool(readEnvironmentVariable('GROUP_MEMBER_GRANT_EXISTS', 'false'))
// Multi-tenant mode (docs/tenants.md): the application is usable by every tenant whose administrator consents.
param signInAudience = readEnvironmentVariable('USER_SYNC_TENANT_MODE', 'single') == 'multi' ? 'AzureADMultipleOrgs' : 'AzureADMyOrg'
