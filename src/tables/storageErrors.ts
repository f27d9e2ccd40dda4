import { isRestError } from "@azure/core-rest-pipeline";
import type { TableStorageSettings } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { STORAGE_REQUEST_TIMEOUT_CODE } from "./requestTimeoutPolicy.js";
import { isAbortError } from "../shared/abort.js";

/** Where the store writes, safe to show: the endpoint without any query (a SAS never appears). */
export function describeEndpoint(storage: TableStorageSettings): string {
  const raw = storage.kind === "identity" ? storage.tableServiceUri : storage.tableEndpoint;
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(unparseable endpoint)";
  }
}

const SETTING_OF = (storage: TableStorageSettings) =>
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


function fixFor(storage: TableStorageSettings, status: number | undefined, code: string | undefined, endpoint: string, table: string, serviceMessage: string): string {
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
  if (status === 412 || code === "UpdateConditionNotSatisfied") {
    return "The record changed since it was read (its ETag no longer matches): another run wrote it meanwhile. Nothing was overwritten; run again.";
  }
  if (status === 429 || (code === "ServerBusy" && /over the account limit/i.test(serviceMessage))) {
    return "The storage account throttled the request: it is over its scalability targets (about 2,000 entities/s per partition, 20,000 per account, shared with everything else that uses the account). The SDK retried and still failed. Run again later, or give the sync a storage account of its own.";
  }
  if (code === "ServerBusy" || code === "OperationTimedOut" || status === 503) {
    return "The storage service is busy (it answered ServerBusy or timed out while it rebalances or recovers). The SDK retried and still failed. Run again later.";
  }
  if (status !== undefined && status >= 500) {
    return "The storage service failed to process the request. The SDK retried and still failed. Run again later; if it persists, report it with the request id.";
  }
  return "This is unexpected: report it with the request id.";
}

/**
 * Error codes with which the Table service rejects an entity it was sent (not the request as a
 * whole), and what they mean. `shape`: the entity's size or shape, which USER_SYNC_SELECT decides.
 */
const ENTITY_REJECTIONS: Readonly<Record<string, { why: string; shape: boolean }>> = {
  PropertyValueTooLarge: { why: "a property value is over 64 KiB", shape: true },
  EntityTooLarge: { why: "the entity is over 1 MiB", shape: true },
  RequestBodyTooLarge: { why: "the request is over the 4 MiB a batch may carry", shape: true },
  TooManyProperties: { why: "the entity has over 255 properties", shape: true },
  PropertyNameTooLong: { why: "a property name is over 255 characters", shape: true },
  PropertyNameInvalid: { why: "a property name is not a valid identifier", shape: true },
  KeyValueTooLarge: { why: "a PartitionKey or RowKey is over 1 KiB", shape: true },
  InvalidValueType: { why: "a property value has a type the service does not accept", shape: true },
  OutOfRangeInput: { why: "a value is out of the range the service accepts", shape: true },
  InvalidInput: { why: "the service found the entity invalid", shape: false },
  InvalidDuplicateRow: { why: "the same entity appears twice in one batch", shape: false },
  EntityAlreadyExists: { why: "the entity already exists", shape: false },
  ResourceNotFound: { why: "the entity does not exist", shape: false },
};
/** Codes about a table or the account, never about one entity, even inside a batch. */
const NOT_ABOUT_AN_ENTITY = new Set(["TableNotFound", "TableBeingDeleted", "TableAlreadyExists", "UpdateConditionNotSatisfied"]);

/** The entity of a batch the service names: it prefixes its message with the operation's 0-based index (`3:The property value…`). */
function rejectedOperation(message: string): number | undefined {
  const match = /^(\d{1,3}):/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * When the service rejected one entity of what it was sent (a 400-class answer with an entity's
 * error code, or any 400-class answer to one operation of a batch): what happened, and what to do.
 */
function describeRejection(status: number | undefined, code: string | undefined, serviceMessage: string, batch: StorageErrorOptions["batch"]): string | undefined {
  if (status === undefined || status < 400 || status >= 500 || status === 401 || status === 403 || status === 412) return undefined;
  if (code !== undefined && NOT_ABOUT_AN_ENTITY.has(code)) return undefined;
  const index = rejectedOperation(serviceMessage);
  // Outside a batch, "not found" may be the account or the path (fixFor explains it).
  if (code === "ResourceNotFound" && index === undefined) return undefined;
  const known = code !== undefined ? ENTITY_REJECTIONS[code] : status === 413 ? ENTITY_REJECTIONS.RequestBodyTooLarge : undefined;
  if (known === undefined && index === undefined) return undefined;
  const entity = index !== undefined ? batch?.[index] : undefined;
  const which =
    index === undefined
      ? ""
      : ` (operation ${index + 1}${batch ? ` of ${batch.length}` : ""} of the batch${entity?.rowKey !== undefined ? `: entity ${entity.partitionKey ?? "?"}/${entity.rowKey}` : ""})`;
  const what = `The storage service rejected an entity${which} with ${code ?? status}: ${known?.why ?? "the service refused it"}.`;
  const batchNote = index !== undefined ? " Nothing of that batch was written (a batch is all or nothing)." : "";
  const fix = known?.shape
    ? " The sync checks every user against the service's limits before writing, so this is a defect: report it with the error code and request id. Until then, removing the property from USER_SYNC_SELECT avoids it."
    : " This is a defect: report it with the error code and request id.";
  return what + batchNote + fix;
}

export interface StorageErrorOptions {
  /** The entities of a failed transaction, in order: names the one the service rejected. */
  batch?: ReadonlyArray<{ partitionKey?: string; rowKey?: string }>;
}

/**
 * Translates a failure of the table service into a UserSyncError `storage_request_failed` that says
 * what to fix. Abort errors pass through untouched. Nothing from the connection string is used.
 */
export function storageError(
  storage: TableStorageSettings,
  table: string,
  operation: string,
  error: unknown,
  options: StorageErrorOptions = {},
): unknown {
  if (isAbortError(error) || error instanceof UserSyncError) return error;
  const endpoint = describeEndpoint(storage);
  const rest = isRestError(error) ? error : undefined;
  const status = rest?.statusCode;
  const code = storageErrorCode(error);
  let serviceMessage = "";
  if (rest?.message) serviceMessage = extractServiceMessage(rest.message);
  else if (error instanceof Error) serviceMessage = error.message;
  // A batch's sub-response carries its own request id in its message; the batch's is in the header.
  const requestId = rest?.response?.headers.get("x-ms-request-id") ?? /RequestId:([0-9a-f-]{36})/i.exec(rest?.message ?? "")?.[1];
  const operationIndex = rest ? rejectedOperation(serviceMessage) : undefined;
  // Credential failures (DefaultAzureCredential could not get a token) carry no status code.
  const name = (error as { name?: string } | null)?.name;
  let fix: string;
  if (name === "CredentialUnavailableError" || name === "AuthenticationError" || name === "AggregateAuthenticationError") {
    fix = `No Azure credential could get a token for the table service. In Azure, enable the Function's managed identity (set AZURE_CLIENT_ID for a user-assigned one); locally, sign in with az login.`;
  } else if (!rest) {
    fix = "This is unexpected: report it with the message below.";
  } else {
    fix = describeRejection(status, code, serviceMessage, options.batch) ?? fixFor(storage, status, code, endpoint, table, serviceMessage);
  }
  const what = status === undefined ? (code ?? name ?? "error") : `${status}${code ? ` ${code}` : ""}`;
  const said = operationIndex !== undefined ? serviceMessage.replace(/^\d{1,3}:/, "") : serviceMessage;
  const detail = said ? ` The service said: ${redact(said).slice(0, 300)}` : "";
  return new UserSyncError("storage_request_failed", `Table storage failed while ${operation} (${what}). ${fix}${detail}`, {
    cause: error,
    details: {
      table,
      endpoint,
      statusCode: status,
      errorCode: code,
      requestId,
      ...(operationIndex !== undefined ? { operationIndex } : {}),
      ...(operationIndex !== undefined && options.batch?.[operationIndex]?.rowKey !== undefined ? { rowKey: options.batch[operationIndex].rowKey } : {}),
    },
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
