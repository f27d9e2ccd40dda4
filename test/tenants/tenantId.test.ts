import { describe, expect, it } from "vitest";
import { isUserSyncError } from "../../src/shared/errors.js";
import { assertTenantGuid, parseTenantId, tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { tenantTableNames } from "../../src/tenants/tenantData.js";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return isUserSyncError(error) ? error.code : "not a UserSyncError";
  }
  return undefined;
}

describe("tenant ids", () => {
  it("accepts a GUID (lower-cased) and a verified domain", () => {
    expect(parseTenantId(" 5F1C2E6A-7B3D-4C8E-9A0F-1D2E3F4A5B6C ")).toEqual({ kind: "guid", tenantId: "5f1c2e6a-7b3d-4c8e-9a0f-1d2e3f4a5b6c" });
    expect(parseTenantId("Contoso.onmicrosoft.com")).toEqual({ kind: "domain", domain: "contoso.onmicrosoft.com" });
  });

  it.each(["common", "organizations", "Consumers"])("refuses the multi-tenant authority %s, saying why", (value) => {
    expect(() => parseTenantId(value)).toThrow(/multi-tenant authority.*one tenant/);
    expect(codeOf(() => parseTenantId(value))).toBe("invalid_tenant_id");
  });

  it.each(["", "not a tenant", "5f1c2e6a-7b3d-4c8e-9a0f", "contoso", "a/b.com"])("refuses %j", (value) => {
    expect(codeOf(() => parseTenantId(value))).toBe("invalid_tenant_id");
  });

  it("names registered tenants by GUID only", () => {
    expect(codeOf(() => assertTenantGuid("contoso.onmicrosoft.com"))).toBe("invalid_tenant_id");
    expect(assertTenantGuid("5F1C2E6A-7B3D-4C8E-9A0F-1D2E3F4A5B6C")).toBe("5f1c2e6a-7b3d-4c8e-9a0f-1d2e3f4a5b6c");
  });

  it("derives a tenant's table prefix from its GUID, within Azure's table name rules", () => {
    const prefix = tenantTablePrefix("5F1C2E6A-7B3D-4C8E-9A0F-1D2E3F4A5B6C");
    expect(prefix).toBe("t5f1c2e6a7b3d4c8e9a0f1d2e3f4a5b6c");
    for (const name of tenantTableNames(prefix)) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9]{2,62}$/);
    expect(tenantTablePrefix("00000000-0000-0000-0000-000000000001")).not.toBe(prefix);
  });
});
