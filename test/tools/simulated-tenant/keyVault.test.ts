/**
 * Key Vault and managed identity through the real clients: DefaultAzureCredential (App Service
 * managed identity), CertificateClient and SecretClient through Key Vault's 401 challenge.
 * msal-node caches managed-identity tokens process-wide (per resource), so each test file uses
 * one simulated tenant per Key Vault resource.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { SecretClient } from "@azure/keyvault-secrets";
import { decodeJwt } from "jose";
import forge from "node-forge";
import { createHash, createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { msalClientFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

let tenant: SimulatedTenant;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 1 });
  vi.stubEnv("IDENTITY_ENDPOINT", tenant.identityEndpoint);
  vi.stubEnv("IDENTITY_HEADER", tenant.identityHeader);
  for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"]) {
    vi.stubEnv(name, undefined);
  }
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await tenant?.close();
});

/** The private key and certificates in a Key Vault PKCS#12 secret (no password). */
function readPkcs12(base64: string): { privateKeyPem: string; certificatesPem: string[] } {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(base64)), "");
  const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!]![0]!;
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!]!;
  const rsaPem = forge.pki.privateKeyToPem(keyBag.key!);
  return {
    privateKeyPem: createPrivateKey(rsaPem).export({ type: "pkcs8", format: "pem" }).toString(),
    certificatesPem: certBags.map((b) => forge.pki.certificateToPem(b.cert!)),
  };
}

describe("simulated Key Vault and managed identity, through DefaultAzureCredential and the Key Vault clients", () => {
  it("challenges, then serves the certificate to a managed-identity token from DefaultAzureCredential", async () => {
    tenant.requests.reset();
    const client = new CertificateClient(tenant.keyVaultUrl, new DefaultAzureCredential(), { disableChallengeResourceVerification: true });
    const certificate = await client.getCertificate(tenant.certificateName);

    expect(certificate.name).toBe(tenant.certificateName);
    expect(certificate.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(certificate.properties.id).toBe(`${tenant.keyVaultUrl}/certificates/${tenant.certificateName}/${certificate.properties.version}`);
    expect(certificate.secretId).toBe(`${tenant.keyVaultUrl}/secrets/${tenant.certificateName}/${certificate.properties.version}`);
    expect(certificate.keyId).toBe(`${tenant.keyVaultUrl}/keys/${tenant.certificateName}/${certificate.properties.version}`);
    expect(Buffer.from(certificate.cer!).toString("base64")).toBe(tenant.appCertificate.certificateDerBase64);
    expect(Buffer.from(certificate.properties.x509Thumbprint!).toString("hex")).toBe(tenant.appCertificate.thumbprintSha1Hex);
    expect(certificate.properties.expiresOn?.getTime()).toBe(Math.floor(tenant.appCertificate.notAfter.getTime() / 1000) * 1000);
    expect(certificate.policy?.contentType).toBe("application/x-pkcs12");
    expect(certificate.policy?.exportable).toBe(true);

    const keyVaultStatuses = tenant.requests.entries().filter((e) => e.service === "keyVault").map((e) => e.status);
    expect(keyVaultStatuses).toEqual([401, 200]);
    expect(tenant.requests.count("managedIdentity")).toBe(1);
  });

  it("serves the backing secret as a legacy PKCS#12 with the key and a two-certificate chain, usable by MSAL", async () => {
    const client = new SecretClient(tenant.keyVaultUrl, new DefaultAzureCredential(), { disableChallengeResourceVerification: true });
    const secret = await client.getSecret(tenant.certificateName);
    expect(secret.properties.contentType).toBe("application/x-pkcs12");
    expect(secret.properties.managed).toBe(true);
    expect(secret.properties.certificateKeyId).toMatch(new RegExp(`^${tenant.keyVaultUrl}/keys/${tenant.certificateName}/[0-9a-f]{32}$`));
    const { privateKeyPem, certificatesPem } = readPkcs12(secret.value!);
    expect(certificatesPem).toHaveLength(2);
    const derOf = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    const thumbprints = certificatesPem.map((pem) => createHash("sha256").update(derOf(pem)).digest("hex"));
    expect(thumbprints).toContain(tenant.appCertificate.thumbprintSha256Hex);
    expect(thumbprints).toContain(tenant.appIssuerCertificate.thumbprintSha256Hex);

    const result = await msalClientFor(tenant, { certificate: { privateKeyPem, thumbprintSha256Hex: tenant.appCertificate.thumbprintSha256Hex } }).acquireTokenByClientCredential({
      scopes: [`${tenant.graphResource}/.default`],
    });
    expect(decodeJwt(result!.accessToken).roles).toEqual(["User.Read.All"]);
  });

  it("answers an unknown certificate or secret with 404 CertificateNotFound / SecretNotFound", async () => {
    const credential = new DefaultAzureCredential();
    const certificates = new CertificateClient(tenant.keyVaultUrl, credential, { disableChallengeResourceVerification: true });
    await expect(certificates.getCertificate("no-such-certificate")).rejects.toMatchObject({ statusCode: 404, code: "CertificateNotFound" });
    const secrets = new SecretClient(tenant.keyVaultUrl, credential, { disableChallengeResourceVerification: true });
    await expect(secrets.getSecret("no-such-secret")).rejects.toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    await expect(secrets.getSecret(tenant.certificateName, { version: "0123456789abcdef0123456789abcdef" })).rejects.toMatchObject({ statusCode: 404 });
  });

  it("checks the token before the api-version, and names the missing item and version in its 404", async () => {
    const { token } = await new DefaultAzureCredential().getToken("https://vault.azure.net/.default");
    const headers = { authorization: `Bearer ${token}` };
    const notFound = "was not found in this key vault. Check the name, or whether it was deleted (it may be recoverable).";
    const key = await rawRequest("GET", `${tenant.keyVaultUrl}/keys/no-such-key/0123456789abcdef0123456789abcdef?api-version=7.5`, { headers });
    expect(key.status).toBe(404);
    expect(key.body.error).toEqual({ code: "KeyNotFound", message: `A key with (name/id) no-such-key/0123456789abcdef0123456789abcdef ${notFound}` });
    const certificate = await rawRequest("GET", `${tenant.keyVaultUrl}/certificates/no-such-certificate?api-version=7.5`, { headers });
    expect(certificate.body.error).toEqual({ code: "CertificateNotFound", message: `A certificate with (name/id) no-such-certificate ${notFound}` });
    const secret = await rawRequest("GET", `${tenant.keyVaultUrl}/secrets/no-such-secret?api-version=7.5`, { headers });
    expect(secret.body.error).toEqual({ code: "SecretNotFound", message: `A secret with (name/id) no-such-secret ${notFound}` });
    const noVersion = await rawRequest("GET", `${tenant.keyVaultUrl}/secrets/${tenant.certificateName}`, { headers });
    expect(noVersion.status).toBe(400);
    expect(noVersion.body.error).toEqual({ code: "BadParameter", message: "The request URI has a missing or invalid api-version ('')." });
    expect((await rawRequest("GET", `${tenant.keyVaultUrl}/secrets/${tenant.certificateName}`)).status).toBe(401);
  });

  it("challenges an unauthenticated request with the tenant's authority and the cloud's vault resource", async () => {
    const response = await rawRequest("GET", `${tenant.keyVaultUrl}/certificates/${tenant.certificateName}?api-version=7.5`);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(`Bearer authorization="${tenant.authorityHost}/${tenant.tenantId}", resource="https://vault.azure.net"`);
    expect(response.body.error.code).toBe("Unauthorized");
  });

  it("refuses a Graph app token (not the managed identity) with 403 ForbiddenByRbac", async () => {
    const msal = msalClientFor(tenant);
    const appToken = await msal.acquireTokenByClientCredential({ scopes: ["https://vault.azure.net/.default"] });
    const response = await rawRequest("GET", `${tenant.keyVaultUrl}/secrets/${tenant.certificateName}?api-version=7.5`, { headers: { authorization: `Bearer ${appToken!.accessToken}` } });
    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: "Forbidden", innererror: { code: "ForbiddenByRbac" } });
    const graphToken = await msal.acquireTokenByClientCredential({ scopes: [`${tenant.graphResource}/.default`] });
    const wrongAudience = await rawRequest("GET", `${tenant.keyVaultUrl}/secrets/${tenant.certificateName}?api-version=7.5`, { headers: { authorization: `Bearer ${graphToken!.accessToken}` } });
    expect(wrongAudience.status).toBe(401);
  });

  it("checks the managed-identity endpoint's secret header, api-version and identity", async () => {
    const url = (query: string) => `${tenant.identityEndpoint}?${query}`;
    const resource = `resource=${encodeURIComponent("https://vault.azure.net")}`;
    expect((await rawRequest("GET", url(`${resource}&api-version=2019-08-01`))).status).toBe(400);
    expect((await rawRequest("GET", url(`${resource}&api-version=2019-08-01`), { headers: { "x-identity-header": "wrong" } })).status).toBe(401);
    const headers = { "x-identity-header": tenant.identityHeader };
    expect((await rawRequest("GET", url(`${resource}&api-version=2017-09-01`), { headers })).status).toBe(400);
    expect((await rawRequest("GET", url(`${resource}&api-version=2019-08-01&client_id=00000000-0000-0000-0000-000000000001`), { headers })).status).toBe(400);
    const ok = await rawRequest("GET", url(`${resource}&api-version=2019-08-01`), { headers });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ resource: "https://vault.azure.net", token_type: "Bearer", client_id: tenant.managedIdentityClientId });
    expect(ok.body.expires_on).toMatch(/^\d{10}$/);
    expect(decodeJwt(ok.body.access_token)).toMatchObject({ aud: "https://vault.azure.net", oid: tenant.managedIdentityObjectId, tid: tenant.tenantId });
  });
});
