/** Key Vault answers 403 (no role for the identity): translated, naming the role and the identity. */
import { describe, expect, it } from "vitest";
import { chainFor, expectUserSyncError, useSimulatedTenant } from "./simulatedChain.js";

const simulated = useSimulatedTenant({ userCount: 1, keyVaultAccess: "forbidden" });

describe("credentials chain when Key Vault denies access", () => {
  it("translates 403 into key_vault_access_denied naming the role and the identity", async () => {
    const { tenant } = simulated;
    const { tokens } = chainFor(tenant);
    const error = await expectUserSyncError(tokens.getToken());
    expect(error.code).toBe("key_vault_access_denied");
    expect(error.message).toContain("Key Vault Certificate User");
    expect(error.message).toContain(tenant.keyVaultUrl);
    expect(error.message).toContain(tenant.managedIdentityClientId);
    expect(error.details.statusCode).toBe(403);
    expect(error.cause).toBeUndefined(); // the SDK error (with its Authorization header) is not kept
    expect(tenant.requests.count("token")).toBe(0);
  });
});
