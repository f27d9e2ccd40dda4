#!/usr/bin/env bash
# Deploys the Entra part (infra/entra/main.bicep: the app registration, its credential and its
# Microsoft Graph grant) into the resource group, and prints the application's client id.
# Used by the pipeline's Entra stage and by the azd postprovision hook (azd-postprovision.sh); runs
# with the identity that holds the Microsoft Graph permissions (docs/deploy.md), after the Azure
# deployment, whose outputs it takes.
#
# Inputs (environment): AZURE_RESOURCE_GROUP, AZURE_ENV_NAME, and as infra/entra/main.bicepparam
# reads them: APP_UNIQUE_NAME, CERTIFICATE_CREDENTIALS (JSON array), FUNCTION_IDENTITY_PRINCIPAL_ID,
# GRAPH_CREDENTIAL, GRAPH_TENANT_ID, GRAPH_CLOUD, ASSIGN_GRAPH_APP_ROLE, USER_SYNC_GROUPS (true: also
# GroupMember.Read.All, docs/groups.md).
# ENTRA_DEPLOYMENT_NAME names the deployment (default entra-user-sync-entra).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

: "${AZURE_RESOURCE_GROUP:?set AZURE_RESOURCE_GROUP to the resource group of the deployment}"
: "${AZURE_ENV_NAME:?set AZURE_ENV_NAME to the environment name (e.g. prod)}"
export APP_UNIQUE_NAME="${APP_UNIQUE_NAME:-entra-user-sync-$AZURE_ENV_NAME}"
# GroupMember.Read.All's app role id on Microsoft Graph (infra/entra/main.bicep).
group_member_read_all=98830695-27a2-44f7-8c18-0c3ebc9698f6

# The grant check is a statement of its own, so that its failure (missing Graph permission, network)
# stops the deployment here with its own message, before anything is deployed.
grant_exists=$(bash "$here/graph-grant-exists.sh" "$APP_UNIQUE_NAME")
export GRAPH_GRANT_EXISTS="$grant_exists"
echo "User.Read.All grant already present: $GRAPH_GRANT_EXISTS" >&2
group_grant_exists=false
if [[ "${USER_SYNC_GROUPS:-false}" == "true" ]]; then
  group_grant_exists=$(bash "$here/graph-grant-exists.sh" "$APP_UNIQUE_NAME" "$group_member_read_all")
  echo "GroupMember.Read.All grant already present: $group_grant_exists" >&2
fi
export GROUP_MEMBER_GRANT_EXISTS="$group_grant_exists"

client_id=$(az deployment group create \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "${ENTRA_DEPLOYMENT_NAME:-entra-user-sync-entra}" \
  --parameters "$here/../entra/main.bicepparam" \
  --query properties.outputs.GRAPH_CLIENT_ID.value -o tsv)
if [[ -z "$client_id" ]]; then
  echo "The Entra deployment returned no GRAPH_CLIENT_ID output." >&2
  exit 1
fi
printf '%s\n' "$client_id"
