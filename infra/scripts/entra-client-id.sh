#!/usr/bin/env bash
# Prints the application's client id from the last Entra deployment's outputs in the resource group
# (empty before the first one). Lets the Azure deployment, whose identity has no Microsoft Graph
# permission, set GRAPH_CLIENT_ID without asking Graph. Any failure other than "no such deployment"
# stops the caller.
# Usage: entra-client-id.sh <resource group> [deployment name, default entra-user-sync-entra]
set -euo pipefail
resource_group=${1:?usage: entra-client-id.sh <resource group> [deployment name]}
name=${2:-entra-user-sync-entra}
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
if client_id=$(az deployment group show --resource-group "$resource_group" --name "$name" \
  --query properties.outputs.GRAPH_CLIENT_ID.value -o tsv 2>"$errors"); then
  printf '%s\n' "$client_id"
elif grep -q 'DeploymentNotFound' "$errors"; then
  echo "No Entra deployment $name in $resource_group yet: GRAPH_CLIENT_ID stays empty until it runs." >&2
  printf '\n'
else
  cat "$errors" >&2
  exit 1
fi
