import { isRestError } from "@azure/core-rest-pipeline";
import type { SnapshotStorageSettings } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { STORAGE_REQUEST_TIMEOUT_CODE } from "./requestTimeoutPolicy.js";

/** Where the store writes, safe to show: the endpoint without any query (a SAS never appears). */
export function describeEndpoint(storage: SnapshotStorageSettings): string {
  const raw = storage.kind === "identity" ? storage.tableServiceUri : storage.tableEndpoint;
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(unparseable endpoint)";
  }
}

const SETTING_OF = (storage: SnapshotStorageSettings) =>
  storage.kind === "identity" ? "SNAPSHOT_STORAGE__tableServiceUri" : "SNAPSHOT_STORAGE";

/**
 * The Table service's error code. The SDK puts it in different places depending on the operation:
 * `code` (transactions, some operations), the `x-ms-error-code` header, or only the JSON body.
 */
export function storageErrorCode(error: unknown): string | undefined {
  if (!isRestError(error)) return undefined;
  if (error.code) return error.code;
  const header = error.response?.headers.get("x-ms-error-code");
  if (header) return header;
  const body = error.response?.bodyAsText ?? error.message;
  try {
    return (JSON.parse(body ?? "") as { "odata.error"?: { code?: string } })["odata.error"]?.code;
  } catch {
    return undefined;
  }
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === "AbortError";
}

function fixFor(storage: SnapshotStorageSettings, status: number | undefined, code: string | undefined, endpoint: string, table: string): string {
  const setting = SETTING_OF(storage);
  if (status === undefined && code === STORAGE_REQUEST_TIMEOUT_CODE) {
    return `The table service at ${endpoint} gave no complete answer within STORAGE_REQUEST_TIMEOUT_SECONDS, on every attempt. Check the network path to it (proxy, firewall, private endpoint), or raise STORAGE_REQUEST_TIMEOUT_SECONDS.`;
  }
  if (status === undefined) {
    const local = storage.allowInsecureConnection
      ? " For local development, check that Azurite is running (npx azurite-table) and listening there."
      : "";
    return `Cannot reach the table service at ${endpoint}. Check the endpoint in ${setting} (account name, cloud suffix, private endpoint DNS and firewall rules).${local}`;
  }
  if (status === 401 || status === 403) {
    if (storage.kind === "identity") {
      if (code === "AuthenticationFailed" || status === 401) {
        return `The table service did not accept the identity's token. Check that ${setting} names an account in the same cloud and tenant as the identity.`;
      }
      return `The identity may not read or write tables in ${endpoint}. Assign it the role "Storage Table Data Contributor" on the storage account (role assignments can take several minutes to apply), and check the account's firewall allows this caller.`;
    }
    if (code === "AuthorizationPermissionMismatch" || code === "AuthorizationResourceTypeMismatch" || code === "AuthorizationServiceMismatch") {
      return `The shared access signature in ${setting} does not allow this operation. Give it the table service, container and object resource types and read, add, update, list and create permissions.`;
    }
    if (code === "AuthorizationSourceIPMismatch") {
      return `The storage account refused this caller's address. Allow the Function's outbound addresses or virtual network in the account's networking rules, or fix the SAS's allowed IP range.`;
    }
    if (code === "AuthorizationFailure") {
      return `The storage account refused the request. Check the AccountKey or SAS in ${setting} (copy the connection string again from the account's Access keys page; Azurite answers a wrong key this way), then the account's firewall and network rules (Azure answers a caller outside them this way).`;
    }
    return `The storage account rejected the credentials in ${setting}. Check the AccountKey (copy the connection string again from the account's Access keys page; keys change when rotated) or that the SAS has not expired.`;
  }
  if (status === 404 && code === "TableNotFound") {
    return `The table "${table}" does not exist. The sync creates its tables when it starts; if they were deleted meanwhile, run the sync again.`;
  }
  if (status === 404) {
    return `The table service at ${endpoint} answered "not found". Check the endpoint and account name in ${setting}.`;
  }
  if (status === 409 && code === "TableBeingDeleted") {
    return `The table "${table}" is being deleted. Wait a minute, then run the sync again.`;
  }
  if (status === 503 || status === 500 || code === "ServerBusy" || code === "OperationTimedOut") {
    return "The storage account is busy (about 2,000 entities/s per partition, 20,000 per account); requests were retried and still failed. Run again later, or lower the store's write concurrency.";
  }
  return "This is unexpected: report it with the request id.";
}

/**
 * Translates a failure of the table service into a UserSyncError `storage_request_failed` that says
 * what to fix. Abort errors pass through untouched. Nothing from the connection string is used.
 */
export function storageError(
  storage: SnapshotStorageSettings,
  table: string,
  operation: string,
  error: unknown,
): unknown {
  if (isAbort(error) || error instanceof UserSyncError) return error;
  const endpoint = describeEndpoint(storage);
  const rest = isRestError(error) ? error : undefined;
  const status = rest?.statusCode;
  const code = storageErrorCode(error);
  const requestId = rest?.response?.headers.get("x-ms-request-id") ?? undefined;
  let serviceMessage = "";
  if (rest?.message) serviceMessage = extractServiceMessage(rest.message);
  else if (error instanceof Error) serviceMessage = error.message;
  // Credential failures (DefaultAzureCredential could not get a token) carry no status code.
  const name = (error as { name?: string } | null)?.name;
  let fix: string;
  if (name === "CredentialUnavailableError" || name === "AuthenticationError" || name === "AggregateAuthenticationError") {
    fix = `No Azure credential could get a token for the table service. In Azure, enable the Function's managed identity (set AZURE_CLIENT_ID for a user-assigned one); locally, sign in with az login.`;
  } else if (!rest) {
    fix = "This is unexpected: report it with the message below.";
  } else {
    fix = fixFor(storage, status, code, endpoint, table);
  }
  const what = status === undefined ? (code ?? name ?? "error") : `${status}${code ? ` ${code}` : ""}`;
  const detail = serviceMessage ? ` The service said: ${redact(serviceMessage).slice(0, 300)}` : "";
  return new UserSyncError("storage_request_failed", `Table storage failed while ${operation} (${what}). ${fix}${detail}`, {
    cause: error,
    details: { table, endpoint, statusCode: status, errorCode: code, requestId },
  });
}

/** The human part of a Tables error body (`{"odata.error":{"message":{"value":"..."}}}`), first line only. */
function extractServiceMessage(message: string): string {
  let text = message;
  try {
    const parsed = JSON.parse(message) as { "odata.error"?: { message?: { value?: string } } };
    text = parsed["odata.error"]?.message?.value ?? message;
  } catch {
    // not JSON
  }
  const xml = /<Message>([\s\S]*?)<\/Message>/.exec(text);
  if (xml) text = xml[1]!;
  else if (text.trimStart().startsWith("<")) return "";
  return text.split("\n")[0]!.trim();
}
