#!/usr/bin/env bash
# After a deployment: checks that the function app has registered the userSync function and that the
# app settings the code needs are present. Only setting names (and GRAPH_CREDENTIAL's mode) are
# compared; no value is printed, so no secret is read back into the log.
# Usage: smoke-check.sh <resource group> <function app name>
# SMOKE_CHECK_ATTEMPTS (default 20) x SMOKE_CHECK_DELAY_SECONDS (default 15): how long to wait for the
# host to sync its triggers after a deployment.
set -euo pipefail
resource_group=${1:?usage: smoke-check.sh <resource group> <function app name>}
app=${2:?usage: smoke-check.sh <resource group> <function app name>}
attempts=${SMOKE_CHECK_ATTEMPTS:-20}
delay=${SMOKE_CHECK_DELAY_SECONDS:-15}

for ((attempt = 1; ; attempt++)); do
  functions=$(az functionapp function list --resource-group "$resource_group" --name "$app" --query '[].name' -o tsv)
  if grep -qx "$app/userSync" <<<"$functions"; then
    echo "ok: function userSync is registered"
    break
  fi
  if ((attempt >= attempts)); then
    echo "Smoke check failed: $app has not registered the userSync function (found: ${functions:-none})." >&2
    echo "Check the deployment log and the app's Log stream: the package may lack dist/src or its dependencies." >&2
    exit 1
  fi
  echo "Waiting for $app to register userSync (attempt $attempt of $attempts)..."
  sleep "$delay"
done

# Names of the settings that have a non-empty value; the values themselves stay in Azure.
names=$(az functionapp config appsettings list --resource-group "$resource_group" --name "$app" \
  --query "[?value != null && value != ''].name" -o tsv)
mode=$(az functionapp config appsettings list --resource-group "$resource_group" --name "$app" \
  --query "[?name == 'GRAPH_CREDENTIAL'].value | [0]" -o tsv)
required=(GRAPH_TENANT_ID GRAPH_CLIENT_ID GRAPH_CLOUD GRAPH_CREDENTIAL SNAPSHOT_STORAGE__tableServiceUri
  USER_SYNC_SCHEDULE USER_SYNC_MAX_RUN_MINUTES AzureWebJobsStorage__accountName AZURE_CLIENT_ID
  APPLICATIONINSIGHTS_CONNECTION_STRING)
if [[ "$mode" == keyVaultCertificate ]]; then
  required+=(KEY_VAULT_URL KEY_VAULT_CERTIFICATE_NAME)
fi
missing=()
for name in "${required[@]}"; do
  grep -qx "$name" <<<"$names" || missing+=("$name")
done
if ((${#missing[@]} > 0)); then
  echo "Smoke check failed: $app lacks these app settings (or they are empty): ${missing[*]}" >&2
  echo "Run the pipeline's Azure stage again; GRAPH_CLIENT_ID comes from the Entra stage (docs/deploy.md)." >&2
  exit 1
fi
echo "ok: the ${#required[@]} app settings the code needs are present (GRAPH_CREDENTIAL=$mode)"
