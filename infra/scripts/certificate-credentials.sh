#!/usr/bin/env bash
# Runs inside the deployment script (Azure CLI container) of infra/modules/certificate.bicep.
# 1. Makes sure every named certificate has an enabled, unexpired version in the vault:
#    - a certificate that does not exist (`az keyvault certificate show` fails with CertificateNotFound)
#      is created, self-signed (exportable RSA key, PKCS#12 backing secret: what the function reads);
#    - a certificate whose versions are all disabled or expired gets a new version, with the same policy;
#    - any other failure to read a certificate (sign-in, network, a role still missing after the
#      retries) stops the script with the Azure CLI's error: it never creates on a guess.
#    `list-versions` cannot tell "missing" apart: Key Vault answers a missing certificate's versions with
#    an empty list and success.
# 2. Writes the public part (base64 DER) of every enabled, unexpired version of those certificates to
#    the script outputs, as the app registration's key credentials. Only public data leaves the vault:
#    this script never reads a secret or a private key.
# Inputs (environment): VAULT_NAME, CERTIFICATE_NAMES (space-separated), CERTIFICATE_SUBJECT,
#                       VALIDITY_IN_MONTHS.
set -euo pipefail
# A failure inside $(...) stops the script too.
shopt -s inherit_errexit

: "${VAULT_NAME:?}" "${CERTIFICATE_NAMES:?}" "${CERTIFICATE_SUBJECT:?}" "${VALIDITY_IN_MONTHS:?}"

# Role assignments made in the same deployment take a few minutes to reach Key Vault: retry on 403.
# Only the command's standard output is returned (it is parsed as JSON). On success its standard
# error (warnings) goes to the script's standard error; on failure it stays in $errors_file for the
# caller, which decides what the error means.
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
      return 1
    fi
    echo "Waiting for the Key Vault role assignment to propagate (attempt $attempt)..." >&2
    attempt=$((attempt + 1))
    sleep "${RETRY_DELAY_SECONDS:-20}"
  done
}

# with_retry, stopping the script with the Azure CLI's error when the command fails.
az_or_stop() {
  if ! with_retry "$@"; then
    cat "$errors_file" >&2
    echo "Stopping: az ${*:1:3} failed for $VAULT_NAME (the Azure CLI's error is above)." >&2
    exit 1
  fi
}

# Whether the certificate exists: `show` succeeds, or fails with (CertificateNotFound). Any other
# failure stops the script.
certificate_exists() {
  if with_retry az keyvault certificate show --vault-name "$VAULT_NAME" --name "$1" --query id -o tsv >/dev/null; then
    return 0
  fi
  if grep -q '(CertificateNotFound)' "$errors_file"; then
    return 1
  fi
  cat "$errors_file" >&2
  echo "Stopping: could not tell whether certificate $1 exists in $VAULT_NAME (the Azure CLI's error is above); nothing was created." >&2
  exit 1
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

# Creates a certificate, or a new version of one. The Azure CLI waits for a self-signed certificate and
# prints the certificate operation; it exits with 0 even when the operation failed, so its status is read.
create_certificate() {
  local operation status
  operation=$(az_or_stop az keyvault certificate create --vault-name "$VAULT_NAME" --name "$1" --policy "$policy" -o json)
  status=$(jq -r '.status // ""' <<<"$operation")
  if [[ $status != completed ]]; then
    echo "Stopping: creating certificate $1 in $VAULT_NAME ended with status '$status': $(jq -r '.error.message // .statusDetails // "no details"' <<<"$operation")" >&2
    exit 1
  fi
}

# The ids of the certificate's enabled versions that have not expired.
now=$(date -u +%s)
usable_versions() {
  local versions id expires
  versions=$(az_or_stop az keyvault certificate list-versions --vault-name "$VAULT_NAME" --name "$1" -o json)
  for id in $(jq -r '.[] | select(.attributes.enabled == true) | .id' <<<"$versions"); do
    expires=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .attributes.expires // ""' <<<"$versions")
    if [[ -z $expires ]] || [[ $(date -u -d "$expires" +%s) -gt $now ]]; then
      echo "$id"
    fi
  done
}

credentials='[]'
for name in $CERTIFICATE_NAMES; do
  if ! certificate_exists "$name"; then
    echo "Certificate $name does not exist in $VAULT_NAME: creating it (self-signed, $VALIDITY_IN_MONTHS months)." >&2
    create_certificate "$name"
  fi
  ids=$(usable_versions "$name")
  if [[ -z $ids ]]; then
    echo "Certificate $name in $VAULT_NAME has no enabled, unexpired version: creating a new version (self-signed, $VALIDITY_IN_MONTHS months)." >&2
    create_certificate "$name"
    ids=$(usable_versions "$name")
  fi
  for id in $ids; do
    cert=$(az_or_stop az keyvault certificate show --id "$id" -o json)
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
