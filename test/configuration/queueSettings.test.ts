/**
 * The tenant queue's settings: its connection (USER_SYNC_QUEUE or USER_SYNC_QUEUE__queueServiceUri)
 * and the bound on each queue request, the table requests' STORAGE_REQUEST_TIMEOUT_SECONDS.
 */
import { describe, expect, it } from "vitest";
import { loadQueueSettings } from "../../src/configuration/queueSettings.js";
import { isUserSyncError } from "../../src/shared/errors.js";

const IDENTITY = { USER_SYNC_QUEUE__queueServiceUri: "https://acct.queue.core.windows.net/" };

function failure(env: Record<string, string>): Error & { details: Record<string, unknown> } {
  try {
    loadQueueSettings(env);
  } catch (error) {
    return error as Error & { details: Record<string, unknown> };
  }
  throw new Error("expected loadQueueSettings to fail");
}

describe("loadQueueSettings", () => {
  it("bounds each queue request by STORAGE_REQUEST_TIMEOUT_SECONDS, 30 s by default", () => {
    expect(loadQueueSettings(IDENTITY)).toEqual({ kind: "identity", queueServiceUri: "https://acct.queue.core.windows.net", requestTimeoutInMs: 30_000 });
    expect(loadQueueSettings({ ...IDENTITY, STORAGE_REQUEST_TIMEOUT_SECONDS: "7" }).requestTimeoutInMs).toBe(7_000);
    expect(loadQueueSettings({ USER_SYNC_QUEUE: "UseDevelopmentStorage=true", STORAGE_REQUEST_TIMEOUT_SECONDS: "600" })).toEqual({
      kind: "connectionString",
      connectionString: "UseDevelopmentStorage=true",
      requestTimeoutInMs: 600_000,
    });
  });

  it.each(["0", "601", "ten", "1.5"])("refuses STORAGE_REQUEST_TIMEOUT_SECONDS=%s, naming the setting and its range", (bad) => {
    const error = failure({ ...IDENTITY, STORAGE_REQUEST_TIMEOUT_SECONDS: bad });
    expect(isUserSyncError(error, "invalid_setting")).toBe(true);
    expect(error.details.settings).toBe("STORAGE_REQUEST_TIMEOUT_SECONDS");
    expect(error.message).toMatch(/STORAGE_REQUEST_TIMEOUT_SECONDS must .*table or queue request.*from 1 to 600 \(default 30\)/);
  });

  it("still reports a missing connection first", () => {
    const error = failure({ STORAGE_REQUEST_TIMEOUT_SECONDS: "5" });
    expect(isUserSyncError(error, "missing_setting")).toBe(true);
    expect(error.details.settings).toBe("USER_SYNC_QUEUE");
  });
});
