/**
 * A sync in a national cloud: the simulated tenant plays Azure US Government (Key Vault's challenge
 * names https://vault.usgovcloudapi.net, Graph tokens are for https://graph.microsoft.us), the
 * product runs with GRAPH_CLOUD=AzureUSGovernment and the tenant given as its verified domain.
 * MSAL is given the authority as a known authority, so every request it makes — metadata included —
 * goes to the configured authority host and none to the public cloud.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeUserSync, createUserSyncService } from "../../src/app/syncService.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: 1_200, cloud: "AzureUSGovernment", certificateContentType: "application/x-pem-file" });
  world.useInProcess();
});
afterAll(async () => world?.close());

describe("a sync in Azure US Government", () => {
  it("completes through the cloud's Key Vault challenge and token audience, with the tenant as a domain", async () => {
    expect(world.tenant.keyVaultResource).toBe("https://vault.usgovcloudapi.net");
    expect(world.tenant.graphResource).toBe("https://graph.microsoft.us");
    const { service, clients } = composeUserSync({ ...world.env, GRAPH_TENANT_ID: world.tenant.tenantDomain });
    expect(clients.settings.cloud).toBe("AzureUSGovernment");

    const { run, stats } = await service.runSync(capturingLogger().logger, { trigger: "cli" });

    expect(stats.usersRead).toBe(1_200);
    expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(run.snapshotId);
    const metadata = world.tenant.requests.entries().filter((e) => e.service === "metadata");
    expect(metadata.length).toBeGreaterThan(0);
    expect(metadata.every((e) => e.path.startsWith(`/${world.tenant.tenantDomain}/`))).toBe(true);
    expect(world.tenant.requests.count("token")).toBe(1);
  });

  it("points a missing consent at the configured cloud's admin-consent URL", async () => {
    const service = createUserSyncService({ ...world.env, GRAPH_TENANT_ID: world.tenant.tenantDomain });
    const remove = world.tenant.intercept("graph", () => ({
      status: 403,
      body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } },
    }));
    try {
      await expect(service.runSync(capturingLogger().logger, { trigger: "cli" })).rejects.toThrow(
        `${world.tenant.authorityHost}/${world.tenant.tenantDomain}/adminconsent?client_id=${world.tenant.clientId}`,
      );
    } finally {
      remove();
    }
  });
});
