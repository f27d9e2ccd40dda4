import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/configuration/settings.js";
import { APP_SETTINGS } from "../support/appSettings.js";
import { settingsFailure as failure } from "../support/settingsFailure.js";

describe("USER_SYNC_TENANT_MODE", () => {
  it("is single by default, and single mode still needs GRAPH_TENANT_ID, with the same message as before", () => {
    expect(loadSettings({ ...APP_SETTINGS, GRAPH_TENANT_ID: "contoso.onmicrosoft.com" })).toMatchObject({ tenantMode: "single", tenantId: "contoso.onmicrosoft.com" });
    const missing = failure(APP_SETTINGS);
    expect(missing.code).toBe("missing_setting");
    expect(missing.message).toMatch(/^Invalid configuration: GRAPH_TENANT_ID is missing\. Set it to the directory \(tenant\) ID/);
    expect(failure({ ...APP_SETTINGS, USER_SYNC_TENANT_MODE: "single", GRAPH_TENANT_ID: " " }).message).toMatch(/GRAPH_TENANT_ID is empty\./);
  });

  it("multi mode needs no GRAPH_TENANT_ID (the tenants come from the registry)", () => {
    expect(loadSettings({ ...APP_SETTINGS, USER_SYNC_TENANT_MODE: "multi" })).toMatchObject({ tenantMode: "multi", tenantId: "" });
    expect(loadSettings({ ...APP_SETTINGS, USER_SYNC_TENANT_MODE: "multi", GRAPH_TENANT_ID: "contoso.com" }).tenantId).toBe("contoso.com");
  });

  it("refuses an unknown mode, naming the setting and both values, among the other problems", () => {
    const error = failure({ ...APP_SETTINGS, USER_SYNC_TENANT_MODE: "many", GRAPH_TENANT_ID: "common" });
    expect(error.code).toBe("invalid_setting");
    expect(error.message).toContain("USER_SYNC_TENANT_MODE must be single (one tenant: GRAPH_TENANT_ID, the default) or multi");
    expect(error.message).toContain('GRAPH_TENANT_ID "common" is a multi-tenant authority');
    expect(error.details.settings).toContain("USER_SYNC_TENANT_MODE");
  });
});
