import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import type { SnapshotStorageSettings } from "../../src/configuration/settings.js";
import { isUserSyncError, UserSyncError } from "../../src/shared/errors.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { describeEndpoint, storageError } from "../../src/tables/storageErrors.js";

const SECRET_KEY = "c2VjcmV0LWtleS12YWx1ZS10aGF0LW11c3Qtbm90LWxlYWs=";
const connection: SnapshotStorageSettings = {
  kind: "connectionString",
  connectionString: `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${SECRET_KEY};EndpointSuffix=core.windows.net`,
  tableEndpoint: "https://acct.table.core.windows.net",
  allowInsecureConnection: false,
};
const identity: SnapshotStorageSettings = { kind: "identity", tableServiceUri: "https://acct.table.core.windows.net", allowInsecureConnection: false };
const emulator: SnapshotStorageSettings = { ...connection, tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true };

function translate(storage: SnapshotStorageSettings, error: unknown): UserSyncError {
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
