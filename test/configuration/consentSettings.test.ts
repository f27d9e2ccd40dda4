import { describe, expect, it } from "vitest";
import { loadConsentSettings } from "../../src/configuration/consentSettings.js";
import { isUserSyncError } from "../../src/shared/errors.js";

const CLIENT = "66666666-7777-8888-9999-000000000000";

function failure(env: Record<string, string | undefined>) {
  try {
    loadConsentSettings(env);
  } catch (error) {
    return error;
  }
  throw new Error("expected loadConsentSettings to throw");
}

describe("loadConsentSettings", () => {
  it("needs only GRAPH_CLIENT_ID; the cloud's login host by default", () => {
    expect(loadConsentSettings({ GRAPH_CLIENT_ID: CLIENT.toUpperCase() })).toEqual({ clientId: CLIENT, cloud: "AzurePublic", authorityHost: "https://login.microsoftonline.com" });
  });

  it("follows GRAPH_CLOUD and GRAPH_AUTHORITY_HOST", () => {
    expect(loadConsentSettings({ GRAPH_CLIENT_ID: CLIENT, GRAPH_CLOUD: "AzureChina" })).toMatchObject({ cloud: "AzureChina", authorityHost: "https://login.partner.microsoftonline.cn" });
    expect(loadConsentSettings({ GRAPH_CLIENT_ID: CLIENT, GRAPH_CLOUD: "AzureUSGovernment", GRAPH_AUTHORITY_HOST: "https://login.example.us/" })).toMatchObject({
      cloud: "AzureUSGovernment",
      authorityHost: "https://login.example.us",
    });
  });

  it("names every bad setting with its fix", () => {
    const error = failure({ GRAPH_CLIENT_ID: "not-a-guid", GRAPH_CLOUD: "AzureMoon" });
    expect(isUserSyncError(error, "invalid_setting")).toBe(true);
    expect((error as Error).message).toContain("GRAPH_CLIENT_ID is not a GUID");
    expect((error as Error).message).toContain("GRAPH_CLOUD must be one of");
    expect(isUserSyncError(failure({}), "missing_setting")).toBe(true);
  });
});
