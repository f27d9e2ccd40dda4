// Data-plane roles of the function's user-assigned identity, each scoped to the one resource it
// needs (never the resource group or subscription), none of them Owner, Contributor or an access
// administrator role.

@description('Principal (object) id of the function app\'s user-assigned identity.')
param principalId string

param hostStorageAccountName string
param snapshotStorageAccountName string
param keyVaultName string

@description('Whether the identity reads the certificate from Key Vault. False with the managedIdentityFederation credential, which keeps no credential in the vault.')
param readsKeyVaultCertificate bool = true
param applicationInsightsName string

@description('Multi-tenant mode (USER_SYNC_TENANT_MODE=multi): the identity also sends, receives and deletes the tenant queue\'s messages, on the snapshot account (docs/tenants.md).')
param usesTenantQueue bool = false

@description('The analytics lane\'s container on the snapshot account (docs/analytics.md); empty: no lane. The identity may write blobs in that container only.')
param analyticsContainerName string = ''

var roles = {
  // Host storage: timer singleton leases, host keys and the Flex Consumption deployment package.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Snapshot storage: the code creates its tables, so the role sits on the snapshot account,
  // which holds nothing but the snapshots.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Multi-tenant mode: the scheduler enqueues, tenantSync and the worker receive, update and delete
  // messages on the snapshot account's tenant queue (and its poison queue).
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // The analytics lane: writes Parquet sets (blocks, manifests) in its one container, scoped to it.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Reads the certificate and its backing secret (the private key), nothing else.
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
  // Entra-authenticated telemetry ingestion (local auth is disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource snapshotStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: snapshotStorageAccountName
}

resource snapshotBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: snapshotStorage
  name: 'default'
}

// The analytics lane's container (main.bicep creates it on the snapshot account with analyticsLane).
resource analyticsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: snapshotBlobService
  name: empty(analyticsContainerName) ? 'none' : analyticsContainerName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, principalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource snapshotTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(snapshotStorage.id, principalId, roles.storageTableDataContributor)
  scope: snapshotStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource analyticsBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(analyticsContainerName)) {
  name: guid(analyticsContainer.id, principalId, roles.storageBlobDataContributor)
  scope: analyticsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource snapshotQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (usesTenantQueue) {
  name: guid(snapshotStorage.id, principalId, roles.storageQueueDataContributor)
  scope: snapshotStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource vaultCertificateUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (readsKeyVaultCertificate) {
  name: guid(vault.id, principalId, roles.keyVaultCertificateUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificateUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
