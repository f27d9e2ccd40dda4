// The vault that holds the app registration's certificate. RBAC authorization only (no access
// policies), soft delete and purge protection on. It holds nothing else, so a role scoped to this
// vault is as narrow as a role on the certificate itself. Every access (the audit category group:
// who read or changed what) goes to the Log Analytics workspace.

@description('Key Vault name: 3-24 letters, digits and dashes, starting with a letter.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Days a deleted vault or certificate can be recovered (7-90). Purge protection keeps them for this long whatever happens.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('"recover" brings back a soft-deleted vault of the same name (after deleting an environment and deploying it again).')
@allowed(['default', 'recover'])
param createMode string = 'default'

@description('Log Analytics workspace that receives the audit events.')
param logAnalyticsWorkspaceId string

@description('False: reachable only through its private endpoint (main.bicep, privateNetworking).')
param publicNetworkAccess bool = true

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    createMode: createMode
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
