/**
 * Key Vault failures, for every mode that reads Key Vault (keyVaultCertificate,
 * keyVaultSignedAssertion, clientSecret): what went wrong (`KeyVaultFailure`), the product's error
 * code and the fix-naming message of each, one factory (`createKeyVaultError`) and one translator
 * from an SDK failure (`translateKeyVaultError`).
 *
 * The SDK error is never kept as `cause`: a RestError carries the request, Authorization header
 * included, and anything that serializes the error (a test runner, a log sink) would print the token.
 */
import { isRestError } from "@azure/core-rest-pipeline";
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { isAbortError } from "../shared/abort.js";
import { findIdentityTimeout, identityTimeoutError } from "./identityRequests.js";

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
  /** When set, a 403 saying the key is not exportable is certificate_no_private_key with this fix. */
  notExportableFix?: string;
}

/** The context of reading the certificate or secret `name`: the operation and its setting follow from the kind. */
export function keyVaultReadContext(kind: "certificate" | "secret", name: string, fixes: Pick<KeyVaultErrorContext, "vaultUrl" | "roleFix" | "notFoundFix" | "notExportableFix">): KeyVaultErrorContext {
  return { ...fixes, operation: `reading ${kind} "${name}"`, nameSetting: kind === "certificate" ? "KEY_VAULT_CERTIFICATE_NAME" : "KEY_VAULT_SECRET_NAME" };
}

/** What went wrong talking to Key Vault. */
export type KeyVaultFailure = "noAzureCredential" | "unauthorized" | "forbidden" | "disabled" | "notExportable" | "notFound" | "unreachable" | "serviceError" | "timedOut" | "failed";

/** The facts a message may name. None of them is secret (the service message is redacted). */
export interface KeyVaultFailureFacts {
  /** The service's (or the credential's) message, one line, redacted. */
  said?: string;
  statusCode?: number;
  /** The SDK's error code (e.g. ENOTFOUND, Forbidden). */
  errorCode?: string;
  /** timedOut: how long Key Vault was given. */
  timeoutInMs?: number;
}

const identityClientId = (): string | undefined => process.env.AZURE_CLIENT_ID;

function identity(): string {
  const clientId = identityClientId();
  return clientId
    ? `the managed identity with client ID ${clientId}`
    : "the identity this function runs as (its system-assigned managed identity, or your signed-in account locally)";
}

/** Each failure's code and message. */
export const KeyVaultFailures: Record<KeyVaultFailure, { code: UserSyncErrorCode; message: (context: KeyVaultErrorContext, facts: KeyVaultFailureFacts & { said: string }) => string }> = {
  noAzureCredential: {
    code: "no_azure_credential",
    message: (c, f) =>
      `No Azure credential could get a token for Key Vault ${c.vaultUrl} (${c.operation}). ` +
      "In Azure, assign a managed identity to the Function App (and set AZURE_CLIENT_ID to its client ID when it is user-assigned); " +
      "locally, sign in with `az login` (or `azd auth login`, `Connect-AzAccount`, or the Azure extension in VS Code). " +
      `Details: ${f.said}`,
  },
  unauthorized: {
    code: "key_vault_access_denied",
    message: (c, f) =>
      `Key Vault ${c.vaultUrl} did not accept the token of ${identity()} (HTTP 401) while ${c.operation}. The vault is probably in another tenant than the identity, ` +
      `or KEY_VAULT_URL names another vault than intended. ${c.roleFix} Key Vault said: ${f.said}`,
  },
  forbidden: {
    code: "key_vault_access_denied",
    message: (c, f) => `Key Vault ${c.vaultUrl} denied ${c.operation} (HTTP 403) to ${identity()}. ${c.roleFix} Role assignments can take a few minutes to apply. Key Vault said: ${f.said}`,
  },
  disabled: {
    code: "key_vault_access_denied",
    message: (c, f) =>
      `Key Vault ${c.vaultUrl} refused ${c.operation} because the object (or its current version) is disabled. Enable it in Key Vault, or make an enabled version current. Key Vault said: ${f.said}`,
  },
  notExportable: {
    code: "certificate_no_private_key",
    message: (c) => `Key Vault ${c.vaultUrl} will not release the private key while ${c.operation}: its policy does not make the key exportable. ${c.notExportableFix ?? ""}`.trimEnd(),
  },
  notFound: {
    code: "key_vault_not_found",
    message: (c) => `Key Vault ${c.vaultUrl} answered 404 while ${c.operation}. ${c.notFoundFix} Check ${c.nameSetting} and KEY_VAULT_URL.`,
  },
  unreachable: {
    code: "key_vault_unavailable",
    message: (c, f) =>
      `Could not reach Key Vault ${c.vaultUrl} (${f.errorCode ?? "network error"}) while ${c.operation}. ` +
      `Check KEY_VAULT_URL, DNS, and that the vault's firewall or private endpoint admits this function's network. Details: ${f.said}`,
  },
  serviceError: {
    code: "key_vault_unavailable",
    message: (c, f) =>
      `Key Vault ${c.vaultUrl} answered HTTP ${f.statusCode ?? "error"} while ${c.operation}. Try again later; if it persists, check the vault's health in the Azure portal. Details: ${f.said}`,
  },
  timedOut: {
    code: "key_vault_unavailable",
    message: (c, f) =>
      `Key Vault ${c.vaultUrl} did not answer within ${Math.round((f.timeoutInMs ?? 0) / 1000)} s while ${c.operation} (the bound of one read, from IDENTITY_REQUEST_TIMEOUT_SECONDS). ` +
      "Check the vault's health in the Azure portal and the network path to it (DNS, firewall, private endpoint); the next request reads it again.",
  },
  failed: {
    code: "key_vault_unavailable",
    message: (c, f) => `Key Vault ${c.vaultUrl} failed while ${c.operation}: ${f.said}. Check KEY_VAULT_URL and the network path to the vault.`,
  },
};

export function createKeyVaultError(failure: KeyVaultFailure, context: KeyVaultErrorContext, facts: KeyVaultFailureFacts): UserSyncError {
  const { code, message } = KeyVaultFailures[failure];
  const details: UserSyncError["details"] = {};
  if (facts.statusCode !== undefined) details.statusCode = facts.statusCode;
  if (facts.timeoutInMs !== undefined) details.timeoutInMs = facts.timeoutInMs;
  if (facts.errorCode !== undefined && failure !== "notFound" && failure !== "notExportable") details.errorCode = facts.errorCode;
  if (failure === "noAzureCredential" || failure === "unauthorized" || failure === "forbidden" || failure === "disabled") details.identityClientId = identityClientId();
  return new UserSyncError(code, message(context, { ...facts, said: facts.said ?? "" }), { details });
}

/** A Key Vault SDK failure as a UserSyncError; UserSyncErrors and aborts pass through unchanged. */
export function translateKeyVaultError(error: unknown, context: KeyVaultErrorContext): unknown {
  if (error instanceof UserSyncError) return error;
  if (isAbortError(error)) return error as Error;
  const timeout = findIdentityTimeout(error);
  if (timeout) return identityTimeoutError(timeout, `${context.operation} in Key Vault ${context.vaultUrl}`, { vaultUrl: context.vaultUrl });
  const said = summarize(error);
  const errorName = error instanceof Error ? error.name : "";
  if (errorName === "CredentialUnavailableError" || errorName === "AggregateAuthenticationError" || errorName === "AuthenticationError") {
    return createKeyVaultError("noAzureCredential", context, { said });
  }
  if (!isRestError(error)) return createKeyVaultError("failed", context, { said });

  const facts: KeyVaultFailureFacts = { said, statusCode: error.statusCode, errorCode: error.code };
  switch (error.statusCode) {
    case undefined:
      return createKeyVaultError("unreachable", context, facts);
    case 401:
      return createKeyVaultError("unauthorized", context, facts);
    case 403:
      if (context.notExportableFix !== undefined && /exportable/i.test(error.message)) return createKeyVaultError("notExportable", context, facts);
      return createKeyVaultError(/disabled/i.test(error.message) ? "disabled" : "forbidden", context, facts);
    case 404:
      return createKeyVaultError("notFound", context, facts);
    default:
      return createKeyVaultError("serviceError", context, facts);
  }
}

/** One line of an error's message, at most 500 characters, with secrets redacted. */
export function summarize(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s+/g, " ").trim();
  return redact(oneLine.length > 500 ? `${oneLine.slice(0, 500)}…` : oneLine);
}

/** Worth keeping the last good value through: Key Vault or the Azure credential may come back. */
export function isTransientKeyVaultError(error: unknown): boolean {
  return error instanceof UserSyncError && (error.code === "key_vault_unavailable" || error.code === "no_azure_credential" || error.code === "identity_endpoint_timeout");
}
