/**
 * managedIdentityFederation in Azure China: the exchange audience is api://AzureADTokenExchangeChina
 * (from GRAPH_CLOUD); the public cloud's audience is refused by the managed identity endpoint.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { CLOUDS } from "../../src/configuration/clouds.js";
import { loadSettings } from "../../src/configuration/settings.js";
import { GraphTokenClient } from "../../src/credentials/graphTokenClient.js";
import { ManagedIdentityAssertionProvider } from "../../src/credentials/managedIdentityAssertionProvider.js";
import { expectUserSyncError, RecordingLogger, useSimulatedTenant } from "./simulatedChain.js";

const simulated = useSimulatedTenant({ userCount: 1, cloud: "AzureChina", federatedManagedIdentity: true });

function tokensWith(audience: string) {
  const { tenant } = simulated;
  const logger = new RecordingLogger();
  return new GraphTokenClient({
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    authorityHost: tenant.authorityHost,
    graphEndpoint: tenant.graphEndpoint,
    assertionProvider: new ManagedIdentityAssertionProvider({ credential: new DefaultAzureCredential(), tokenExchangeAudience: audience, logger }),
    logger,
  });
}

describe("managed identity federation in Azure China", () => {
  it("takes the exchange audience from GRAPH_CLOUD and gets a Graph token with it", async () => {
    const { tenant } = simulated;
    const settings = loadSettings({
      GRAPH_TENANT_ID: tenant.tenantId,
      GRAPH_CLIENT_ID: tenant.clientId,
      GRAPH_CLOUD: "AzureChina",
      GRAPH_CREDENTIAL: "managedIdentityFederation",
      SNAPSHOT_STORAGE: "UseDevelopmentStorage=true",
    });
    expect(settings.credential).toEqual({ mode: "managedIdentityFederation", tokenExchangeAudience: "api://AzureADTokenExchangeChina" });
    const token = await tokensWith(CLOUDS.AzureChina.tokenExchangeAudience).getToken();
    expect(decodeJwt(token.token).roles).toContain("User.Read.All");
    expect(tenant.requests.count("keyVault")).toBe(0);
  });

  it("explains the public cloud's audience used in China as a cloud mismatch", async () => {
    const error = await expectUserSyncError(tokensWith(CLOUDS.AzurePublic.tokenExchangeAudience).getToken());
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toContain("api://AzureADTokenExchange");
    expect(error.message).toContain("AADSTS500011");
    expect(error.message).toContain("GRAPH_CLOUD");
  });
});
