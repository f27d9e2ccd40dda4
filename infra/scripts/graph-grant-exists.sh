#!/usr/bin/env bash
# Prints "true" when the application with the given uniqueName already holds the Microsoft Graph
# User.Read.All application permission (an appRoleAssignment on its service principal), else "false".
# A second argument names another app role of Microsoft Graph by id (GroupMember.Read.All's for groups).
#
# Why: the Graph Bicep extension creates Microsoft.Graph/appRoleAssignedTo with a POST, and a second
# POST of the same grant fails ("Permission being assigned already exists on the object";
# microsoftgraph/msgraph-bicep-types#161). The template therefore declares the grant only when this
# check says it is missing (parameter graphGrantExists). Runs with the deploying identity's own Graph
# rights (Application.Read.All) in the pipeline and in the azd preprovision hook.
# Usage: graph-grant-exists.sh <application uniqueName> [<app role id>]
set -euo pipefail

unique_name=${1:?usage: graph-grant-exists.sh <application uniqueName> [<app role id>]}
graph=https://graph.microsoft.com/v1.0
graph_app_id=00000003-0000-0000-c000-000000000000
user_read_all=df021288-bdef-4463-88db-98f22de89214
app_role_id=${2:-$user_read_all}

# GET that returns the value of --query, or nothing when Graph answers 404 (the object does not exist).
# Any other failure (permissions, network) stops the script: guessing "false" would make the
# deployment create a grant that may already exist.
graph_get() {
  local url=$1 query=$2 output
  if output=$(az rest --method get --url "$url" --query "$query" -o tsv 2>&1); then
    printf '%s' "$output"
  elif grep -qE 'Request_ResourceNotFound|Not Found|NotFound' <<<"$output"; then
    printf ''
  else
    printf 'Microsoft Graph request failed for %s:\n%s\n' "$url" "$output" >&2
    printf 'The deploying identity needs the Application.Read.All application permission (see docs/deploy.md).\n' >&2
    return 1
  fi
}

app_id=$(graph_get "$graph/applications(uniqueName='$unique_name')?\$select=appId" appId)
if [[ -z "$app_id" ]]; then
  echo false
  exit 0
fi
sp_id=$(graph_get "$graph/servicePrincipals(appId='$app_id')?\$select=id" id)
if [[ -z "$sp_id" ]]; then
  echo false
  exit 0
fi
graph_sp_id=$(graph_get "$graph/servicePrincipals(appId='$graph_app_id')?\$select=id" id)
count=$(graph_get "$graph/servicePrincipals/$sp_id/appRoleAssignments" \
  "length(value[?resourceId=='$graph_sp_id' && appRoleId=='$app_role_id'])")
if [[ "${count:-0}" -gt 0 ]]; then echo true; else echo false; fi
