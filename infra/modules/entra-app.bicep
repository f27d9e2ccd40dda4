// The Microsoft Entra side: the application (keyed by its immutable uniqueName), its service
// principal, its credential (the certificate credentials, or a federated identity credential that
// trusts the function's managed identity), and the admin-consented Microsoft Graph application
// permission User.Read.All. Public cloud only (the Graph Bicep extension does not run in national
// clouds: see docs/deploy.md).
extension microsoftGraphV1

@description('Immutable unique name of the application in the tenant.')
param appUniqueName string

param displayName string

@description('Public certificate data from the certificate module: [{ displayName, key, startDateTime, endDateTime }]. Empty with a federated identity credential.')
param certificateCredentials array

@description('Principal (object) id of the managed identity to trust through a federated identity credential (GRAPH_CREDENTIAL=managedIdentityFederation). Empty: the certificate credentials are used instead.')
param federatedIdentityPrincipalId string = ''

@description('Issuer of the managed identity\'s tokens: https://<login host>/<tenant id>/v2.0.')
param federatedIdentityIssuer string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

@description('Audience of the token exchange (api://AzureADTokenExchange in the public cloud).')
param tokenExchangeAudience string = 'api://AzureADTokenExchange'

@description('True when the service principal already holds the grant (infra/scripts/graph-grant-exists.sh): a second creation of the same grant fails, so it is declared only when missing.')
param graphGrantExists bool

@description('False leaves the admin consent to a person (Entra admin center, "Grant admin consent"); the deploying identity then needs no AppRoleAssignment.ReadWrite.All.')
param assignGraphAppRole bool

// The two credentials are exclusive, as GRAPH_CREDENTIAL is: no certificate is registered when the
// managed identity is trusted.
var useFederatedCredential = !empty(federatedIdentityPrincipalId)
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
var userReadAllAppRoleId = 'df021288-bdef-4463-88db-98f22de89214'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: appUniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  notes: 'Managed by the entra-user-sync deployment (infra/main.bicep). Manual changes are overwritten.'
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        {
          id: userReadAllAppRoleId
          type: 'Role'
        }
      ]
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

output appId string = app.appId
output servicePrincipalId string = servicePrincipal.id
