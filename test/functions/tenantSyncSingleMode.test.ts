/**
 * A single-tenant deployment registers no queue trigger: it needs no tenant queue and no
 * USER_SYNC_QUEUE setting (the host would otherwise refuse to start the function without one).
 */
import { describe, expect, it } from "vitest";
import { installFunctionsHostStandIn } from "../support/functionsHost.js";

describe("tenantSync in single-tenant mode", () => {
  it("is not registered when USER_SYNC_TENANT_MODE is unset", async () => {
    delete process.env.USER_SYNC_TENANT_MODE;
    const host = installFunctionsHostStandIn();
    await import("../../src/functions/tenantSync.js");
    expect(host.registrations.map((r) => r.metadata.name)).not.toContain("tenantSync");
  });
});
