# Windows counterpart of graph-grant-exists.sh, for the azd hook in PowerShell: prints "true" when the
# application with the given uniqueName already holds the Microsoft Graph User.Read.All application
# permission, else "false". Any other failure (permissions, network) exits 1 with the reason:
# guessing "false" would make the deployment create a grant that may already exist.
# Usage: graph-grant-exists.ps1 <application uniqueName>
param([Parameter(Mandatory = $true)][string]$UniqueName)
$ErrorActionPreference = 'Stop'

$graph = 'https://graph.microsoft.com/v1.0'
$graphAppId = '00000003-0000-0000-c000-000000000000'
$userReadAll = 'df021288-bdef-4463-88db-98f22de89214'

# GET that returns the value of --query, or '' when Graph answers 404 (the object does not exist).
function Get-GraphValue([string]$Url, [string]$Query) {
  $errors = New-TemporaryFile
  try {
    $output = & az rest --method get --url $Url --query $Query -o tsv 2> $errors.FullName
    if ($LASTEXITCODE -eq 0) { return (($output | Out-String).Trim()) }
    $message = Get-Content -Raw -Path $errors.FullName
    if ($message -match 'Request_ResourceNotFound|Not Found|NotFound') { return '' }
    [Console]::Error.WriteLine("Microsoft Graph request failed for ${Url}:`n$message")
    [Console]::Error.WriteLine('The deploying identity needs the Application.Read.All application permission (see docs/deploy.md).')
    exit 1
  }
  finally {
    Remove-Item -Path $errors.FullName -ErrorAction SilentlyContinue
  }
}

$appId = Get-GraphValue "$graph/applications(uniqueName='$UniqueName')?`$select=appId" 'appId'
if (-not $appId) { 'false'; exit 0 }
$spId = Get-GraphValue "$graph/servicePrincipals(appId='$appId')?`$select=id" 'id'
if (-not $spId) { 'false'; exit 0 }
$graphSpId = Get-GraphValue "$graph/servicePrincipals(appId='$graphAppId')?`$select=id" 'id'
$count = Get-GraphValue "$graph/servicePrincipals/$spId/appRoleAssignments" "length(value[?resourceId=='$graphSpId' && appRoleId=='$userReadAll'])"
if ([int]("0$count") -gt 0) { 'true' } else { 'false' }
exit 0
