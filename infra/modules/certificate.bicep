// Creates the app registration's certificate in Key Vault when it is missing, and returns the public
// part of every enabled, unexpired version of the trusted certificates. ARM has no resource for Key
// Vault certificates, so this runs as a deployment script (Azure CLI) under its own user-assigned
// identity, which holds Key Vault Certificates Officer on this one vault and nothing else.
// The script is idempotent and runs on every deployment (forceUpdateTag), so a new certificate
// version appears in the app registration at the next deployment (see docs/deploy.md, rotation).

param location string
param tags object
param keyVaultName string
param identityName string

@description('Certificates whose enabled, unexpired versions the app registration trusts. The first is the one the function uses.')
@minLength(1)
param certificateNames string[]

@description('Subject of certificates created by this deployment, e.g. CN=entra-user-sync.')
param certificateSubject string

@minValue(1)
@maxValue(24)
param validityInMonths int

@description('Changes on every deployment so that the script runs again. Leave the default.')
param forceUpdateTag string

var roles = {
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource scriptIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource certificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, scriptIdentity.id, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
    principalId: scriptIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'Creates the entra-user-sync certificate and reads its public part during deployments.'
  }
}

resource script 'Microsoft.Resources/deploymentScripts@2023-08-01' = {
  name: 'certificate-credentials'
  location: location
  tags: tags
  kind: 'AzureCLI'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${scriptIdentity.id}': {}
    }
  }
  properties: {
    azCliVersion: '2.67.0'
    forceUpdateTag: forceUpdateTag
    timeout: 'PT20M'
    retentionInterval: 'PT1H'
    cleanupPreference: 'OnSuccess'
    environmentVariables: [
      { name: 'VAULT_NAME', value: vault.name }
      { name: 'CERTIFICATE_NAMES', value: join(certificateNames, ' ') }
      { name: 'CERTIFICATE_SUBJECT', value: certificateSubject }
      { name: 'VALIDITY_IN_MONTHS', value: string(validityInMonths) }
    ]
    scriptContent: loadTextContent('../scripts/certificate-credentials.sh')
  }
  dependsOn: [
    certificatesOfficer
  ]
}

@description('Public certificate data only: [{ displayName, key (base64 DER), startDateTime, endDateTime }].')
output certificateCredentials array = script.properties.outputs.certificateCredentials
