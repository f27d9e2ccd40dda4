# azd postprovision hook (azure.yaml, windows): the PowerShell counterpart of azd-postprovision.sh.
# After `azd provision` has deployed infra/main.bicep, deploys the Entra part (infra/entra) with your
# own `az login`, and hands the application's client id to the function app.
$ErrorActionPreference = 'Stop'

if ($env:MANAGE_APP_REGISTRATION -eq 'false') {
  "MANAGE_APP_REGISTRATION is false: the app registration is managed by hand (GRAPH_CLIENT_ID=$env:GRAPH_CLIENT_ID)."
  exit 0
}
if (-not $env:AZURE_RESOURCE_GROUP) { [Console]::Error.WriteLine('Set AZURE_RESOURCE_GROUP (azd env set AZURE_RESOURCE_GROUP <name>).'); exit 1 }
if (-not $env:APP_UNIQUE_NAME) { $env:APP_UNIQUE_NAME = "entra-user-sync-$env:AZURE_ENV_NAME" }

# The grant check is a statement of its own: its failure stops the hook (and `azd up`) here, with its
# own message, before the Entra deployment.
$grantExists = & (Join-Path $PSScriptRoot 'graph-grant-exists.ps1') $env:APP_UNIQUE_NAME
if ($LASTEXITCODE -ne 0) { [Console]::Error.WriteLine('The User.Read.All grant check failed (above): nothing was deployed.'); exit 1 }
$env:GRAPH_GRANT_EXISTS = $grantExists
[Console]::Error.WriteLine("User.Read.All grant already present: $grantExists")
# With USER_SYNC_GROUPS=true the Entra deployment also grants GroupMember.Read.All (docs/groups.md): checked the same way.
$env:GROUP_MEMBER_GRANT_EXISTS = 'false'
if ($env:USER_SYNC_GROUPS -eq 'true') {
  $groupGrantExists = & (Join-Path $PSScriptRoot 'graph-grant-exists.ps1') $env:APP_UNIQUE_NAME '98830695-27a2-44f7-8c18-0c3ebc9698f6'
  if ($LASTEXITCODE -ne 0) { [Console]::Error.WriteLine('The GroupMember.Read.All grant check failed (above): nothing was deployed.'); exit 1 }
  $env:GROUP_MEMBER_GRANT_EXISTS = $groupGrantExists
  [Console]::Error.WriteLine("GroupMember.Read.All grant already present: $groupGrantExists")
}

$deploymentName = if ($env:ENTRA_DEPLOYMENT_NAME) { $env:ENTRA_DEPLOYMENT_NAME } else { 'entra-user-sync-entra' }
$parameters = Join-Path $PSScriptRoot (Join-Path '..' (Join-Path 'entra' 'main.bicepparam'))
$clientId = & az deployment group create --resource-group $env:AZURE_RESOURCE_GROUP --name $deploymentName `
  --parameters $parameters --query properties.outputs.GRAPH_CLIENT_ID.value -o tsv
if ($LASTEXITCODE -ne 0) { exit 1 }
$clientId = ($clientId | Out-String).Trim()
if (-not $clientId) { [Console]::Error.WriteLine('The Entra deployment returned no GRAPH_CLIENT_ID output.'); exit 1 }

if ($clientId -ne $env:GRAPH_CLIENT_ID) {
  & azd env set GRAPH_CLIENT_ID $clientId
  if ($LASTEXITCODE -ne 0) { exit 1 }
  & az functionapp config appsettings set --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_NAME `
    --settings "GRAPH_CLIENT_ID=$clientId" --output none
  if ($LASTEXITCODE -ne 0) { exit 1 }
}
"App registration ready: GRAPH_CLIENT_ID=$clientId"
exit 0
