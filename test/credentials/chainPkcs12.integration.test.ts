/**
 * Certificate stored as application/x-pkcs12 (legacy 3DES/RC2-40, as Key Vault writes it): the whole
 * chain, MSAL's and the provider's caches, expiry warning, and failures translated.
 */
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { parseKeyVaultCertificateSecret } from "../../src/credentials/clientCertificate.js";
import { GraphTokenClient } from "../../src/credentials/graphTokenClient.js";
import { issueCertificate, toPemBundle } from "../../tools/simulated-tenant/pki.js";
import { chainFor, closedPort, expectUserSyncError, RecordingLogger, useSimulatedTenant } from "./simulatedChain.js";

const simulated = useSimulatedTenant({ userCount: 1, certificateContentType: "application/x-pkcs12" });

describe("credentials chain with a PKCS#12 certificate", () => {
  it("gets a Graph token with the certificate read from Key Vault through the managed identity", async () => {
    const { tenant } = simulated;
    const { certificates, tokens } = chainFor(tenant);
    const certificate = await certificates.getClientCertificate();
    expect(certificate.thumbprintSha256).toBe(tenant.appCertificate.thumbprintSha256Hex);
    expect(certificate.x5c).toEqual([tenant.appCertificate.certificateDerBase64, tenant.appIssuerCertificate.certificateDerBase64]);
    expect(tenant.requests.count("managedIdentity")).toBeGreaterThan(0);

    const token = await tokens.getToken();
    expect(token.fromCache).toBe(false);
    expect(token.expiresOn.getTime()).toBeGreaterThan(Date.now());
    const claims = decodeJwt(token.token);
    expect(claims.tid).toBe(tenant.tenantId);
    expect(claims.appid ?? claims.azp).toBe(tenant.clientId);
    expect(claims.roles).toContain("User.Read.All");
  });

  it("serves a second token from MSAL's cache with no new token or Key Vault request", async () => {
    const { tenant } = simulated;
    const { tokens } = chainFor(tenant);
    const first = await tokens.getToken();
    const tokenRequests = tenant.requests.count("token");
    const vaultRequests = tenant.requests.count("keyVault");
    const identityRequests = tenant.requests.count("managedIdentity");

    const second = await tokens.getToken();
    expect(second.fromCache).toBe(true);
    expect(second.token).toBe(first.token);
    expect(tenant.requests.count("token")).toBe(tokenRequests);
    expect(tenant.requests.count("keyVault")).toBe(vaultRequests);
    expect(tenant.requests.count("managedIdentity")).toBe(identityRequests);

    const forced = await tokens.getToken({ forceRefresh: true });
    expect(forced.fromCache).toBe(false);
    expect(tenant.requests.count("token")).toBeGreaterThan(tokenRequests);
    expect(tenant.requests.count("keyVault")).toBe(vaultRequests);
  });

  it("shares one Key Vault read between concurrent callers and re-reads when the cache ages out or on forceRefresh", async () => {
    const { tenant } = simulated;
    let now = new Date();
    const single = chainFor(tenant);
    let before = tenant.requests.count("keyVault");
    await single.certificates.getClientCertificate();
    const oneRead = tenant.requests.count("keyVault") - before;
    expect(oneRead).toBeGreaterThanOrEqual(2); // the certificate and its secret

    const { certificates } = chainFor(tenant, { now: () => now, maxAgeInMs: 60_000 });
    before = tenant.requests.count("keyVault");
    const results = await Promise.all([certificates.getClientCertificate(), certificates.getClientCertificate(), certificates.getClientCertificate()]);
    expect(tenant.requests.count("keyVault") - before).toBe(oneRead);
    expect(new Set(results.map((r) => r.thumbprintSha256)).size).toBe(1);

    before = tenant.requests.count("keyVault");
    await certificates.getClientCertificate();
    expect(tenant.requests.count("keyVault")).toBe(before);

    // Later reads skip the authentication challenge: just the certificate and its secret.
    now = new Date(now.getTime() + 61_000);
    await certificates.getClientCertificate();
    expect(tenant.requests.count("keyVault")).toBe(before + 2);

    before = tenant.requests.count("keyVault");
    await certificates.getClientCertificate({ forceRefresh: true });
    expect(tenant.requests.count("keyVault")).toBe(before + 2);
  });

  it("keeps a still-valid cached certificate when a routine refresh finds Key Vault unavailable, but not on forceRefresh", async () => {
    const { tenant } = simulated;
    let now = new Date();
    const logger = new RecordingLogger();
    const { certificates } = chainFor(tenant, { logger, now: () => now, maxAgeInMs: 60_000 });
    const cached = await certificates.getClientCertificate();

    const outage = tenant.intercept("keyVault", () => ({
      status: 503,
      headers: { "retry-after": "0" },
      body: { error: { code: "ServiceUnavailable", message: "The service is temporarily unavailable." } },
    }));
    try {
      now = new Date(now.getTime() + 61_000);
      const stale = await certificates.getClientCertificate();
      expect(stale.thumbprintSha256).toBe(cached.thumbprintSha256);
      expect(logger.lines.some((line) => line.startsWith("warn ") && line.includes("keeping the cached one"))).toBe(true);

      const forced = await expectUserSyncError(certificates.getClientCertificate({ forceRefresh: true }));
      expect(forced.code).toBe("key_vault_unavailable");
      expect(forced.message).toContain("503");
    } finally {
      outage();
    }
  });

  it("warns when the certificate expires within 30 days, without key material", async () => {
    const { tenant } = simulated;
    const logger = new RecordingLogger();
    const soon = new Date(tenant.appCertificate.notAfter.getTime() - 10 * 24 * 60 * 60 * 1000);
    const { certificates } = chainFor(tenant, { logger, now: () => soon });
    await certificates.getClientCertificate();
    const warning = logger.lines.find((line) => line.startsWith("warn "));
    expect(warning).toContain("expires on");
    expect(warning).toContain(tenant.appCertificate.thumbprintSha256Hex);
    expect(logger.lines.join("\n")).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it("translates Key Vault's 404 into key_vault_not_found naming the vault and certificate", async () => {
    const { tenant } = simulated;
    const { tokens } = chainFor(tenant, { certificateName: "no-such-certificate" });
    const error = await expectUserSyncError(tokens.getToken());
    expect(error.code).toBe("key_vault_not_found");
    expect(error.message).toContain("no-such-certificate");
    expect(error.message).toContain(tenant.keyVaultUrl);
  });

  it("reports a certificate Entra does not know as AADSTS700027 with the thumbprint sent", async () => {
    const { tenant } = simulated;
    const stranger = issueCertificate({ commonName: "not registered" });
    const parsed = parseKeyVaultCertificateSecret({
      value: toPemBundle({ privateKeyPem: stranger.privateKeyPem, chainPem: [stranger.certificatePem] }),
      contentType: "application/x-pem-file",
    });
    let forcedRefreshes = 0;
    const tokens = new GraphTokenClient({
      tenantId: tenant.tenantId,
      clientId: tenant.clientId,
      authorityHost: tenant.authorityHost,
      graphEndpoint: tenant.graphEndpoint,
      certificateProvider: {
        async getClientCertificate(options) {
          if (options?.forceRefresh) forcedRefreshes++;
          return parsed;
        },
      },
      logger: new RecordingLogger(),
    });
    const error = await expectUserSyncError(tokens.getToken());
    expect(error.code).toBe("token_request_failed");
    expect(error.details.aadsts).toBe(700027);
    expect(error.message).toContain(stranger.thumbprintSha256Hex);
    // It asked Key Vault once for a rotated certificate before giving up.
    expect(forcedRefreshes).toBe(1);
  });

  it("reports an unreachable token endpoint as token_endpoint_unreachable", async () => {
    const { tenant } = simulated;
    const port = await closedPort();
    const { certificates } = chainFor(tenant);
    const tokens = new GraphTokenClient({
      tenantId: tenant.tenantId,
      clientId: tenant.clientId,
      authorityHost: `https://127.0.0.1:${port}`,
      graphEndpoint: tenant.graphEndpoint,
      certificateProvider: certificates,
      logger: new RecordingLogger(),
    });
    const error = await expectUserSyncError(tokens.getToken());
    expect(error.code).toBe("token_endpoint_unreachable");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("GRAPH_AUTHORITY_HOST");
  });
});
