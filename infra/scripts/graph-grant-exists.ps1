# Windows counterpart of graph-grant-exists.sh, for the azd hook in PowerShell: prints "true" when the
# application with the given uniqueName already holds the Microsoft Graph User.Read.All application
# permission, else "false". Any other failure (permissions, network) exits 1 with the reason:
# guessing "false" would make the deployment create a grant that may already exist.
# It asks the Azure CLI for a token only, and calls Graph with Invoke-WebRequest: Graph URLs hold
# parentheses and quotes, which the Azure CLI's Windows launcher (az.cmd) does not pass through safely.
# GRAPH_GRANT_CHECK_URL replaces https://graph.microsoft.com (tests).
# A second argument names another app role of Microsoft Graph by id (GroupMember.Read.All's for groups).
# Usage: graph-grant-exists.ps1 <application uniqueName> [<app role id>]
param([Parameter(Mandatory = $true)][string]$UniqueName, [string]$AppRoleId = '')
$ErrorActionPreference = 'Stop'

$graph = if ($env:GRAPH_GRANT_CHECK_URL) { $env:GRAPH_GRANT_CHECK_URL } else { 'https://graph.microsoft.com' }
$graph = "$graph/v1.0"
$graphAppId = '00000003-0000-0000-c000-000000000000'
$userReadAll = 'df021288-bdef-4463-88db-98f22de89214'
$roleId = if ($AppRoleId) { $AppRoleId } else { $userReadAll }
$permissionHint = 'The deploying identity needs the Application.Read.All application permission (see docs/deploy.md).'

function Stop-Check([string]$Message) {
  [Console]::Error.WriteLine($Message)
  [Console]::Error.WriteLine($permissionHint)
  exit 1
}

$token = & az account get-access-token --resource-type ms-graph --query accessToken -o tsv
if ($LASTEXITCODE -ne 0 -or -not $token) { Stop-Check 'Could not get a Microsoft Graph token from the Azure CLI: run az login.' }
$headers = @{ Authorization = "Bearer $(($token | Out-String).Trim())" }

# GET that returns the parsed answer, or $null when Graph answers 404 (the object does not exist).
function Get-Graph([string]$Path) {
  $url = "$graph/$Path"
  try {
    $response = Invoke-WebRequest -Uri $url -Headers $headers -SkipHttpErrorCheck -TimeoutSec 60
  }
  catch {
    Stop-Check "Microsoft Graph request failed for ${url}: $($_.Exception.Message)"
  }
  if ($response.StatusCode -eq 404) { return $null }
  if ($response.StatusCode -ge 400) { Stop-Check "Microsoft Graph request failed for ${url}: HTTP $($response.StatusCode)`n$($response.Content)" }
  return ($response.Content | ConvertFrom-Json)
}

$app = Get-Graph "applications(uniqueName='$UniqueName')?`$select=appId"
if (-not $app) { 'false'; exit 0 }
$servicePrincipal = Get-Graph "servicePrincipals(appId='$($app.appId)')?`$select=id"
if (-not $servicePrincipal) { 'false'; exit 0 }
$microsoftGraph = Get-Graph "servicePrincipals(appId='$graphAppId')?`$select=id"
$assignments = Get-Graph "servicePrincipals/$($servicePrincipal.id)/appRoleAssignments"
$grants = @($assignments.value | Where-Object { $_.resourceId -eq $microsoftGraph.id -and $_.appRoleId -eq $roleId })
if ($grants.Count -gt 0) { 'true' } else { 'false' }
exit 0
