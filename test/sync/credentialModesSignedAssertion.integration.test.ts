/**
 * GRAPH_CREDENTIAL=keyVaultSignedAssertion end to end: a full sync through the real clients
 * (DefaultAzureCredential -> managed identity -> CertificateClient + CryptographyClient.sign ->
 * MSAL clientAssertion callback -> Entra -> Graph -> Azurite) with a certificate whose key is NOT
 * exportable. The certificate's backing secret is never requested, and Key Vault signs only when
 * MSAL needs a new token.
 */
import { createHash } from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { countPaths, decodeJwtParts, envForMode, expectNoMsalWarnings, keyVaultPaths } from "../support/credentialModes.js";

const USERS = 1_500;
let world: SyncEnvironment;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, certificateKeyExportable: false });
  world.useInProcess();
  env = envForMode(world.env, {
    GRAPH_CREDENTIAL: "keyVaultSignedAssertion",
    KEY_VAULT_URL: world.tenant.keyVaultUrl,
    KEY_VAULT_CERTIFICATE_NAME: world.tenant.certificateName,
  });
});
afterAll(async () => world?.close());

describe("GRAPH_CREDENTIAL=keyVaultSignedAssertion with a non-exportable key", () => {
  const log = capturingLogger();
  let service: UserSyncService;
  let clients: AppClients;
  const assertions: string[] = [];

  it("the vault's certificate really has a non-exportable key: its secret holds no private key", async () => {
    const client = new CertificateClient(world.tenant.keyVaultUrl, new DefaultAzureCredential(), { disableChallengeResourceVerification: true });
    const certificate = await client.getCertificate(world.tenant.certificateName);
    expect(certificate.policy?.exportable).toBe(false);
    // The certificate mode, which needs the key, cannot work with this certificate.
    const certificateMode = composeUserSync(envForMode(world.env, { KEY_VAULT_URL: world.tenant.keyVaultUrl, KEY_VAULT_CERTIFICATE_NAME: world.tenant.certificateName })).clients;
    await expect(certificateMode.tokens.getToken()).rejects.toMatchObject({ code: "certificate_no_private_key" });
    world.tenant.requests.reset();
  });

  it("syncs the whole directory with assertions signed by Key Vault, never reading the certificate's secret", async () => {
    const remove = world.tenant.intercept("token", (request) => {
      const assertion = new URLSearchParams(request.body).get("client_assertion");
      if (assertion) assertions.push(assertion);
      return undefined;
    });
    try {
      ({ service, clients } = composeUserSync(env));
      const { run, stats } = await service.runSync(log.logger, { trigger: "cli" });
      expect(stats.usersRead).toBe(USERS);
      expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(run.snapshotId);
    } finally {
      remove();
    }
    const paths = keyVaultPaths(world.tenant);
    expect(paths.filter((p) => p.includes("/secrets/"))).toEqual([]);
    expect(countPaths(world.tenant, "keyVault", /\/keys\/[^/]+\/[^/]+\/sign/)).toBe(1);
    expect(world.tenant.requests.count("token")).toBe(1);
    expect(clients.graphCredential.signedAssertions?.signatureCount).toBe(1);
    expectNoMsalWarnings(log.lines);
  });

  it("sends a PS256 assertion with the certificate's x5t#S256, the token endpoint as audience, iss = sub = client id and a 10-minute lifetime", () => {
    expect(assertions).toHaveLength(1);
    const { header, claims } = decodeJwtParts(assertions[0]!);
    const { tenant } = world;
    expect(header).toEqual({
      alg: "PS256",
      typ: "JWT",
      "x5t#S256": createHash("sha256").update(Buffer.from(tenant.appCertificate.certificateDerBase64, "base64")).digest("base64url"),
    });
    expect(claims.aud).toBe(`${tenant.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`);
    expect(claims.iss).toBe(tenant.clientId);
    expect(claims.sub).toBe(tenant.clientId);
    expect(typeof claims.jti).toBe("string");
    expect(claims.iat).toBe(claims.nbf);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(600);
  });

  it("signs again only when MSAL needs a new token: none for a cached token, one per forced refresh, each with a new jti", async () => {
    const signatures = () => countPaths(world.tenant, "keyVault", /\/sign/);
    const before = { sign: signatures(), token: world.tenant.requests.count("token") };
    await service.runSync(log.logger, { trigger: "timer" });
    expect(signatures()).toBe(before.sign);
    expect(world.tenant.requests.count("token")).toBe(before.token);

    const remove = world.tenant.intercept("token", (request) => {
      const assertion = new URLSearchParams(request.body).get("client_assertion");
      if (assertion) assertions.push(assertion);
      return undefined;
    });
    try {
      const forced = await clients.tokens.getToken({ forceRefresh: true });
      expect(forced.fromCache).toBe(false);
    } finally {
      remove();
    }
    expect(signatures()).toBe(before.sign + 1);
    expect(world.tenant.requests.count("token")).toBe(before.token + 1);
    const jtis = assertions.map((a) => decodeJwtParts(a).claims.jti);
    expect(new Set(jtis).size).toBe(jtis.length);
    // Still no secret read, and the certificate itself was read once for the process.
    expect(keyVaultPaths(world.tenant).filter((p) => p.includes("/secrets/"))).toEqual([]);
    expect(countPaths(world.tenant, "keyVault", /^\/certificates\//)).toBe(1);
  });

  it("names the sign permission and the roles when Key Vault refuses to sign", async () => {
    const refuse = world.tenant.intercept("keyVault", (request) =>
      request.url.pathname.endsWith("/sign")
        ? {
            status: 403,
            headers: { "content-type": "application/json" },
            body: { error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.\r\nAction: 'Microsoft.KeyVault/vaults/keys/sign/action'", innererror: { code: "ForbiddenByRbac" } } },
          }
        : undefined,
    );
    try {
      const fresh = composeUserSync(env).clients;
      const error = await fresh.tokens.getToken().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "key_vault_access_denied" });
      const message = (error as Error).message;
      expect(message).toContain("Microsoft.KeyVault/vaults/keys/sign/action");
      expect(message).toContain("Key Vault Crypto User");
      expect(message).toContain("Key Vault Certificate User");
      expect((error as Error).cause).toBeUndefined();
    } finally {
      refuse();
    }
  });

  it("never wrote an assertion, token or key to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 10 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
