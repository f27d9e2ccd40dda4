/**
 * Key Vault in a national cloud with the PEM content type, through the real clients. msal-node
 * keeps its managed-identity source (IDENTITY_ENDPOINT/IDENTITY_HEADER as first read) and token
 * cache process-wide, so a test file can use the managed identity of one simulated tenant only.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { SecretClient } from "@azure/keyvault-secrets";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { msalClientFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

let china: SimulatedTenant;

beforeAll(async () => {
  china = await startTrustedSimulatedTenant({ userCount: 1, cloud: "AzureChina", certificateContentType: "application/x-pem-file", certificateName: "sync-cert" });
  for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"]) {
    vi.stubEnv(name, undefined);
  }
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await china?.close();
});

function useManagedIdentityOf(tenant: SimulatedTenant): void {
  vi.stubEnv("IDENTITY_ENDPOINT", tenant.identityEndpoint);
  vi.stubEnv("IDENTITY_HEADER", tenant.identityHeader);
}

describe("simulated Key Vault across clouds", () => {
  it("names the China cloud's vault resource in its challenge and serves a PEM secret whose key MSAL can use", async () => {
    const challenge = await rawRequest("GET", `${china.keyVaultUrl}/secrets/sync-cert/?api-version=2025-07-01`);
    expect(challenge.headers["www-authenticate"]).toBe(`Bearer authorization="${china.authorityHost}/${china.tenantId}", resource="https://vault.azure.cn"`);

    useManagedIdentityOf(china);
    const credential = new DefaultAzureCredential();
    const certificate = await new CertificateClient(china.keyVaultUrl, credential, { disableChallengeResourceVerification: true }).getCertificate("sync-cert");
    expect(certificate.policy?.contentType).toBe("application/x-pem-file");
    const secret = await new SecretClient(china.keyVaultUrl, credential, { disableChallengeResourceVerification: true }).getSecret("sync-cert");
    expect(secret.properties.contentType).toBe("application/x-pem-file");
    const pem = secret.value!;
    expect(pem.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    const privateKeyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)![0];

    const result = await msalClientFor(china, { certificate: { privateKeyPem, thumbprintSha256Hex: china.appCertificate.thumbprintSha256Hex } }).acquireTokenByClientCredential({
      scopes: ["https://microsoftgraph.chinacloudapi.cn/.default"],
    });
    expect(decodeJwt(result!.accessToken).aud).toBe("https://microsoftgraph.chinacloudapi.cn");
    expect(china.requests.count("token")).toBe(1);
  });
});
