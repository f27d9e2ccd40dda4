#!/usr/bin/env bash
# Runs inside the deployment script (Azure CLI container) of infra/modules/certificate.bicep.
# 1. Makes sure every named certificate exists in the vault, creating a self-signed one when missing
#    (exportable RSA key, PKCS#12 backing secret: what the function reads).
# 2. Writes the public part (base64 DER) of every enabled, unexpired version of those certificates to
#    the script outputs, as the app registration's key credentials. Only public data leaves the vault:
#    this script never reads a secret or a private key.
# Inputs (environment): VAULT_NAME, CERTIFICATE_NAMES (space-separated), CERTIFICATE_SUBJECT,
#                       VALIDITY_IN_MONTHS.
set -euo pipefail

: "${VAULT_NAME:?}" "${CERTIFICATE_NAMES:?}" "${CERTIFICATE_SUBJECT:?}" "${VALIDITY_IN_MONTHS:?}"

# Role assignments made in the same deployment take a few minutes to reach Key Vault: retry on 403.
# Only the command's standard output is returned (it is parsed as JSON); its standard error (warnings,
# errors) goes to the script's standard error and decides whether to retry.
errors_file=$(mktemp)
trap 'rm -f "$errors_file"' EXIT
with_retry() {
  local attempt=1 output
  while true; do
    if output=$("$@" 2>"$errors_file"); then
      cat "$errors_file" >&2
      printf '%s' "$output"
      return 0
    fi
    if [[ $attempt -ge 30 ]] || ! grep -qiE 'forbidden|not authorized|403' "$errors_file"; then
      cat "$errors_file" >&2
      return 1
    fi
    echo "Waiting for the Key Vault role assignment to propagate (attempt $attempt)..." >&2
    attempt=$((attempt + 1))
    sleep "${RETRY_DELAY_SECONDS:-20}"
  done
}

policy=$(jq -n --arg subject "$CERTIFICATE_SUBJECT" --argjson months "$VALIDITY_IN_MONTHS" '{
  issuerParameters: { name: "Self" },
  keyProperties: { exportable: true, keyType: "RSA", keySize: 2048, reuseKey: false },
  secretProperties: { contentType: "application/x-pkcs12" },
  x509CertificateProperties: {
    subject: $subject,
    validityInMonths: $months,
    keyUsage: ["digitalSignature"],
    ekus: ["1.3.6.1.5.5.7.3.2"]
  },
  lifetimeActions: [ { trigger: { daysBeforeExpiry: 30 }, action: { actionType: "EmailContacts" } } ]
}')

now=$(date -u +%s)
credentials='[]'
for name in $CERTIFICATE_NAMES; do
  if ! with_retry az keyvault certificate list-versions --vault-name "$VAULT_NAME" --name "$name" --query '[0].id' -o tsv >/dev/null; then
    echo "Creating certificate $name in $VAULT_NAME" >&2
    with_retry az keyvault certificate create --vault-name "$VAULT_NAME" --name "$name" --policy "$policy" >/dev/null
  fi
  versions=$(with_retry az keyvault certificate list-versions --vault-name "$VAULT_NAME" --name "$name" -o json)
  for id in $(jq -r '.[] | select(.attributes.enabled == true) | .id' <<<"$versions"); do
    cert=$(with_retry az keyvault certificate show --id "$id" -o json)
    expires=$(jq -r '.attributes.expires' <<<"$cert")
    if [[ $(date -u -d "$expires" +%s) -le $now ]]; then
      continue
    fi
    credentials=$(jq --argjson cert "$cert" --arg name "$name" '. + [{
      displayName: ($name + " " + ($cert.x509ThumbprintHex // $cert.x509Thumbprint // "" | tostring | .[0:16])),
      key: $cert.cer,
      startDateTime: $cert.attributes.notBefore,
      endDateTime: $cert.attributes.expires
    }]' <<<"$credentials")
  done
done

if [[ $(jq 'length' <<<"$credentials") -eq 0 ]]; then
  echo "No enabled, unexpired certificate version found in $VAULT_NAME for: $CERTIFICATE_NAMES" >&2
  exit 1
fi

jq -n --argjson credentials "$credentials" '{ certificateCredentials: $credentials }' >"$AZ_SCRIPTS_OUTPUT_PATH"
