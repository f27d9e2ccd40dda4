/**
 * managedIdentityFederation against the simulated Entra when the app has no federated identity
 * credential: the real token endpoint refuses the managed identity's token, and the error names the
 * issuer, subject and audience to register.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { GraphTokenClient } from "../../src/credentials/graphTokenClient.js";
import { ManagedIdentityAssertionProvider } from "../../src/credentials/managedIdentityAssertionProvider.js";
import { expectUserSyncError, RecordingLogger, useSimulatedTenant } from "./simulatedChain.js";

const simulated = useSimulatedTenant({ userCount: 1, federatedManagedIdentity: false });

describe("managed identity federation without a federated identity credential on the app", () => {
  it("is refused by Entra and explained with the values to register", async () => {
    const { tenant } = simulated;
    const logger = new RecordingLogger();
    const tokens = new GraphTokenClient({
      tenantId: tenant.tenantId,
      clientId: tenant.clientId,
      authorityHost: tenant.authorityHost,
      graphEndpoint: tenant.graphEndpoint,
      assertionProvider: new ManagedIdentityAssertionProvider({ credential: new DefaultAzureCredential(), tokenExchangeAudience: "api://AzureADTokenExchange", logger }),
      logger,
    });
    const error = await expectUserSyncError(tokens.getToken());
    expect(error.code).toBe("token_request_failed");
    expect([70021, 700211, 700212, 700213]).toContain(error.details.aadsts);
    expect(error.message).toContain(`subject ${tenant.managedIdentityObjectId}`);
    expect(error.message).toContain(`issuer ${tenant.authorityHost}/${tenant.tenantId}/v2.0`);
    expect(error.message).toContain("audience api://AzureADTokenExchange");
    expect(error.message).not.toContain(tenant.managedIdentityClientId + " (the identity's principal");
    expect(tenant.requests.count("keyVault")).toBe(0);
  });
});
