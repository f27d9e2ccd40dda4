#!/usr/bin/env bash
# Compiles and lints the Bicep in infra/ with the real Bicep CLI; any error or warning fails.
# Warnings that are accepted are turned off, each with its reason, in infra/bicepconfig.json.
#
#   bash tools/infra-check.sh            use `bicep` from the PATH, or the Azure CLI's (npm run infra:check)
#   bash tools/infra-check.sh --restore  fetch the pinned Bicep CLI from NuGet first (.ci/run, the pipeline)
#   bash tools/infra-check.sh --restore --print-path   only restore, and print the binary's path
#
# The pinned version lives in tools/bicep/bicep.csproj. --restore runs `dotnet restore` on it into
# BICEP_CACHE_DIR (default ~/.cache/entra-user-sync/bicep): a few seconds once, nothing when cached.
#
# The Entra template (infra/entra) uses the Microsoft Graph extension, whose container registry is out
# of reach of CI machines. It is built here from the extension's generated types of the version that
# infra/entra/bicepconfig.json pins, vendored in tools/bicep/msgraph-types (`bicep publish-extension`,
# offline), and infra/entra is compiled with a copy of its bicepconfig.json that names that file
# instead of the registry; everything else in the copy (the linter rules) is the real configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

restore=false print_path=false
for arg in "$@"; do
  case "$arg" in
    --restore) restore=true ;;
    --print-path) print_path=true ;;
    *) echo "infra-check: unknown option $arg" >&2; exit 2 ;;
  esac
done

cache="${BICEP_CACHE_DIR:-$HOME/.cache/entra-user-sync/bicep}"
bicep=()
if $restore; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "infra-check: --restore fetches the linux-x64 Bicep CLI; on $(uname -s)-$(uname -m) install Bicep and run without --restore" >&2; exit 1 ;;
  esac
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "infra-check: --restore needs the .NET SDK (dotnet) to fetch Bicep from NuGet" >&2
    exit 1
  fi
  version=$(sed -n 's:.*<BicepVersion>\(.*\)</BicepVersion>.*:\1:p' tools/bicep/bicep.csproj)
  binary="$cache/packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
  if [ ! -x "$binary" ]; then
    echo "infra-check: restoring Bicep CLI $version from NuGet" >&2
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet restore tools/bicep/bicep.csproj \
      --packages "$cache/packages" -p:MSBuildProjectExtensionsPath="$cache/obj/" --verbosity quiet >&2
    chmod +x "$binary"
  fi
  bicep=("$binary")
elif command -v bicep >/dev/null 2>&1; then
  bicep=(bicep)
elif [ -x "$HOME/.azure/bin/bicep" ]; then
  # Where `az bicep install` puts it (the Azure CLI's own wrapper takes different options).
  bicep=("$HOME/.azure/bin/bicep")
else
  cat >&2 <<'HELP'
infra-check: no Bicep CLI found on the PATH.
Install one of:
  - the Azure CLI's Bicep:    az bicep install        (found in ~/.azure/bin)
  - the standalone Bicep CLI: https://learn.microsoft.com/azure/azure-resource-manager/bicep/install
  - on Linux x64 with the .NET SDK, the pinned version CI uses:  bash tools/infra-check.sh --restore
HELP
  exit 1
fi

if $print_path; then
  printf '%s\n' "${bicep[@]}"
  exit 0
fi

echo "infra-check: $("${bicep[@]}" --version)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0

# The Microsoft Graph extension of the pinned version, from its vendored generated types.
entra_config=infra/entra/bicepconfig.json
graph_ref=$(sed -n 's/^ *"microsoftGraphV1": *"\(br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/[^"]*\)".*/\1/p' "$entra_config")
graph_pin=${graph_ref#br:mcr.microsoft.com/bicep/extensions/microsoftgraph/}
graph_types="tools/bicep/msgraph-types/microsoft.graph/${graph_pin%%:*}/${graph_pin##*:}"
if [ -z "$graph_ref" ] || [ "$graph_pin" = "${graph_pin%%:*}" ]; then
  echo "infra-check: $entra_config names no microsoftGraphV1 extension of the form br:mcr.microsoft.com/bicep/extensions/microsoftgraph/<api>:<version>" >&2
  exit 1
fi
if [ ! -f "$graph_types/index.json" ] || [ ! -f "$graph_types/types.json" ]; then
  echo "infra-check: $entra_config pins $graph_ref, but $graph_types has no index.json and types.json." >&2
  echo "  Copy generated/microsoftgraph/microsoft.graph/${graph_pin%%:*}/${graph_pin##*:}/ from microsoftgraph/msgraph-bicep-types there (tools/bicep/msgraph-types/README.md)." >&2
  exit 1
fi
if ! "${bicep[@]}" publish-extension "$graph_types/index.json" --target "$out/microsoftgraph.tgz" >"$out/publish-extension.log" 2>&1; then
  echo "infra-check: bicep publish-extension could not build the Microsoft Graph extension from $graph_types:" >&2
  sed 's/^/  /' "$out/publish-extension.log" >&2
  exit 1
fi
mkdir -p "$out/entra"
sed "s#\"$graph_ref\"#\"$out/microsoftgraph.tgz\"#" "$entra_config" >"$out/entra/bicepconfig.json"
echo "infra-check: Microsoft Graph extension ${graph_pin%%:*} ${graph_pin##*:} built from $graph_types"
# Restored into Bicep's cache once, before the checks: the checks run two at a time, and two processes
# restoring the same new artifact race (one saw "has not been restored", BCP190, in CI).
if ! "${bicep[@]}" restore infra/entra/main.bicep --config "$out/entra/bicepconfig.json" >"$out/restore.log" 2>&1; then
  echo "infra-check: bicep restore could not restore the Microsoft Graph extension built from $graph_types:" >&2
  sed 's/^/  /' "$out/restore.log" >&2
  exit 1
fi

# Each check runs as its own Bicep process (a second or two to start), two at a time; a check fails on
# a non-zero exit or on any Warning/Error diagnostic. Results are printed in order.
labels=() expects=()
check() {
  # check <label> <expected failure message, or empty> <environment assignments...> -- <bicep arguments...>
  local i=${#labels[@]} label=$1 expected=$2
  shift 2
  labels+=("$label") expects+=("$expected")
  local assignments=()
  while [ "$1" != -- ]; do assignments+=("$1"); shift; done
  shift
  (
    rc=0
    env "${assignments[@]}" "${bicep[@]}" "$@" >"$out/$i.log" 2>&1 || rc=$?
    echo "$rc" >"$out/$i.rc"
  ) &
  if (( ${#labels[@]} % 2 == 0 )); then wait; fi
}

# Sample values for the environment variables the parameters files read without a default.
export AZURE_ENV_NAME="${AZURE_ENV_NAME:-ci}"

# The modules compile on their own (so one no template uses yet is checked too); linting and the
# parameters file compile main.bicep with every module it uses.
check "build infra/modules/*.bicep" "" -- build --pattern 'infra/modules/*.bicep' --outdir "$out/modules"
check "lint  infra/main.bicep (and the modules it uses)" "" -- lint infra/main.bicep
check "build-params infra/main.bicepparam (builds infra/main.bicep)" "" -- build-params infra/main.bicepparam --outfile "$out/main.parameters.json"
check "build-params refuses GRAPH_CLOUD=AzureUSGovernment with MANAGE_APP_REGISTRATION=true" \
  "only creates app registrations in the Azure public cloud" GRAPH_CLOUD=AzureUSGovernment MANAGE_APP_REGISTRATION=true -- \
  build-params infra/main.bicepparam --outfile "$out/refused.parameters.json"
# The Entra deployment, against the Microsoft Graph extension's types.
entra=(--config "$out/entra/bicepconfig.json")
check "build infra/entra/main.bicep" "" -- build infra/entra/main.bicep --outfile "$out/entra/main.json" "${entra[@]}"
check "lint  infra/entra/main.bicep" "" -- lint infra/entra/main.bicep "${entra[@]}"
check "build-params infra/entra/main.bicepparam (builds infra/entra/main.bicep)" "" GRAPH_GRANT_EXISTS=false -- \
  build-params infra/entra/main.bicepparam --outfile "$out/entra/main.parameters.json" "${entra[@]}"
check "build-params infra/entra/main.bicepparam refuses GRAPH_CLOUD=AzureChina" \
  "only creates applications in the Azure public cloud" GRAPH_GRANT_EXISTS=false GRAPH_CLOUD=AzureChina -- \
  build-params infra/entra/main.bicepparam --outfile "$out/entra/refused.parameters.json" "${entra[@]}"
# Deliberate errors, in copies under $out: each must fail, or the check does not see what it claims to.
# A signInAudience outside the template's @allowed list (a parameters file naming the real template):
up=$(printf '%s' "$out/entra" | sed 's#[^/][^/]*#..#g; s#^/##')
sed -e "s#^using './main.bicep'#using '$up/${PWD#/}/infra/entra/main.bicep'#" \
  -e "s/^param signInAudience = .*/param signInAudience = 'AzureADMultipleOrg'/" infra/entra/main.bicepparam >"$out/entra/bad-audience.bicepparam"
check "build-params refuses signInAudience 'AzureADMultipleOrg' (not in the template's @allowed)" \
  "the provided value is of type \"'AzureADMultipleOrg'\"" GRAPH_GRANT_EXISTS=false -- \
  build-params "$out/entra/bad-audience.bicepparam" --outfile "$out/entra/bad-audience.parameters.json" "${entra[@]}"
# A property the extension's application type does not have (so the Graph types are in force):
sed 's/^  signInAudience: signInAudience$/  signInAudiences: signInAudience/' infra/entra/main.bicep >"$out/entra/bad-property.bicep"
check "build refuses a Microsoft.Graph/applications property the extension does not define" \
  'The property "signInAudiences" is not allowed on objects of type "Microsoft.Graph/applications"' -- \
  build "$out/entra/bad-property.bicep" --outfile "$out/entra/bad-property.json" "${entra[@]}"
wait

for i in "${!labels[@]}"; do
  rc=$(cat "$out/$i.rc")
  # A warning fails a check as an error does.
  reported=false
  if [ "$rc" -ne 0 ] || grep -qE ' : (Warning|Error) ' "$out/$i.log"; then reported=true; fi
  if [ -z "${expects[$i]}" ] && ! $reported; then
    echo "  ok    ${labels[$i]}"
  elif [ -n "${expects[$i]}" ] && $reported && grep -qF "${expects[$i]}" "$out/$i.log"; then
    echo "  ok    ${labels[$i]}"
  else
    echo "  FAIL  ${labels[$i]}${expects[$i]:+ (expected a failure mentioning: ${expects[$i]})}"
    sed 's/^/        /' "$out/$i.log"
    failed=1
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "infra-check: Bicep reported errors or warnings (see above)" >&2
  exit 1
fi
echo "infra-check: all Bicep compiled and linted without warnings"
