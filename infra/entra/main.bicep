// The Microsoft Entra deployment: the application (keyed by its immutable uniqueName), its service
// principal, its credential (the certificate credentials, or a federated identity credential that
// trusts the function's managed identity), and the admin-consented Microsoft Graph application
// permission User.Read.All (and GroupMember.Read.All when `groups` is true: docs/groups.md).
//
// It is a deployment of its own, beside the Azure one (../main.bicep), so that:
//  - the identity holding Microsoft Graph permissions is used here and nowhere else (docs/deploy.md);
//  - every Azure resource compiles and deploys without the Microsoft Graph extension.
// It runs after the Azure deployment, whose outputs it takes (certificate public parts, the
// function identity's principal id), and returns the application's client id to it
// (infra/scripts/deploy-entra.sh). Public cloud only: the Graph extension does not run elsewhere.
targetScope = 'resourceGroup'

extension microsoftGraphV1

@description('Environment name (azd environment), e.g. prod.')
param environmentName string

@description('Immutable unique name of the application in the tenant.')
param appUniqueName string

@description('Public certificate data from the Azure deployment (output CERTIFICATE_CREDENTIALS): [{ displayName, key, startDateTime, endDateTime }]. Empty with a federated identity credential.')
param certificateCredentials array = []

@description('Principal (object) id of the managed identity to trust through a federated identity credential (GRAPH_CREDENTIAL=managedIdentityFederation). Empty: the certificate credentials are used instead.')
param federatedIdentityPrincipalId string = ''

@description('Tenant whose users are synchronised (GRAPH_TENANT_ID). It must be empty or the tenant this deployment runs in: the application is created in the deployment\'s tenant.')
param graphTenantId string = ''

@description('Cloud of the tenant whose users are synchronised (GRAPH_CLOUD). Only AzurePublic: the Graph extension cannot create the application elsewhere.')
param graphCloud string = 'AzurePublic'

@description('True when the service principal already holds the grant (infra/scripts/graph-grant-exists.sh): a second creation of the same grant fails, so it is declared only when missing.')
param graphGrantExists bool

@description('Who can use the application: AzureADMyOrg (this tenant only, the default) or AzureADMultipleOrgs (multi-tenant mode, USER_SYNC_TENANT_MODE=multi: each customer tenant\'s administrator consents through its admin-consent URL; docs/tenants.md).')
@allowed([
  'AzureADMyOrg'
  'AzureADMultipleOrgs'
])
param signInAudience string = 'AzureADMyOrg'

@description('False leaves the admin consent to a person (Entra admin center, "Grant admin consent"); the deploying identity then needs no AppRoleAssignment.ReadWrite.All.')
param assignGraphAppRole bool = true

@description('True: the application also requires, and (with assignGraphAppRole) is granted, the Microsoft Graph application permission GroupMember.Read.All, the least privilege that lists groups and their members (docs/groups.md). Default false: existing deployments are unchanged.')
param groups bool = false

@description('True when the service principal already holds GroupMember.Read.All (infra/scripts/graph-grant-exists.sh with its app role id): as for graphGrantExists, a second creation of the same grant fails.')
param groupMemberGrantExists bool = false

// Refuse to create the application in the wrong place. The check sits in a variable that the
// application uses, so the deployment stops before anything is created.
var wrongTenant = !empty(graphTenantId) && graphTenantId != tenant().tenantId
var wrongCloud = graphCloud != 'AzurePublic' || environment().name != 'AzureCloud'
var placementError = wrongTenant
  ? 'GRAPH_TENANT_ID is ${graphTenantId}, but this deployment runs in tenant ${tenant().tenantId}: the application would be created in the wrong tenant. Deploy the Entra part with an identity of tenant ${graphTenantId}, or set MANAGE_APP_REGISTRATION=false and create the app registration by hand (docs/deploy.md, "Another tenant or a national cloud").'
  : 'GRAPH_CLOUD is ${graphCloud} (deployment cloud ${environment().name}): the Microsoft Graph Bicep extension only creates applications in the Azure public cloud. Set MANAGE_APP_REGISTRATION=false and create the app registration by hand (docs/deploy.md, "Another tenant or a national cloud").'
var checkedDisplayName = wrongTenant || wrongCloud ? fail(placementError) : 'Entra user sync (${environmentName})'

// The two credentials are exclusive, as GRAPH_CREDENTIAL is: no certificate is registered when the
// managed identity is trusted.
var useFederatedCredential = !empty(federatedIdentityPrincipalId)
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
var userReadAllAppRoleId = 'df021288-bdef-4463-88db-98f22de89214'
var groupMemberReadAllAppRoleId = '98830695-27a2-44f7-8c18-0c3ebc9698f6'
// The application permissions the app requires on Microsoft Graph.
var graphAppRoleIds = groups ? [userReadAllAppRoleId, groupMemberReadAllAppRoleId] : [userReadAllAppRoleId]
var federatedIdentityIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var tokenExchangeAudience = 'api://AzureADTokenExchange'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: appUniqueName
  displayName: checkedDisplayName
  signInAudience: signInAudience
  notes: 'Managed by the entra-user-sync deployment (infra/entra/main.bicep). Manual changes are overwritten.'
  // Where Entra sends an administrator after admin consent (the consent URL's redirect_uri): the
  // cloud's portal, a Microsoft page with nothing to run (docs/decisions.md). The command line's
  // `tenants consent-url` sends exactly this URI (src/configuration/clouds.ts, consentRedirectUri).
  web: {
    redirectUris: [
      '${environment().portal}/'
    ]
  }
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: map(graphAppRoleIds, appRoleId => {
        id: appRoleId
        type: 'Role'
      })
    }
  ]
  keyCredentials: useFederatedCredential ? [] : map(certificateCredentials, credential => {
    type: 'AsymmetricX509Cert'
    usage: 'Verify'
    key: credential.key
    displayName: credential.displayName
    startDateTime: credential.startDateTime
    endDateTime: credential.endDateTime
  })
}

// The function's managed identity as the app's credential (workload identity federation): Entra
// accepts the identity's token for the exchange audience as the client assertion.
resource managedIdentityCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = if (useFederatedCredential) {
  name: '${app.uniqueName}/function-managed-identity'
  description: 'The entra-user-sync function app\'s user-assigned managed identity (GRAPH_CREDENTIAL=managedIdentityFederation).'
  issuer: federatedIdentityIssuer
  subject: federatedIdentityPrincipalId
  audiences: [
    tokenExchangeAudience
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

resource userReadAllGrant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (assignGraphAppRole && !graphGrantExists) {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: userReadAllAppRoleId
}

resource groupMemberReadAllGrant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (groups && assignGraphAppRole && !groupMemberGrantExists) {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: groupMemberReadAllAppRoleId
}

output GRAPH_CLIENT_ID string = app.appId
output servicePrincipalId string = servicePrincipal.id
