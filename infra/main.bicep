// entra-user-sync: everything the scheduled sync needs, in one resource group.
//   - a Flex Consumption function app (Node 22) running as one user-assigned managed identity;
//   - two storage accounts without shared keys: one for the Functions host, one for the snapshots;
//   - a Key Vault (RBAC, soft delete, purge protection) holding the app registration's certificate;
//   - Log Analytics + Application Insights (Entra-only ingestion) and alerts on failed runs;
//   - the Entra application, its service principal, its certificate credential and the admin
//     consent for Microsoft Graph User.Read.All (Microsoft Graph Bicep extension, public cloud).
// Deploy with main.bicepparam (pipeline and azd alike); docs/deploy.md walks through it.
targetScope = 'resourceGroup'

@description('Environment name (azd environment), e.g. prod. Part of every resource name.')
@minLength(1)
@maxLength(32)
param environmentName string

param location string = resourceGroup().location

@description('Immutable uniqueName of the Entra application. Changing it creates a new application.')
param appUniqueName string = 'entra-user-sync-${environmentName}'

@description('False: the Entra application is managed outside this template (national clouds, or no Graph permissions for the deploying identity); give its client id in existingGraphClientId.')
param manageAppRegistration bool = true

@description('Application (client) id of an app registration managed outside this template. Used only when manageAppRegistration is false.')
param existingGraphClientId string = ''

@description('Tenant whose users are synchronised (GRAPH_TENANT_ID). Empty: the tenant of this subscription.')
param graphTenantId string = ''

@description('Cloud of the tenant whose users are synchronised (GRAPH_CLOUD).')
@allowed(['AzurePublic', 'AzureChina', 'AzureUSGovernment', 'AzureUSGovernmentDoD'])
param graphCloud string = 'AzurePublic'

@description('How the function proves its identity to Microsoft Entra (GRAPH_CREDENTIAL, docs/credentials.md). keyVaultCertificate: a Key Vault certificate registered on the app. managedIdentityFederation: no certificate or secret at all; the app trusts the function\'s managed identity through a federated identity credential.')
@allowed(['keyVaultCertificate', 'managedIdentityFederation'])
param graphCredential string = 'keyVaultCertificate'

@description('True when the application already holds the User.Read.All grant; computed by infra/scripts/graph-grant-exists.sh before each deployment.')
param graphGrantExists bool = false

@description('False: an administrator grants admin consent by hand, and the deploying identity needs no AppRoleAssignment.ReadWrite.All.')
param assignGraphAppRole bool = true

@description('Key Vault certificate the function signs its Graph token requests with (KEY_VAULT_CERTIFICATE_NAME).')
param certificateName string = 'entra-user-sync'

@description('Comma-separated names of other Key Vault certificates the application keeps trusting while rotating to a new certificate name (docs/deploy.md).')
param additionalTrustedCertificateNames string = ''

@minValue(1)
@maxValue(24)
param certificateValidityInMonths int = 12

@description('Changes on every deployment so that the certificate script runs again. Leave the default.')
param certificateRefreshTag string = utcNow()

@description('NCRONTAB schedule of the sync (USER_SYNC_SCHEDULE), six fields: hourly by default.')
param userSyncSchedule string = '0 0 * * * *'

@description('Comma-separated Graph user properties (USER_SYNC_SELECT). Empty: the code\'s documented default list.')
param userSyncSelect string = ''

@description('Comma-separated e-mail addresses notified by the alerts. Empty: alerts without notification.')
param alertEmailAddresses string = ''

@description('ISO 8601 duration without a successful run before the "no successful run" alert fires; longer than the schedule interval.')
param expectedSuccessWithin string = 'PT3H'

@description('Redundancy of the snapshot account. Standard_ZRS where the region has availability zones.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param snapshotStorageSku string = 'Standard_LRS'

@allowed(['default', 'recover'])
param keyVaultCreateMode string = 'default'

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// The name the code registers the timer function under (src/functions).
var functionName = 'userSync'
var azdServiceName = 'user-sync'
var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'entra-user-sync'
}
var deploymentContainerName = 'app-package'
var alertEmails = filter(map(split(alertEmailAddresses, ','), address => trim(address)), address => !empty(address))
var otherTrustedCertificates = filter(map(split(additionalTrustedCertificateNames, ','), name => trim(name)), name => !empty(name) && name != certificateName)
var syncedTenantId = empty(graphTenantId) ? tenant().tenantId : graphTenantId
var usesFederatedCredential = graphCredential == 'managedIdentityFederation'
// The audience a managed identity token must carry to be exchanged (src/configuration/clouds.ts).
var tokenExchangeAudiences = {
  AzurePublic: 'api://AzureADTokenExchange'
  AzureChina: 'api://AzureADTokenExchangeChina'
  AzureUSGovernment: 'api://AzureADTokenExchangeUSGov'
  AzureUSGovernmentDoD: 'api://AzureADTokenExchangeUSGov'
}

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-usersync-${token}'
  location: location
  tags: tags
}

// Two accounts, not one: the host's account (leases, keys, deployment packages) is disposable
// plumbing, the snapshot account is the product's data. Separate accounts let each identity role
// reach only its own data (blob owner never touches snapshots), and let the data account get its
// own redundancy, network rules and lifecycle without touching the app.
module hostStorage 'modules/storage.bicep' = {
  name: 'host-storage'
  params: {
    name: 'sthost${token}'
    location: location
    tags: tags
    containerNames: [deploymentContainerName]
  }
}

module snapshotStorage 'modules/storage.bicep' = {
  name: 'snapshot-storage'
  params: {
    name: 'stsnap${token}'
    location: location
    tags: tags
    skuName: snapshotStorageSku
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'key-vault'
  params: {
    name: 'kv-usersync-${take(token, 10)}'
    location: location
    tags: tags
    createMode: keyVaultCreateMode
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-usersync-${token}'
    applicationInsightsName: 'appi-usersync-${token}'
    location: location
    tags: tags
    functionName: functionName
    alertEmailAddresses: alertEmails
    expectedSuccessWithin: expectedSuccessWithin
  }
}

// No certificate at all when the managed identity is the app's credential.
module certificate 'modules/certificate.bicep' = if (!usesFederatedCredential) {
  name: 'certificate'
  params: {
    location: location
    tags: tags
    keyVaultName: keyVault.outputs.name
    identityName: 'id-usersync-cert-${token}'
    certificateNames: concat([certificateName], otherTrustedCertificates)
    certificateSubject: 'CN=${appUniqueName}'
    validityInMonths: certificateValidityInMonths
    forceUpdateTag: certificateRefreshTag
  }
}

module entraApp 'modules/entra-app.bicep' = if (manageAppRegistration) {
  name: 'entra-app'
  params: {
    appUniqueName: appUniqueName
    displayName: 'Entra user sync (${environmentName})'
    certificateCredentials: usesFederatedCredential ? [] : certificate.outputs.certificateCredentials
    federatedIdentityPrincipalId: usesFederatedCredential ? functionIdentity.properties.principalId : ''
    tokenExchangeAudience: tokenExchangeAudiences[graphCloud]
    graphGrantExists: graphGrantExists
    assignGraphAppRole: assignGraphAppRole
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'function-roles'
  params: {
    principalId: functionIdentity.properties.principalId
    hostStorageAccountName: hostStorage.outputs.name
    snapshotStorageAccountName: snapshotStorage.outputs.name
    keyVaultName: keyVault.outputs.name
    readsKeyVaultCertificate: !usesFederatedCredential
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    planName: 'plan-usersync-${token}'
    appName: 'func-usersync-${token}'
    location: location
    tags: tags
    azdServiceName: azdServiceName
    identityId: functionIdentity.id
    identityClientId: functionIdentity.properties.clientId
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    graphTenantId: syncedTenantId
    graphClientId: manageAppRegistration ? entraApp.outputs.appId : existingGraphClientId
    graphCloud: graphCloud
    keyVaultUri: keyVault.outputs.uri
    keyVaultCertificateName: certificateName
    graphCredential: graphCredential
    snapshotTableServiceUri: snapshotStorage.outputs.tableEndpoint
    userSyncSchedule: userSyncSchedule
    userSyncSelect: userSyncSelect
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  dependsOn: [
    rbac
  ]
}

output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output GRAPH_CLIENT_ID string = manageAppRegistration ? entraApp.outputs.appId : existingGraphClientId
output SNAPSHOT_TABLE_SERVICE_URI string = snapshotStorage.outputs.tableEndpoint
output FUNCTION_IDENTITY_CLIENT_ID string = functionIdentity.properties.clientId
