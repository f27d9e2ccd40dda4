#!/usr/bin/env bash
# Prints the application's client id for the Azure deployment's GRAPH_CLIENT_ID, without asking
# Microsoft Graph (the Azure identity has no Graph permission):
#   1. the output of the last Entra deployment in the resource group, when it succeeded;
#   2. else the value the last Azure deployment used (its output GRAPH_CLIENT_ID), so that a failed
#      Entra deployment never blanks the setting of a working app;
#   3. else nothing: the first deployment, before the application exists.
# Any failure other than "no such deployment" stops the caller.
# Usage: entra-client-id.sh <resource group> [Entra deployment name] [Azure deployment name]
set -euo pipefail
resource_group=${1:?usage: entra-client-id.sh <resource group> [Entra deployment name] [Azure deployment name]}
entra=${2:-entra-user-sync-entra}
azure=${3:-entra-user-sync-azure}
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

# Prints "<provisioning state> <GRAPH_CLIENT_ID output>" of a deployment, or nothing if there is none.
state_and_client_id() {
  local found
  if found=$(az deployment group show --resource-group "$resource_group" --name "$1" \
    --query "[properties.provisioningState, properties.outputs.GRAPH_CLIENT_ID.value]" -o tsv 2>"$errors"); then
    printf '%s\n' "$found" | paste -sd' ' -
  elif grep -q 'DeploymentNotFound' "$errors"; then
    printf ''
  else
    cat "$errors" >&2
    return 1
  fi
}

entra_result=$(state_and_client_id "$entra")
read -r state client_id <<<"$entra_result" || true
if [[ "${state:-}" == Succeeded && -n "${client_id:-}" ]]; then
  printf '%s\n' "$client_id"
  exit 0
fi
if [[ -n "${state:-}" ]]; then
  echo "The last Entra deployment $entra is ${state}: using the client id of the last Azure deployment." >&2
fi
azure_result=$(state_and_client_id "$azure")
read -r _ client_id <<<"$azure_result" || true
if [[ -z "${client_id:-}" && -z "${state:-}" ]]; then
  echo "No Entra deployment $entra in $resource_group yet: GRAPH_CLIENT_ID stays empty until it runs." >&2
fi
printf '%s\n' "${client_id:-}"
