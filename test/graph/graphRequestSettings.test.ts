/** The Graph resilience settings: defaults, parsing and errors that name the setting and its range. */
import { describe, expect, it } from "vitest";
import { GRAPH_REQUEST_DEFAULTS, loadSettings } from "../../src/configuration/settings.js";
import { isUserSyncError } from "../../src/shared/errors.js";

const BASE = {
  GRAPH_TENANT_ID: "contoso.onmicrosoft.com",
  GRAPH_CLIENT_ID: "00000000-0000-0000-0000-000000000001",
  KEY_VAULT_URL: "https://vault-name.vault.azure.net",
  KEY_VAULT_CERTIFICATE_NAME: "graph-client",
  SNAPSHOT_STORAGE: "UseDevelopmentStorage=true",
};

function problem(env: Record<string, string>): string {
  try {
    loadSettings({ ...BASE, ...env });
  } catch (error) {
    if (isUserSyncError(error, "invalid_setting")) return error.message;
    throw error;
  }
  throw new Error("expected invalid settings");
}

describe("Graph request settings", () => {
  it("default to 6 retries, 300 s of total retry wait and a 60 s per-request timeout", () => {
    expect(GRAPH_REQUEST_DEFAULTS).toEqual({ maxRetries: 6, maxRetryWaitSeconds: 300, requestTimeoutSeconds: 60 });
    expect(loadSettings(BASE).graphRequests).toEqual({ maxRetries: 6, maxRetryWaitInMs: 300_000, requestTimeoutInMs: 60_000 });
    expect(loadSettings({ ...BASE, GRAPH_MAX_RETRIES: "", GRAPH_REQUEST_TIMEOUT_SECONDS: " " }).graphRequests.maxRetries).toBe(6);
  });

  it("read whole seconds and convert them to milliseconds", () => {
    const settings = loadSettings({ ...BASE, GRAPH_MAX_RETRIES: "0", GRAPH_MAX_RETRY_WAIT_SECONDS: "45", GRAPH_REQUEST_TIMEOUT_SECONDS: " 5 " });
    expect(settings.graphRequests).toEqual({ maxRetries: 0, maxRetryWaitInMs: 45_000, requestTimeoutInMs: 5_000 });
  });

  it.each([
    [{ GRAPH_MAX_RETRIES: "many" }, 'GRAPH_MAX_RETRIES must be a whole number of retries per Graph request, from 0 to 20 (default 6); got "many".'],
    [{ GRAPH_MAX_RETRIES: "21" }, "GRAPH_MAX_RETRIES must be at most 20"],
    [{ GRAPH_MAX_RETRY_WAIT_SECONDS: "1.5" }, "GRAPH_MAX_RETRY_WAIT_SECONDS must be a whole number"],
    [{ GRAPH_MAX_RETRY_WAIT_SECONDS: "7200" }, "GRAPH_MAX_RETRY_WAIT_SECONDS must be at most 3600"],
    [{ GRAPH_REQUEST_TIMEOUT_SECONDS: "0" }, "GRAPH_REQUEST_TIMEOUT_SECONDS must be at least 1"],
    [{ GRAPH_REQUEST_TIMEOUT_SECONDS: "-3" }, "GRAPH_REQUEST_TIMEOUT_SECONDS must be a whole number"],
  ])("reject %o with a message naming the setting", (env, message) => {
    expect(problem(env)).toContain(message);
  });
});
