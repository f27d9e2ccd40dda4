// The Flex Consumption plan and the function app: Node 22, one user-assigned identity for everything
// (host storage, deployment package, snapshots, Key Vault, telemetry), and exactly the app settings
// the code reads (test/infra/settings-drift.test.ts holds this file to src/configuration/settings.ts).

param planName string
param appName string
param location string
param tags object

@description('Name azd uses to find the app (azure.yaml services).')
param azdServiceName string

param identityId string
param identityClientId string

param hostStorageAccountName string
param deploymentContainerName string
param applicationInsightsName string

param graphTenantId string
param graphClientId string
param graphCloud string
param keyVaultUri string
param keyVaultCertificateName string
@description('GRAPH_CREDENTIAL: keyVaultCertificate, or managedIdentityFederation (then no Key Vault setting is set: the modes are exclusive).')
param graphCredential string
param snapshotTableServiceUri string
@description('Multi-tenant mode (docs/tenants.md): the tenant registry, the scheduler and the queue-triggered tenantSync on the tenant queue.')
param multiTenant bool = false
@description('The tenant queue\'s service (the snapshot account\'s queue endpoint); used in multi-tenant mode only.')
param tenantQueueServiceUri string = ''
@description('The analytics lane (docs/analytics.md): the snapshot account\'s blob endpoint and the lane\'s container; empty: no lane.')
param analyticsBlobServiceUri string = ''
param analyticsContainerName string = ''
param userSyncSchedule string
param userSyncSelect string
@description('USER_SYNC_MAX_RUN_MINUTES: below host.json functionTimeout, so a run checkpoints before the host stops it.')
param userSyncMaxRunMinutes int
@description('Optional settings by name (main.bicep, OptionalSettings): those with a value are set; empty ones are left unset, so that the code\'s default applies.')
param optionalSettings object = {}

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Subnet for VNet integration (delegated to Microsoft.App/environments). Empty: none.')
param virtualNetworkSubnetId string = ''

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      runtime: {
        name: 'node'
        version: '22'
      }
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

// Settings of the Functions host and the platform, not read by the product code.
var hostSettings = {
  AzureWebJobsStorage__accountName: hostStorage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential picks the user-assigned identity by this client id.
  AZURE_CLIENT_ID: identityClientId
}

// The product's settings (SETTING_NAMES in src/configuration/settings.ts).
var productSettings = {
  GRAPH_TENANT_ID: graphTenantId
  GRAPH_CLIENT_ID: graphClientId
  GRAPH_CLOUD: graphCloud
  GRAPH_CREDENTIAL: graphCredential
  SNAPSHOT_STORAGE__tableServiceUri: snapshotTableServiceUri
  USER_SYNC_SCHEDULE: userSyncSchedule
  USER_SYNC_MAX_RUN_MINUTES: string(userSyncMaxRunMinutes)
}

// The certificate's vault and name, only in the mode that reads them (the code refuses settings of another mode).
var credentialSettings = graphCredential == 'managedIdentityFederation' ? {} : {
  KEY_VAULT_URL: keyVaultUri
  KEY_VAULT_CERTIFICATE_NAME: keyVaultCertificateName
}

// Set only when given: unset means the code's documented default property list.
var optionalProductSettings = empty(userSyncSelect) ? {} : {
  USER_SYNC_SELECT: userSyncSelect
}

// The optional settings given a value (main.bicep, OptionalSettings; README, "Settings").
var givenOptionalSettings = toObject(filter(items(optionalSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)

// Multi-tenant mode: the registry's tenants, fanned out on the tenant queue through the identity
// (USER_SYNC_QUEUE is the queue trigger's connection: the host reads __credential and __clientId).
var tenantSettings = multiTenant ? {
  USER_SYNC_TENANT_MODE: 'multi'
  USER_SYNC_QUEUE__queueServiceUri: tenantQueueServiceUri
  USER_SYNC_QUEUE__credential: 'managedidentity'
  USER_SYNC_QUEUE__clientId: identityClientId
} : {}

// The analytics lane, identity-based (the same identity as the snapshot store's tables).
var laneSettings = empty(analyticsContainerName) ? {} : {
  USER_SYNC_EXPORT_STORAGE__blobServiceUri: analyticsBlobServiceUri
  USER_SYNC_EXPORT_CONTAINER: analyticsContainerName
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, productSettings, credentialSettings, optionalProductSettings, givenOptionalSettings, tenantSettings, laneSettings)
}

// Deployments authenticate with Microsoft Entra ID; no publishing user names or passwords. The
// resource provider expects the site's location on these policies (it rejects them without one),
// although the type definitions omit it: hence the one suppressed compiler warning (BCP187) each.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  #disable-next-line BCP187
  location: location
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  #disable-next-line BCP187
  location: location
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
