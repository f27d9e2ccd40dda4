/**
 * The multi-tenant composition against the simulated cloud through the real SDK clients: one
 * confidential client and one Key Vault read for every tenant, each tenant's token from its own
 * authority (tid), and which credential modes work across tenants (certificate from Key Vault,
 * assertion signed in Key Vault, client secret).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_CACHED_TENANT_SERVICES, TenantServices } from "../../src/app/tenantServices.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { decodeJwtParts, envForMode, countPaths } from "../support/credentialModes.js";
import { startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

const T1 = "e1e1e1e1-0000-4000-8000-000000000001";
const T2 = "e2e2e2e2-0000-4000-8000-000000000002";
const NONE = "e3e3e3e3-0000-4000-8000-000000000003";
const SECRET = "simulated-client-secret-value-0123456789";

let azurite: AzuriteInstance;
let cloud: SimulatedTenant;
let base: Record<string, string>;

beforeAll(async () => {
  [azurite, cloud] = await Promise.all([
    startAzurite(),
    startTrustedSimulatedTenant({
      userCount: 3,
      clientSecrets: [SECRET],
      customerTenants: [
        { tenantId: T1, userCount: 5 },
        { tenantId: T2, userCount: 5 },
        { tenantId: NONE, userCount: 5, consent: "none" },
      ],
    }),
  ]);
  base = { ...cloud.settingsEnv(), SNAPSHOT_STORAGE: azurite.connectionString, USER_SYNC_TENANT_MODE: "multi" };
  delete base.GRAPH_TENANT_ID;
  process.env.IDENTITY_ENDPOINT = base.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = base.IDENTITY_HEADER;
}, 120_000);
afterAll(async () => Promise.all([cloud?.close(), azurite?.close()]));

async function tokensFor(services: TenantServices, ...tenantIds: string[]): Promise<Array<Record<string, unknown>>> {
  const claims: Array<Record<string, unknown>> = [];
  for (const tenantId of tenantIds) claims.push(decodeJwtParts((await services.getTenantSyncService(tenantId).tokens.getToken()).token).claims);
  return claims;
}

describe("TenantServices", () => {
  it("refuses single-tenant mode, and keeps one service per tenant", () => {
    expect(() => new TenantServices({ ...base, USER_SYNC_TENANT_MODE: "single", GRAPH_TENANT_ID: T1 })).toThrow(/USER_SYNC_TENANT_MODE is single/);
    const services = new TenantServices(base);
    expect(services.getTenantSyncService(T1)).toBe(services.getTenantSyncService(T1.toUpperCase()));
    expect(services.getTenantSyncService(T1)).not.toBe(services.getTenantSyncService(T2));
    expect(services.getTenantSyncService(T2).settings.tenantId).toBe(T2);
    expect(services.getTenantSyncService(T1).store.runsTableName).not.toBe(services.getTenantSyncService(T2).store.runsTableName);
  });

  it("keeps a bounded number of tenants' services, least recently used out first", () => {
    const services = new TenantServices(base);
    const id = (i: number) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const first = services.getTenantSyncService(id(0));
    const second = services.getTenantSyncService(id(1));
    for (let i = 2; i <= MAX_CACHED_TENANT_SERVICES; i++) {
      services.getTenantSyncService(id(i));
      // Tenant 1 is used all along: it stays.
      expect(services.getTenantSyncService(id(1))).toBe(second);
    }
    // Tenant 0 was the least recently used: its service was dropped and is built anew.
    expect(services.getTenantSyncService(id(0))).not.toBe(first);
  });

  it("certificate from Key Vault: one Key Vault read for every tenant, each token issued by its own tenant", async () => {
    cloud.requests.reset();
    const services = new TenantServices(base);
    const claims = await tokensFor(services, T1, T2, T1);
    expect(claims.map((c) => c.tid)).toEqual([T1, T2, T1]);
    expect(claims[0]!.iss).toBe(`${cloud.authorityHost}/${T1}/v2.0`);
    // Read once: the certificate cache is the process's, not the tenant's.
    expect(countPaths(cloud, "keyVault", /^\/secrets\//)).toBe(1);
    // The third token came from the cache (no third token request).
    expect(countPaths(cloud, "token", /oauth2\/v2\.0\/token/)).toBe(2);
  });

  it("assertion signed in Key Vault: each tenant's assertion is addressed to its own token endpoint", async () => {
    const env = envForMode(base, { GRAPH_CREDENTIAL: "keyVaultSignedAssertion", KEY_VAULT_URL: cloud.keyVaultUrl, KEY_VAULT_CERTIFICATE_NAME: cloud.certificateName });
    const claims = await tokensFor(new TenantServices(env), T1, T2);
    expect(claims.map((c) => c.tid)).toEqual([T1, T2]);
  });

  it("client secret: works across tenants", async () => {
    const env = envForMode(base, { GRAPH_CREDENTIAL: "clientSecret", GRAPH_CLIENT_SECRET: SECRET });
    const claims = await tokensFor(new TenantServices(env), T2, T1);
    expect(claims.map((c) => c.tid)).toEqual([T2, T1]);
  });

  it("a tenant without consent fails with its own admin-consent URL, and another tenant's token still comes", async () => {
    const services = new TenantServices(base);
    const error = await services.getTenantSyncService(NONE).tokens.getToken().catch((e: unknown) => e);
    expect(isUserSyncError(error, "token_request_failed")).toBe(true);
    expect((error as Error).message).toContain("AADSTS7000229");
    expect((error as Error).message).toContain(`${cloud.authorityHost}/${NONE}/adminconsent?client_id=${cloud.clientId}`);
    expect((await tokensFor(services, T1))[0]!.tid).toBe(T1);
  });
});
