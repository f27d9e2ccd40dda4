/**
 * The analytics lane's settings (USER_SYNC_EXPORT_STORAGE or USER_SYNC_EXPORT_STORAGE__blobServiceUri,
 * USER_SYNC_EXPORT_CONTAINER, USER_SYNC_EXPORT_RETENTION_DAYS): off when unset, read when set, and
 * every bad value refused by loadSettings (before any request), naming the setting and its fix,
 * never echoing a connection string.
 */
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/configuration/settings.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { APP_SETTINGS } from "../support/appSettings.js";
import { settingsFailure as failure } from "../support/settingsFailure.js";

const valid = { GRAPH_TENANT_ID: "11111111-2222-3333-4444-555555555555", ...APP_SETTINGS };
const KEYED = "DefaultEndpointsProtocol=https;AccountName=lanestore;AccountKey=c2VjcmV0LWtleS1ub3QtdG8tYmUtc2hvd24=;EndpointSuffix=core.windows.net";

describe("the analytics lane's settings", () => {
  it("the lane is off when neither storage setting is set", () => {
    expect(loadSettings(valid).exportLane).toBeUndefined();
  });

  it("reads a connection string (its blob endpoint) and the default container", () => {
    expect(loadSettings({ ...valid, USER_SYNC_EXPORT_STORAGE: KEYED }).exportLane).toEqual({
      kind: "connectionString",
      connectionString: KEYED,
      blobEndpoint: "https://lanestore.blob.core.windows.net",
      container: "user-sync-analytics",
    });
    expect(loadSettings({ ...valid, USER_SYNC_EXPORT_STORAGE: "UseDevelopmentStorage=true", USER_SYNC_EXPORT_CONTAINER: "lake-01" }).exportLane).toMatchObject({
      blobEndpoint: "http://127.0.0.1:10000/devstoreaccount1",
      container: "lake-01",
    });
  });

  it("reads the identity-based blob service URI", () => {
    expect(loadSettings({ ...valid, USER_SYNC_EXPORT_STORAGE__blobServiceUri: "https://lanestore.blob.core.windows.net/", USER_SYNC_EXPORT_RETENTION_DAYS: "30" }).exportLane).toEqual({
      kind: "identity",
      blobServiceUri: "https://lanestore.blob.core.windows.net",
      container: "user-sync-analytics",
    });
  });

  it.each([
    [{ USER_SYNC_EXPORT_STORAGE: KEYED, USER_SYNC_EXPORT_STORAGE__blobServiceUri: "https://lanestore.blob.core.windows.net" }, "USER_SYNC_EXPORT_STORAGE", /both set; they are exclusive/],
    [{ USER_SYNC_EXPORT_STORAGE: "not a connection string" }, "USER_SYNC_EXPORT_STORAGE", /USER_SYNC_EXPORT_STORAGE is not a connection string.*USER_SYNC_EXPORT_STORAGE__blobServiceUri/],
    [{ USER_SYNC_EXPORT_STORAGE__blobServiceUri: "http://lanestore.blob.core.windows.net" }, "USER_SYNC_EXPORT_STORAGE__blobServiceUri", /plain https URL/],
    [{ USER_SYNC_EXPORT_STORAGE: KEYED, USER_SYNC_EXPORT_CONTAINER: "Lake_Files" }, "USER_SYNC_EXPORT_CONTAINER", /not a blob container name/],
    [{ USER_SYNC_EXPORT_CONTAINER: "lake" }, "USER_SYNC_EXPORT_STORAGE", /USER_SYNC_EXPORT_CONTAINER is set but the lane has no storage account/],
    [{ USER_SYNC_EXPORT_STORAGE: KEYED, USER_SYNC_EXPORT_RETENTION_DAYS: "-1" }, "USER_SYNC_EXPORT_RETENTION_DAYS", /USER_SYNC_EXPORT_RETENTION_DAYS must/],
  ])("refuses %o, naming %s and the fix", (lane, setting, message) => {
    const error = failure({ ...valid, ...lane });
    expect(isUserSyncError(error)).toBe(true);
    expect(String(error.details.settings)).toContain(setting);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("c2VjcmV0");
  });
});
