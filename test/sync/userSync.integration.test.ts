/**
 * Whole syncs through the real clients — DefaultAzureCredential (managed identity), Key Vault's
 * certificate and secret clients, MSAL, Azure Core's pipeline to Graph, and the Tables client on
 * Azurite — against the simulated tenant of 10,000 users, checked user by user.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment, expectSnapshotEqualsDirectory } from "../support/syncEnvironment.js";

const USERS = 10_000;
let world: SyncEnvironment;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, certificateContentType: "application/x-pkcs12" });
  world.useInProcess();
});
afterAll(async () => world?.close());

describe("a sync of a 10,000-user tenant (PKCS#12 certificate)", () => {
  let service: UserSyncService;
  let clients: AppClients;
  const log = capturingLogger();

  it("leaves a complete latest snapshot equal to the directory", async () => {
    ({ service, clients } = composeUserSync(world.env));
    expect(await clients.store.getLatestSnapshot().catch(() => undefined)).toBeUndefined();

    const { run, stats } = await service.runSync(log.logger, { trigger: "cli" });

    expect(stats.usersRead).toBe(USERS);
    expect(stats.entitiesWritten).toBe(USERS);
    expect(stats.pages).toBe(Math.ceil(USERS / 999));
    const latest = await clients.store.getLatestSnapshot();
    expect(latest?.snapshotId).toBe(run.snapshotId);
    await expectSnapshotEqualsDirectory(world.tenant, clients, run.snapshotId, USERS);

    const [recorded] = await Array.fromAsync(clients.store.listRuns({ maxResults: 1 }));
    expect(recorded).toMatchObject({ runId: run.runId, status: "succeeded", snapshotId: run.snapshotId });
    expect(recorded!.stats).toMatchObject({ pages: stats.pages, usersRead: USERS, entitiesWritten: USERS });

    // One token, one certificate read (certificate + secret), one managed-identity token for Key Vault.
    expect(world.tenant.requests.count("token")).toBe(1);
    expect(world.tenant.requests.count("graph")).toBe(stats.pages);
  });

  it("reuses the token and the certificate on a second run in the same process", async () => {
    const before = { token: world.tenant.requests.count("token"), keyVault: world.tenant.requests.count("keyVault"), mi: world.tenant.requests.count("managedIdentity") };
    const { run } = await service.runSync(log.logger, { trigger: "timer" });
    expect(world.tenant.requests.count("token")).toBe(before.token);
    expect(world.tenant.requests.count("keyVault")).toBe(before.keyVault);
    expect(world.tenant.requests.count("managedIdentity")).toBe(before.mi);
    expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(run.snapshotId);
  });

  it("keeps the previous snapshot as the latest when a run fails, and records why", async () => {
    const latestBefore = await clients.store.getLatestSnapshot();
    let pages = 0;
    const remove = world.tenant.intercept("graph", () =>
      ++pages === 3
        ? { status: 403, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } }) }
        : undefined,
    );
    try {
      await expect(service.runSync(log.logger, { trigger: "cli" })).rejects.toMatchObject({ code: "graph_forbidden" });
    } finally {
      remove();
    }
    expect((await clients.store.getLatestSnapshot())?.snapshotId).toBe(latestBefore?.snapshotId);
    const [failed] = await Array.fromAsync(clients.store.listRuns({ maxResults: 1 }));
    expect(failed!.status).toBe("failed");
    expect(failed!.error).toContain("User.Read.All");
    expect(failed!.error).toContain(`/adminconsent?client_id=${world.tenant.clientId}`);
  });

  it("never wrote a token, key or connection string to its logs or run records", async () => {
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 10 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [world.azurite.connectionString]);
  });
});
