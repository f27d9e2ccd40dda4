/**
 * Turns a Key Vault SDK failure into a UserSyncError that names the vault, the object, the role
 * the identity lacks and the setting to check. The SDK error is never kept as `cause`: it carries
 * the request, Authorization header included.
 */
import { isRestError } from "@azure/core-rest-pipeline";
import { UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";

export interface KeyVaultErrorContext {
  vaultUrl: string;
  /** What was being done, e.g. `reading certificate "graph-client"`. */
  operation: string;
  /** The setting that names the object, e.g. KEY_VAULT_CERTIFICATE_NAME. */
  nameSetting: string;
  /** What to say when the identity lacks permission: the role (and data action) it needs. */
  roleFix: string;
  /** What to say when the object does not exist. */
  notFoundFix: string;
}

export function translateKeyVaultError(error: unknown, context: KeyVaultErrorContext): unknown {
  if (error instanceof UserSyncError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const vault = context.vaultUrl;
  const errorName = error instanceof Error ? error.name : "";
  const identity = process.env.AZURE_CLIENT_ID
    ? `the managed identity with client ID ${process.env.AZURE_CLIENT_ID}`
    : "the identity this function runs as (its system-assigned managed identity, or your signed-in account locally)";

  if (errorName === "CredentialUnavailableError" || errorName === "AggregateAuthenticationError" || errorName === "AuthenticationError") {
    return new UserSyncError(
      "no_azure_credential",
      `No Azure credential could get a token for Key Vault ${vault} (${context.operation}). ` +
        "In Azure, assign a managed identity to the Function App (and set AZURE_CLIENT_ID to its client ID when it is user-assigned); " +
        "locally, sign in with `az login` (or `azd auth login`, `Connect-AzAccount`, or the Azure extension in VS Code). " +
        `Details: ${summarize(error)}`,
      { details: { identityClientId: process.env.AZURE_CLIENT_ID } },
    );
  }

  if (isRestError(error)) {
    const status = error.statusCode;
    const serviceMessage = summarize(error);
    const details = { statusCode: status, errorCode: error.code, identityClientId: process.env.AZURE_CLIENT_ID };
    if (status === 401) {
      return new UserSyncError(
        "key_vault_access_denied",
        `Key Vault ${vault} did not accept the token of ${identity} (HTTP 401) while ${context.operation}. The vault is probably in another tenant than the identity, ` +
          `or KEY_VAULT_URL names another vault than intended. ${context.roleFix} Key Vault said: ${serviceMessage}`,
        { details },
      );
    }
    if (status === 403) {
      return new UserSyncError(
        "key_vault_access_denied",
        /disabled/i.test(error.message)
          ? `Key Vault ${vault} refused ${context.operation} because the object (or its current version) is disabled. Enable it in Key Vault, or make an enabled version current. Key Vault said: ${serviceMessage}`
          : `Key Vault ${vault} denied ${context.operation} (HTTP 403) to ${identity}. ${context.roleFix} Role assignments can take a few minutes to apply. Key Vault said: ${serviceMessage}`,
        { details },
      );
    }
    if (status === 404) {
      return new UserSyncError("key_vault_not_found", `Key Vault ${vault} answered 404 while ${context.operation}. ${context.notFoundFix} Check ${context.nameSetting} and KEY_VAULT_URL.`, { details: { statusCode: status } });
    }
    return new UserSyncError(
      "key_vault_unavailable",
      status === undefined
        ? `Could not reach Key Vault ${vault} (${error.code ?? "network error"}) while ${context.operation}. Check KEY_VAULT_URL, DNS, and that the vault's firewall or private endpoint admits this function's network. Details: ${serviceMessage}`
        : `Key Vault ${vault} answered HTTP ${status} while ${context.operation}. Try again later; if it persists, check the vault's health in the Azure portal. Details: ${serviceMessage}`,
      { details: { statusCode: status, errorCode: error.code } },
    );
  }

  return new UserSyncError("key_vault_unavailable", `Key Vault ${vault} failed while ${context.operation}: ${summarize(error)}. Check KEY_VAULT_URL and the network path to the vault.`);
}

export function summarize(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s+/g, " ").trim();
  return redact(oneLine.length > 500 ? `${oneLine.slice(0, 500)}…` : oneLine);
}

export function isTransientKeyVaultError(error: unknown): boolean {
  return error instanceof UserSyncError && (error.code === "key_vault_unavailable" || error.code === "no_azure_credential");
}
