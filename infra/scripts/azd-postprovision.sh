#!/usr/bin/env sh
# azd postprovision hook (azure.yaml, posix): after `azd provision` has deployed infra/main.bicep,
# deploys the Entra part (deploy-entra.sh) with your own `az login`, and hands the application's
# client id to the function app. azd passes its environment (including the Azure deployment's
# outputs) as environment variables. The Windows variant is azd-postprovision.ps1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ "${MANAGE_APP_REGISTRATION:-true}" = "false" ]; then
  echo "MANAGE_APP_REGISTRATION is false: the app registration is managed by hand (GRAPH_CLIENT_ID=${GRAPH_CLIENT_ID:-})."
  exit 0
fi

# A statement of its own: a failed grant check or Entra deployment stops the hook and `azd up`.
client_id=$(bash "$here/deploy-entra.sh")
if [ "$client_id" != "${GRAPH_CLIENT_ID:-}" ]; then
  # First deployment (or a new application): the next `azd provision` passes it to Bicep, and the
  # app setting is set now so the function does not wait for that.
  azd env set GRAPH_CLIENT_ID "$client_id"
  az functionapp config appsettings set --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_NAME" \
    --settings "GRAPH_CLIENT_ID=$client_id" --output none
fi
echo "App registration ready: GRAPH_CLIENT_ID=$client_id"
