/**
 * A vault where the managed identity has no role. Its own file: msal-node keeps the managed-identity
 * source and token cache process-wide, so each file uses the managed identity of one tenant.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

let usGov: SimulatedTenant;

beforeAll(async () => {
  usGov = await startTrustedSimulatedTenant({ userCount: 1, cloud: "AzureUSGovernment", keyVaultAccess: "forbidden" });
  for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"]) {
    vi.stubEnv(name, undefined);
  }
  vi.stubEnv("IDENTITY_ENDPOINT", usGov.identityEndpoint);
  vi.stubEnv("IDENTITY_HEADER", usGov.identityHeader);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await usGov?.close();
});

describe("simulated Key Vault without a role assignment", () => {
  it("answers 403 ForbiddenByRbac when the managed identity has no role on the vault", async () => {
    const client = new CertificateClient(usGov.keyVaultUrl, new DefaultAzureCredential(), { disableChallengeResourceVerification: true });
    const error = await client.getCertificate(usGov.certificateName).then(
      () => undefined,
      (e: unknown) => e as { statusCode: number; code: string; details: { error: { innerError: { code: string } } } },
    );
    expect(error?.statusCode).toBe(403);
    expect(error?.code).toBe("Forbidden");
    expect(error?.details.error.innerError.code).toBe("ForbiddenByRbac");
    expect(usGov.requests.count("managedIdentity")).toBe(1);
    expect(usGov.requests.entries().filter((e) => e.service === "keyVault").map((e) => e.status)).toEqual([401, 403]);
  });
});
