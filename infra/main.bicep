// entra-user-sync: everything the scheduled sync needs, in one resource group.
//   - a Flex Consumption function app (Node 22) running as one user-assigned managed identity;
//   - two storage accounts without shared keys: one for the Functions host, one for the snapshots;
//   - a Key Vault (RBAC, soft delete, purge protection) holding the app registration's certificate;
//   - Log Analytics + Application Insights (Entra-only ingestion), alerts on failed runs, and
//     diagnostic settings sending Key Vault audit events and storage logs to the workspace;
//   - optionally (privateNetworking), a virtual network, VNet integration and private endpoints.
// The Entra application, its credential and its Graph grant are a separate deployment
// (entra/main.bicep) with its own identity; this one takes the application's client id
// (graphClientId) and needs no Microsoft Graph extension, so it compiles offline.
// Deploy with main.bicepparam (pipeline and azd alike); docs/deploy.md walks through it.
targetScope = 'resourceGroup'

@description('Environment name (azd environment), e.g. prod. Part of every resource name.')
@minLength(1)
@maxLength(32)
param environmentName string

param location string = resourceGroup().location

@description('Immutable uniqueName of the Entra application. Changing it creates a new application.')
param appUniqueName string = 'entra-user-sync-${environmentName}'

@description('True: the Entra deployment (entra/main.bicep) manages the app registration in the tenant and cloud of this deployment. False: it is managed by hand (another tenant, national clouds, or no Graph permissions for any pipeline identity).')
param manageAppRegistration bool = true

@description('Application (client) id of the app registration (GRAPH_CLIENT_ID): the Entra deployment\'s output, or the id of an app registration managed by hand. Empty only before the first Entra deployment.')
param graphClientId string = ''

@description('Tenant whose users are synchronised (GRAPH_TENANT_ID). Empty: the tenant of this subscription.')
param graphTenantId string = ''

@description('Cloud of the tenant whose users are synchronised (GRAPH_CLOUD).')
@allowed(['AzurePublic', 'AzureChina', 'AzureUSGovernment', 'AzureUSGovernmentDoD'])
param graphCloud string = 'AzurePublic'

@description('How the function proves its identity to Microsoft Entra (GRAPH_CREDENTIAL, docs/credentials.md). keyVaultCertificate: a Key Vault certificate registered on the app. managedIdentityFederation: no certificate or secret at all; the app trusts the function\'s managed identity through a federated identity credential.')
@allowed(['keyVaultCertificate', 'managedIdentityFederation'])
param graphCredential string = 'keyVaultCertificate'

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

@description('ISO 8601 duration (at most P2D) without any run before the heartbeat alert fires; longer than the schedule interval.')
param expectedRunWithin string = 'PT3H'

@description('Hours after which a tenant\'s live mirror is stale (its alert fires); longer than the schedule interval.')
param staleMirrorAfterHours int = 3

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

@description('Minutes after which a run stops at a checkpoint for the next invocation to continue (USER_SYNC_MAX_RUN_MINUTES). Below host.json functionTimeout (30 minutes), leaving time to write the checkpoint.')
@minValue(1)
@maxValue(27)
param userSyncMaxRunMinutes int = 25

// The optional settings of the product (README, "Settings") that a deployment sets when given a value.
// Every deployment replaces all of the app's settings, so a value changed in the portal reverts at the
// next deployment: these are the place to change them (main.bicepparam reads each from the
// environment variable of the same name: `azd env set`, or the pipeline's variables).
type OptionalSettings = {
  // Full rounds (snapshot and mirror mark-and-sweep).
  USER_SYNC_FULL_SCHEDULE: string?
  // Groups and memberships (docs/groups.md): 'true' or 'false'; the Entra deployment grants GroupMember.Read.All from the same variable.
  USER_SYNC_GROUPS: string?
  // Retention.
  SNAPSHOT_RETENTION_COUNT: string?
  SNAPSHOT_RETENTION_DAYS: string?
  SNAPSHOT_RETENTION_GRACE_MINUTES: string?
  // Resumable runs and the writer lease.
  USER_SYNC_RESUME_WITHIN_MINUTES: string?
  USER_SYNC_LEASE_SECONDS: string?
  // Limits of Graph and storage requests.
  GRAPH_MAX_RETRIES: string?
  GRAPH_MAX_RETRY_WAIT_SECONDS: string?
  GRAPH_REQUEST_TIMEOUT_SECONDS: string?
  STORAGE_REQUEST_TIMEOUT_SECONDS: string?
  IDENTITY_REQUEST_TIMEOUT_SECONDS: string?
  // Endpoints: the regional token service, and overrides of the cloud's hosts.
  GRAPH_AZURE_REGION: string?
  GRAPH_AUTHORITY_HOST: string?
  GRAPH_ENDPOINT: string?
  // Telemetry: the share of runs whose traces are kept.
  USER_SYNC_TRACE_SAMPLING_RATIO: string?
  // The analytics lane's retention in days (the lifecycle policy; empty or 0: SNAPSHOT_RETENTION_DAYS).
  USER_SYNC_EXPORT_RETENTION_DAYS: string?
}

@description('Optional app settings by name (README, "Settings"). A setting with a value is set; an empty or missing one is left unset, so that the code\'s documented default applies. The code checks the values when the function starts.')
param optionalSettings OptionalSettings = {}

@description('The analytics lane (docs/analytics.md): a container on the snapshot account where every promoted snapshot lands as Parquet, Storage Blob Data Contributor on that container only for the function identity, a lifecycle policy for its retention (USER_SYNC_EXPORT_RETENTION_DAYS, else SNAPSHOT_RETENTION_DAYS; both 0 or empty: kept), and the lane\'s app settings.')
param analyticsLane bool = false

@description('The analytics lane\'s container (USER_SYNC_EXPORT_CONTAINER).')
@minLength(3)
@maxLength(63)
param analyticsContainerName string = 'user-sync-analytics'

@description('Multi-tenant mode (docs/tenants.md): sets USER_SYNC_TENANT_MODE=multi and the identity-based tenant queue (USER_SYNC_QUEUE__queueServiceUri, __credential, __clientId) on the app, and gives the function identity Storage Queue Data Contributor on the snapshot account. Deploy infra/entra with signInAudience AzureADMultipleOrgs too. With privateNetworking, the snapshot account also gets a queue private endpoint.')
param multiTenant bool = false

@description('Private networking: VNet integration for the function app, private endpoints for both storage accounts (the snapshot account\'s queue too when multiTenant) and Key Vault, storage reachable only through them. Off by default (docs/deploy.md, "Private networking").')
param privateNetworking bool = false

@description('Address space of the virtual network created when privateNetworking is true.')
param virtualNetworkAddressPrefix string = '10.40.0.0/24'

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
// The app registration is created by the Entra deployment in this deployment's tenant, in the public
// cloud. Another tenant or cloud with manageAppRegistration would put it in the wrong place: refused
// (the cloud at compile time in main.bicepparam, the tenant here, before anything is created).
var crossTenantRefused = manageAppRegistration && !empty(graphTenantId) && graphTenantId != tenant().tenantId
var syncedTenantId = crossTenantRefused
  ? fail('GRAPH_TENANT_ID is ${graphTenantId}, but this deployment runs in tenant ${tenant().tenantId} and MANAGE_APP_REGISTRATION is true: the app registration would be created in the wrong tenant. Set MANAGE_APP_REGISTRATION=false and create it in tenant ${graphTenantId} by hand (docs/deploy.md, "Another tenant or a national cloud").')
  : (empty(graphTenantId) ? tenant().tenantId : graphTenantId)
var usesFederatedCredential = graphCredential == 'managedIdentityFederation'
// The lane's retention: its own setting, else the snapshots' (days); 0 keeps its files.
var laneRetentionText = empty(optionalSettings.?USER_SYNC_EXPORT_RETENTION_DAYS ?? '') || (optionalSettings.?USER_SYNC_EXPORT_RETENTION_DAYS ?? '') == '0'
  ? (optionalSettings.?SNAPSHOT_RETENTION_DAYS ?? '')
  : (optionalSettings.?USER_SYNC_EXPORT_RETENTION_DAYS ?? '')
var laneRetentionDays = empty(laneRetentionText) ? 0 : int(laneRetentionText)
var laneLifecycle = analyticsLane && laneRetentionDays > 0 ? [{ name: 'analytics-lane-retention', prefix: '${analyticsContainerName}/', days: laneRetentionDays }] : []

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-usersync-${token}'
  location: location
  tags: tags
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
    expectedRunWithin: expectedRunWithin
    staleMirrorAfterHours: staleMirrorAfterHours
  }
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
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    publicNetworkAccess: !privateNetworking
  }
}

module snapshotStorage 'modules/storage.bicep' = {
  name: 'snapshot-storage'
  params: {
    name: 'stsnap${token}'
    location: location
    tags: tags
    skuName: snapshotStorageSku
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    publicNetworkAccess: !privateNetworking
    // The analytics lane's container and retention (docs/decisions.md: on the snapshot account).
    containerNames: analyticsLane ? [analyticsContainerName] : []
    deleteAfterDays: laneLifecycle
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'key-vault'
  params: {
    name: 'kv-usersync-${take(token, 10)}'
    location: location
    tags: tags
    createMode: keyVaultCreateMode
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    // The certificate deployment script runs outside the virtual network: the vault stays reachable
    // (RBAC still applies) unless there is no certificate to manage.
    publicNetworkAccess: !privateNetworking || !usesFederatedCredential
  }
}

// Optional private networking: the function app's outbound traffic goes through the VNet, and
// storage and Key Vault are reached through private endpoints.
module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    name: 'vnet-usersync-${token}'
    location: location
    tags: tags
    addressPrefix: virtualNetworkAddressPrefix
  }
}

var privateEndpoints = concat(
  [
    { name: 'pe-${hostStorage.name}-blob', target: 'host', groupId: 'blob' }
    { name: 'pe-${hostStorage.name}-queue', target: 'host', groupId: 'queue' }
    { name: 'pe-${hostStorage.name}-table', target: 'host', groupId: 'table' }
    { name: 'pe-${snapshotStorage.name}-table', target: 'snapshot', groupId: 'table' }
    { name: 'pe-${keyVault.name}-vault', target: 'vault', groupId: 'vault' }
  ],
  // Multi-tenant mode: the tenant queue lives in the snapshot account (its queue service is used
  // only then; docs/decisions.md). Registered in the same privatelink.queue zone as the host's.
  multiTenant ? [{ name: 'pe-${snapshotStorage.name}-queue', target: 'snapshot', groupId: 'queue' }] : [],
  // The analytics lane writes blobs to the snapshot account.
  analyticsLane ? [{ name: 'pe-${snapshotStorage.name}-blob', target: 'snapshot', groupId: 'blob' }] : []
)

module privateEndpoint 'modules/private-endpoint.bicep' = [
  for endpoint in privateEndpoints: if (privateNetworking) {
    name: endpoint.name
    params: {
      name: endpoint.name
      location: location
      tags: tags
      subnetId: network.?outputs.privateEndpointSubnetId ?? ''
      targetId: endpoint.target == 'host' ? hostStorage.outputs.id : (endpoint.target == 'snapshot' ? snapshotStorage.outputs.id : keyVault.outputs.id)
      groupId: endpoint.groupId
      privateDnsZoneId: network.?outputs.privateDnsZoneIds[endpoint.groupId] ?? ''
    }
  }
]

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

module rbac 'modules/rbac.bicep' = {
  name: 'function-roles'
  params: {
    principalId: functionIdentity.properties.principalId
    hostStorageAccountName: hostStorage.outputs.name
    snapshotStorageAccountName: snapshotStorage.outputs.name
    keyVaultName: keyVault.outputs.name
    readsKeyVaultCertificate: !usesFederatedCredential
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    usesTenantQueue: multiTenant
    analyticsContainerName: analyticsLane ? analyticsContainerName : ''
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
    graphClientId: graphClientId
    graphCloud: graphCloud
    keyVaultUri: keyVault.outputs.uri
    keyVaultCertificateName: certificateName
    graphCredential: graphCredential
    snapshotTableServiceUri: snapshotStorage.outputs.tableEndpoint
    multiTenant: multiTenant
    tenantQueueServiceUri: multiTenant ? snapshotStorage.outputs.queueEndpoint : ''
    analyticsBlobServiceUri: analyticsLane ? snapshotStorage.outputs.blobEndpoint : ''
    analyticsContainerName: analyticsLane ? analyticsContainerName : ''
    userSyncSchedule: userSyncSchedule
    userSyncSelect: userSyncSelect
    userSyncMaxRunMinutes: userSyncMaxRunMinutes
    optionalSettings: optionalSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    virtualNetworkSubnetId: network.?outputs.functionSubnetId ?? ''
  }
  dependsOn: [
    rbac
    privateEndpoint
  ]
}

// The run charts, listed under the function app's Workbooks (docs/operations.md).
module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    functionAppId: resourceId('Microsoft.Web/sites', functionApp.outputs.name)
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    staleMirrorAfterHours: staleMirrorAfterHours
  }
}

output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output WORKBOOK_ID string = workbook.outputs.workbookId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output GRAPH_CLIENT_ID string = graphClientId
output SNAPSHOT_TABLE_SERVICE_URI string = snapshotStorage.outputs.tableEndpoint
output FUNCTION_IDENTITY_CLIENT_ID string = functionIdentity.properties.clientId
// Inputs of the Entra deployment (infra/scripts/deploy-entra.sh): public data only.
output FUNCTION_IDENTITY_PRINCIPAL_ID string = functionIdentity.properties.principalId
output CERTIFICATE_CREDENTIALS array = certificate.?outputs.certificateCredentials ?? []
