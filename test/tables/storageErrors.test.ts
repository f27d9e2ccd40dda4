import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import { SETTING_NAMES, type TableStorageSettings } from "../../src/configuration/settings.js";
import { isUserSyncError, UserSyncError } from "../../src/shared/errors.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { describeEndpoint, storageError } from "../../src/tables/storageErrors.js";

const SECRET_KEY = "c2VjcmV0LWtleS12YWx1ZS10aGF0LW11c3Qtbm90LWxlYWs=";
const connection: TableStorageSettings = {
  kind: "connectionString",
  connectionString: `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${SECRET_KEY};EndpointSuffix=core.windows.net`,
  tableEndpoint: "https://acct.table.core.windows.net",
  allowInsecureConnection: false,
};
const identity: TableStorageSettings = { kind: "identity", tableServiceUri: "https://acct.table.core.windows.net", allowInsecureConnection: false };
const emulator: TableStorageSettings = { ...connection, tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true };

function translate(storage: TableStorageSettings, error: unknown): UserSyncError {
  const translated = storageError(storage, "entraUserRuns", "reading runs", error);
  expect(isUserSyncError(translated, "storage_request_failed")).toBe(true);
  const result = translated as UserSyncError;
  expect(`${result.message} ${JSON.stringify(result.details)}`.includes(SECRET_KEY)).toBe(false);
  return result;
}

const rest = (statusCode: number, code: string) => new RestError(`{"odata.error":{"code":"${code}","message":{"lang":"en-US","value":"Service text.\\nRequestId:1"}}}`, { statusCode, code });

describe("storageError", () => {
  it("asks for the Storage Table Data Contributor role when an identity is denied", () => {
    const error = translate(identity, rest(403, "AuthorizationPermissionMismatch"));
    expect(error.message).toContain('"Storage Table Data Contributor"');
    expect(error.message).toContain("https://acct.table.core.windows.net");
    expect(error.details).toMatchObject({ statusCode: 403, errorCode: "AuthorizationPermissionMismatch", table: "entraUserRuns" });
    expect(error.message).toContain("Service text.");
    expect(error.message).not.toContain("RequestId:1\n");
  });

  it("asks to check the account key when a connection string is rejected", () => {
    const error = translate(connection, rest(403, "AuthenticationFailed"));
    expect(error.message).toContain("AccountKey");
    expect(error.message).toContain("SNAPSHOT_STORAGE");
  });

  it("explains a SAS without the needed permissions", () => {
    expect(translate(connection, rest(403, "AuthorizationPermissionMismatch")).message).toContain("shared access signature");
  });

  it("points at the endpoint, and at Azurite for a local emulator, when nothing answers", () => {
    const refused = new RestError("connect ECONNREFUSED 127.0.0.1:10002", { code: "ECONNREFUSED" });
    const local = translate(emulator, refused);
    expect(local.message).toContain("Cannot reach the table service at http://127.0.0.1:10002/devstoreaccount1");
    expect(local.message).toContain("Azurite");
    const remote = translate(connection, new RestError("getaddrinfo ENOTFOUND", { code: "ENOTFOUND" }));
    expect(remote.message).toContain("https://acct.table.core.windows.net");
    expect(remote.message).not.toContain("Azurite");
  });

  it("explains throttling and missing tables", () => {
    expect(translate(connection, rest(503, "ServerBusy")).message).toContain("busy");
    expect(translate(connection, rest(404, "TableNotFound")).message).toContain('"entraUserRuns" does not exist');
  });

  it("explains a missing Azure credential", () => {
    const error = Object.assign(new Error("DefaultAzureCredential failed"), { name: "CredentialUnavailableError" });
    expect(translate(identity, error).message).toContain("managed identity");
  });

  it("redacts secrets that a service message might carry", () => {
    const error = translate(connection, new RestError(`failed for AccountKey=${SECRET_KEY}`, { statusCode: 400, code: "InvalidInput" }));
    expect(error.message).toContain("AccountKey=[redacted]");
  });

  it("passes abort errors and UserSyncErrors through", () => {
    const abort = new DOMException("aborted", "AbortError");
    expect(storageError(connection, "t", "x", abort)).toBe(abort);
    const own = new UserSyncError("user_not_storable", "x");
    expect(storageError(connection, "t", "x", own)).toBe(own);
  });

  it("describes an endpoint without its query", () => {
    expect(describeEndpoint({ ...connection, tableEndpoint: "https://acct.table.core.windows.net/?sv=2020&sig=abc" })).toBe("https://acct.table.core.windows.net");
  });
});

describe("SnapshotStoreClient construction", () => {
  it("needs a credential for an identity-based connection", () => {
    expect(() => new SnapshotStoreClient({ storage: identity })).toThrowError(expect.objectContaining({ code: "no_azure_credential" }));
  });

  it("refuses an identity-based connection over http, which the SDK would refuse at the first request", () => {
    const credential = { getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 60_000 }) };
    expect(
      () =>
        new SnapshotStoreClient({
          storage: { kind: "identity", tableServiceUri: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true },
          credential,
        }),
    ).toThrowError(expect.objectContaining({ code: "invalid_setting" }));
  });

  it("validates its options and names the tables from the prefix", () => {
    expect(() => new SnapshotStoreClient({ storage: connection, partitionCount: 0 })).toThrowError(expect.objectContaining({ code: "invalid_setting" }));
    expect(() => new SnapshotStoreClient({ storage: connection, partitionCount: 257 })).toThrowError(expect.objectContaining({ code: "invalid_setting" }));
    expect(() => new SnapshotStoreClient({ storage: connection, writeConcurrency: 0 })).toThrowError(expect.objectContaining({ code: "invalid_setting" }));
    expect(() => new SnapshotStoreClient({ storage: connection, tablePrefix: "bad-prefix" })).toThrowError(expect.objectContaining({ code: "invalid_setting" }));
    const store = new SnapshotStoreClient({ storage: connection, tablePrefix: "contoso" });
    expect([store.snapshotsTableName, store.runsTableName]).toEqual(["contosoSnapshots", "contosoRuns"]);
  });
});

describe("storageError with XML bodies", () => {
  it("quotes the Message of an XML error body, not the XML declaration", () => {
    const body = '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation.\nRequestId:1</Message></Error>';
    const error = storageError(connection, "t", "x", new RestError(body, { statusCode: 403, code: "AuthorizationFailure" })) as UserSyncError;
    expect(error.message).toContain("The service said: This request is not authorized to perform this operation.");
    expect(error.message).not.toContain("<?xml");
    expect(error.message).toContain("AccountKey");
    expect(error.message).toContain("network rules");
  });
});

/** A failed batch as @azure/data-tables reports it: the sub-response's status, code and message ("<index>:<text>"), the batch's 202 response. */
function batchFailure(statusCode: number, code: string, index: number, text: string): RestError {
  const request = createPipelineRequest({ url: "https://acct.table.core.windows.net/$batch", method: "POST" });
  const response = { request, status: 202, headers: createHttpHeaders({ "x-ms-request-id": "11111111-2222-3333-4444-555555555555" }), bodyAsText: "--batchresponse_x" };
  return new RestError(`${index}:${text}\nRequestId:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\nTime:2026-11-27T06:20:39.775Z`, { statusCode, code, request, response });
}

const batch = [
  { partitionKey: "20261121T023300123Z-a1b2c3-0f", rowKey: "6e7b768e-07e2-4810-8459-485f84f8f204" },
  { partitionKey: "20261121T023300123Z-a1b2c3-0f", rowKey: "7f8c879f-18f3-5921-9560-596f95f9f315" },
  { partitionKey: "20261121T023300123Z-a1b2c3-0f", rowKey: "8a9d98a0-29a4-6a32-a671-6a7fa6fafa26" },
];

describe("storageError says what happened", () => {
  it("names the entity of a batch the service rejected, its error code and the reason", () => {
    const error = storageError(connection, "entraUserSnapshots", "writing 3 users", batchFailure(400, "PropertyValueTooLarge", 1, "The property value exceeds the maximum allowed size (64KB)."), { batch }) as UserSyncError;
    expect(error.message).toBe(
      "Table storage failed while writing 3 users (400 PropertyValueTooLarge). The storage service rejected an entity (operation 2 of 3 of the batch: entity 20261121T023300123Z-a1b2c3-0f/7f8c879f-18f3-5921-9560-596f95f9f315) with PropertyValueTooLarge: a property value is over 64 KiB. Nothing of that batch was written (a batch is all or nothing). The sync checks every user against the service's limits before writing, so this is a defect: report it with the error code and request id. Until then, removing the property from USER_SYNC_SELECT avoids it. The service said: The property value exceeds the maximum allowed size (64KB).",
    );
    expect(error.details).toMatchObject({ statusCode: 400, errorCode: "PropertyValueTooLarge", operationIndex: 1, rowKey: batch[1]!.rowKey, requestId: "11111111-2222-3333-4444-555555555555" });
  });

  it("names the operation's index when it does not know the batch", () => {
    const error = translate(connection, batchFailure(400, "EntityTooLarge", 0, "The entity is larger than the maximum allowed size (1MB)."));
    expect(error.message).toContain("rejected an entity (operation 1 of the batch) with EntityTooLarge: the entity is over 1 MiB.");
    expect(error.message).not.toMatch(/busy|concurrency/i);
  });

  it("explains a single entity the service rejects, outside a batch", () => {
    const error = translate(connection, rest(400, "TooManyProperties"));
    expect(error.message).toContain("The storage service rejected an entity with TooManyProperties: the entity has over 255 properties.");
    expect(error.message).not.toContain("batch");
  });

  it("does not send the operator to USER_SYNC_SELECT for a rejection the properties cannot cause", () => {
    const error = translate(connection, batchFailure(400, "InvalidDuplicateRow", 2, "A command with RowKey 'a' is already present in the batch."));
    expect(error.message).toContain("with InvalidDuplicateRow: the same entity appears twice in one batch.");
    expect(error.message).toContain("This is a defect: report it with the error code and request id.");
    expect(error.message).not.toContain("USER_SYNC_SELECT");
  });

  it("an entity rejected with a 400 the service gives no code for is still a rejected entity", () => {
    const error = translate(connection, batchFailure(400, "", 0, "An error occurred while processing this request."));
    expect(error.message).toContain("rejected an entity (operation 1 of the batch) with 400: the service refused it.");
  });

  it.each([
    ["503 ServerBusy", rest(503, "ServerBusy"), /The storage service is busy/],
    ["500 OperationTimedOut", rest(500, "OperationTimedOut"), /The storage service is busy/],
    ["503 without a code", new RestError("Service Unavailable", { statusCode: 503 }), /The storage service is busy/],
    ["429", new RestError("Too many requests", { statusCode: 429, code: "TooManyRequests" }), /throttled the request/],
    [
      "503 ServerBusy over the account limit",
      new RestError('{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"Operations per second is over the account limit.\nRequestId:1"}}}', { statusCode: 503, code: "ServerBusy" }),
      /throttled the request: it is over its scalability targets/,
    ],
    ["500 InternalError", rest(500, "InternalError"), /failed to process the request/],
  ])("tells busy, throttled and failed apart: %s", (_label, error, expected) => {
    const translated = translate(connection, error);
    expect(translated.message).toMatch(expected);
    expect(translated.message).not.toMatch(/concurrency|rejected an entity/);
  });

  it("says a record changed under it on 412, and keeps table problems inside a batch about the table", () => {
    expect(translate(connection, rest(412, "UpdateConditionNotSatisfied")).message).toContain("The record changed since it was read (its ETag no longer matches)");
    const missing = translate(connection, batchFailure(404, "TableNotFound", 0, "The table specified does not exist."));
    expect(missing.message).toContain('The table "entraUserRuns" does not exist.');
    expect(missing.message).not.toContain("rejected an entity");
  });

  it("treats not found outside a batch as the endpoint's problem, inside one as the entity's", () => {
    expect(translate(connection, rest(404, "ResourceNotFound")).message).toContain("answered \"not found\". Check the endpoint");
    expect(translate(connection, batchFailure(404, "ResourceNotFound", 0, "The specified resource does not exist.")).message).toContain("with ResourceNotFound: the entity does not exist.");
  });

  it("names only settings that exist", () => {
    const errors: unknown[] = [
      ...[400, 404, 409, 412, 413, 429, 500, 503].flatMap((status) =>
        ["", "ServerBusy", "OperationTimedOut", "InternalError", "PropertyValueTooLarge", "InvalidInput", "TableNotFound", "AuthorizationFailure", "AuthenticationFailed"].flatMap((code) => [
          rest(status, code),
          batchFailure(status, code, 3, "Something."),
        ]),
      ),
      new RestError("connect ECONNREFUSED", { code: "ECONNREFUSED" }),
    ];
    const named = new Set<string>();
    for (const storage of [connection, identity, emulator]) {
      for (const error of errors) {
        const message = (storageError(storage, "t", "x", error, { batch }) as UserSyncError).message;
        for (const match of message.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)) named.add(match[0]);
      }
    }
    expect([...named].filter((name) => !(SETTING_NAMES as readonly string[]).includes(name))).toEqual([]);
    expect(named).toContain("USER_SYNC_SELECT");
  });
});
