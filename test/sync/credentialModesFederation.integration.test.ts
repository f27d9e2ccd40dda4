/**
 * GRAPH_CREDENTIAL=managedIdentityFederation end to end: the managed identity's token for
 * api://AzureADTokenExchange (through DefaultAzureCredential and the App Service identity endpoint)
 * is the client assertion, trusted by the app's federated identity credential. A full sync reads no
 * certificate and no secret: Key Vault is not contacted at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOUDS } from "../../src/configuration/clouds.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { countPaths, decodeJwtParts, envForMode, expectNoMsalWarnings } from "../support/credentialModes.js";

const USERS = 1_200;
let world: SyncEnvironment;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, federatedManagedIdentity: true });
  world.useInProcess();
  env = envForMode(world.env, { GRAPH_CREDENTIAL: "managedIdentityFederation" });
});
afterAll(async () => world?.close());

describe("GRAPH_CREDENTIAL=managedIdentityFederation", () => {
  const log = capturingLogger();
  let service: UserSyncService;
  let clients: AppClients;
  const assertions: string[] = [];

  it("syncs the whole directory without reading any certificate or secret from Key Vault", async () => {
    const remove = world.tenant.intercept("token", (request) => {
      const assertion = new URLSearchParams(request.body).get("client_assertion");
      if (assertion) assertions.push(assertion);
      expect(new URLSearchParams(request.body).get("client_secret")).toBeNull();
      return undefined;
    });
    try {
      ({ service, clients } = composeUserSync(env));
      expect(clients.settings.credential).toEqual({ mode: "managedIdentityFederation", tokenExchangeAudience: "api://AzureADTokenExchange" });
      const { run, stats } = await service.runSync(log.logger, { trigger: "cli" });
      expect(stats.usersRead).toBe(USERS);
      expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(run.snapshotId);
    } finally {
      remove();
    }
    expect(world.tenant.requests.count("keyVault")).toBe(0);
    expect(world.tenant.requests.count("token")).toBe(1);
    expect(countPaths(world.tenant, "managedIdentity", /resource=api%3A%2F%2FAzureADTokenExchange/)).toBe(1);
    expectNoMsalWarnings(log.lines);
    expect(log.lines.some((line) => line.includes("federated credential") && line.includes(world.tenant.managedIdentityObjectId))).toBe(true);
  });

  it("sends the managed identity's token as the assertion: the exchange audience, the tenant's v2.0 issuer, the identity's object id as subject", () => {
    expect(assertions).toHaveLength(1);
    const { claims } = decodeJwtParts(assertions[0]!);
    expect(claims.aud).toBe(CLOUDS.AzurePublic.tokenExchangeAudience);
    expect(claims.iss).toBe(`${world.tenant.authorityHost}/${world.tenant.tenantId}/v2.0`);
    expect(claims.sub).toBe(world.tenant.managedIdentityObjectId);
  });

  it("asks the identity again only when a new Graph token is needed", async () => {
    const before = { token: world.tenant.requests.count("token"), identity: world.tenant.requests.count("managedIdentity") };
    await service.runSync(log.logger, { trigger: "timer" });
    expect(world.tenant.requests.count("token")).toBe(before.token);
    expect(world.tenant.requests.count("managedIdentity")).toBe(before.identity);
    const forced = await clients.tokens.getToken({ forceRefresh: true });
    expect(forced.fromCache).toBe(false);
    expect(world.tenant.requests.count("token")).toBe(before.token + 1);
    // The identity library serves its own cached exchange token: still no Key Vault, no new identity call needed.
    expect(world.tenant.requests.count("managedIdentity")).toBeLessThanOrEqual(before.identity + 1);
    expect(world.tenant.requests.count("keyVault")).toBe(0);
  });

  it("explains a federated credential that does not match, with the issuer, subject and audience to register", async () => {
    // Entra answers as it does when the app has no matching federated identity credential.
    const refuse = world.tenant.intercept("token", () => ({
      status: 400,
      headers: { "content-type": "application/json" },
      body: {
        error: "invalid_client",
        error_description: `AADSTS700213: No matching federated identity record found for presented assertion subject '${world.tenant.managedIdentityObjectId}'. Trace ID: 1 Correlation ID: 2 Timestamp: 2026-01-01 00:00:00Z`,
        error_codes: [700213],
      },
    }));
    try {
      const fresh = composeUserSync(env).clients;
      const error = await fresh.tokens.getToken().then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string; details?: Record<string, unknown> },
      );
      expect(error?.code).toBe("token_request_failed");
      expect(error?.details?.aadsts).toBe(700213);
      expect(error?.message).toContain(`subject ${world.tenant.managedIdentityObjectId}`);
      expect(error?.message).toContain(`issuer ${world.tenant.authorityHost}/${world.tenant.tenantId}/v2.0`);
      expect(error?.message).toContain("audience api://AzureADTokenExchange");
      expect(error?.message).toContain("graphCredential");
    } finally {
      refuse();
    }
  });

  it("never wrote a token to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 10 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
