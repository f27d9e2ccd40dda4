/** Certificate stored as application/x-pem-file: the whole chain and MSAL's cache. */
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { chainFor, useSimulatedTenant } from "./simulatedChain.js";

const simulated = useSimulatedTenant({ userCount: 1, certificateContentType: "application/x-pem-file" });

describe("credentials chain with a PEM certificate", () => {
  it("gets a Graph token, then serves the next one from MSAL's cache without Key Vault or token requests", async () => {
    const { tenant } = simulated;
    const { certificates, tokens } = chainFor(tenant);
    const certificate = await certificates.getClientCertificate();
    expect(certificate.thumbprintSha256).toBe(tenant.appCertificate.thumbprintSha256Hex);
    expect(certificate.x5c).toEqual([tenant.appCertificate.certificateDerBase64, tenant.appIssuerCertificate.certificateDerBase64]);

    const first = await tokens.getToken();
    expect(first.fromCache).toBe(false);
    expect(decodeJwt(first.token).tid).toBe(tenant.tenantId);
    const tokenRequests = tenant.requests.count("token");
    const vaultRequests = tenant.requests.count("keyVault");

    const second = await tokens.getToken();
    expect(second.fromCache).toBe(true);
    expect(tenant.requests.count("token")).toBe(tokenRequests);
    expect(tenant.requests.count("keyVault")).toBe(vaultRequests);
  });
});
