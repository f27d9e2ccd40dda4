/**
 * No managed identity and no developer sign-in: the real DefaultAzureCredential finds nothing that can
 * get a Key Vault token, and the operator is told how to sign in. The managed-identity endpoint points
 * at a closed loopback port, so nothing leaves this machine (no IMDS probe either: an App Service
 * endpoint is configured).
 */
import { createServer } from "node:net";
import { DefaultAzureCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientCertificateProvider } from "../../src/credentials/clientCertificateProvider.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { silentLogger } from "../../src/shared/logger.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

let tenant: SimulatedTenant;

async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 1 });
  process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${await closedLoopbackPort()}/msi/token`;
  process.env.IDENTITY_HEADER = "no-identity-here";
  delete process.env.AZURE_CLIENT_ID;
});
afterAll(async () => tenant?.close());

describe("no Azure credential", () => {
  it("says how to sign in locally and what to assign in Azure, and reads nothing from Key Vault", async () => {
    const provider = new ClientCertificateProvider({
      vaultUrl: tenant.keyVaultUrl,
      certificateName: tenant.certificateName,
      credential: new DefaultAzureCredential(),
      logger: silentLogger,
    });
    let caught: unknown;
    try {
      await provider.getClientCertificate();
    } catch (error) {
      caught = error;
    }
    expect(isUserSyncError(caught, "no_azure_credential")).toBe(true);
    const message = (caught as Error).message;
    expect(message).toContain("az login");
    expect(message).toContain("managed identity");
    expect(message).toContain("AZURE_CLIENT_ID");
    // Key Vault only ever answered the unauthenticated challenge.
    expect(tenant.requests.entries().filter((e) => e.service === "keyVault").every((e) => e.status === 401)).toBe(true);
  });
});
