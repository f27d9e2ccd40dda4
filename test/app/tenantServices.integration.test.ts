/**
 * The multi-tenant composition against the simulated cloud through the real SDK clients: one
 * confidential client and one Key Vault read for every tenant, each tenant's token from its own
 * authority (tid), which credential modes work across tenants (certificate from Key Vault,
 * assertion signed in Key Vault, client secret), and memory that follows the tenants running, not
 * the tenants served (a worker keeps no tenant's service after its run, and a bounded set of ids).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REMEMBERED_TENANTS, TenantServices } from "../../src/app/tenantServices.js";
import { changeTenantRecord } from "../../src/fanout/tenantRecords.js";
import { runWorker } from "../../src/fanout/worker.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { decodeJwtParts, envForMode, countPaths } from "../support/credentialModes.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "e1e1e1e1-0000-4000-8000-000000000001";
const T2 = "e2e2e2e2-0000-4000-8000-000000000002";
const NONE = "e3e3e3e3-0000-4000-8000-000000000003";
const SECRET = "simulated-client-secret-value-0123456789";
/** Tenants served by the worker in the memory tests. */
const SERVED = Array.from({ length: 6 }, (_, i) => `f${i}f${i}f${i}f${i}-0000-4000-8000-00000000000${i}`);

let world: SyncEnvironment;
let base: Record<string, string>;

beforeAll(async () => {
  world = await startSyncEnvironment(
    {
      userCount: 3,
      clientSecrets: [SECRET],
      customerTenants: [
        { tenantId: T1, userCount: 5 },
        { tenantId: T2, userCount: 5 },
        { tenantId: NONE, userCount: 5, consent: "none" },
        ...SERVED.map((tenantId) => ({ tenantId, userCount: 30 })),
      ],
    },
    { queue: true },
  );
  base = { ...world.env, USER_SYNC_TENANT_MODE: "multi" };
  delete base.GRAPH_TENANT_ID;
  process.env.IDENTITY_ENDPOINT = base.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = base.IDENTITY_HEADER;
}, 120_000);
afterAll(async () => world?.close());

async function tokensFor(services: TenantServices, ...tenantIds: string[]): Promise<Array<Record<string, unknown>>> {
  const claims: Array<Record<string, unknown>> = [];
  for (const tenantId of tenantIds) claims.push(decodeJwtParts((await services.getTenantSync(tenantId).clients.tokens.getToken()).token).claims);
  return claims;
}

describe("TenantServices", () => {
  it("refuses single-tenant mode, and builds each tenant's service over the process's clients", () => {
    expect(() => new TenantServices({ ...base, USER_SYNC_TENANT_MODE: "single", GRAPH_TENANT_ID: T1 })).toThrow(/USER_SYNC_TENANT_MODE is single/);
    const services = new TenantServices(base);
    const t1 = services.getTenantSync(T1).clients;
    expect(t1.settings.tenantId).toBe(T1);
    expect(services.getTenantSync(T1.toUpperCase()).clients.settings.tenantId).toBe(T1);
    expect(services.getTenantSync(T2).clients.settings.tenantId).toBe(T2);
    expect(t1.store.runsTableName).not.toBe(services.getTenantSync(T2).clients.store.runsTableName);
    // A one-off service is not kept: nothing grows with the tenants asked for.
    expect(services.activeTenantCount).toBe(0);
    expect(services.rememberedTenantCount).toBe(0);
  });

  it("keeps a tenant's service only while its runs are under way, shared by concurrent runs of that tenant", async () => {
    const services = new TenantServices(base);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seen: unknown[] = [];
    const first = services.withTenantSyncService(T1, async (service) => {
      seen.push(service);
      await held;
    });
    const second = services.withTenantSyncService(T1.toUpperCase(), async (service) => {
      seen.push(service);
      await held;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(services.activeTenantCount).toBe(1);
    expect(seen[0]).toBe(seen[1]);
    release();
    await Promise.all([first, second]);
    expect(services.activeTenantCount).toBe(0);
    // The work never ran a sync, so nothing is known of the tenant's tables.
    expect(services.knowsTablesOf(T1)).toBe(false);
  });

  it("a worker serving many tenants keeps no tenant's service after its run, and remembers a bounded set of tenants whose tables exist", async () => {
    const remembered = 4;
    const services = new TenantServices(base, undefined, { maxRememberedTenants: remembered });
    expect(MAX_REMEMBERED_TENANTS).toBeGreaterThanOrEqual(1000);
    await services.registry.createTableIfNotExists();
    await services.queue.createQueuesIfNotExist();
    for (const tenantId of SERVED) await services.registry.addTenant(tenantId);
    // Watch every run: how many tenants' services are alive while it works, and whether its service
    // started knowing its tables exist (no check) or had to check them.
    const alive: number[] = [];
    const startedKnowing = new Map<string, boolean[]>();
    const withService = services.withTenantSyncService.bind(services);
    services.withTenantSyncService = (tenantId, work, options) =>
      withService(
        tenantId,
        (service, clients) => {
          alive.push(services.activeTenantCount);
          startedKnowing.set(tenantId, [...(startedKnowing.get(tenantId) ?? []), service.tablesExist]);
          return work(service, clients);
        },
        options,
      );
    const outcomesAfterEachRun: number[] = [];
    const pass = async (concurrency: number) =>
      runWorker({ services, logger: capturingLogger().logger, concurrency, once: true, onOutcome: () => outcomesAfterEachRun.push(services.activeTenantCount) });

    const first = await pass(1);
    expect(first.outcomes.filter((o) => SERVED.includes(o.tenantId)).map((o) => o.outcome)).toEqual(SERVED.map(() => "succeeded"));
    // One run at a time: one service alive during it, none once it is done.
    expect(Math.max(...alive)).toBe(1);
    expect(outcomesAfterEachRun.every((n) => n === 0)).toBe(true);
    expect(services.activeTenantCount).toBe(0);
    // Every first run checked its tables; the process remembers only the most recent `remembered` tenants.
    expect([...startedKnowing.values()].map((runs) => runs[0])).toEqual(SERVED.map(() => false));
    expect(services.rememberedTenantCount).toBe(remembered);
    const order = first.outcomes.map((o) => o.tenantId).filter((id) => SERVED.includes(id));
    const recent = order.slice(-remembered);
    for (const tenantId of SERVED) expect(services.knowsTablesOf(tenantId)).toBe(recent.includes(tenantId));

    // The remembered tenants' next runs skip the table check; a forgotten tenant's checks again,
    // unless its registry row says its last run succeeded (here it says it failed).
    const forgotten = order[0]!;
    await changeTenantRecord(services.registry, forgotten, (current) => ({ ...current, lastOutcome: "failed" }));
    for (const tenantId of [...recent, forgotten]) await services.queue.sendTenantMessage({ tenantId, kind: "due", enqueuedAt: new Date().toISOString() });
    const second = await runWorker({ services, logger: capturingLogger().logger, concurrency: 1, once: true, schedule: false });
    expect(second.outcomes.map((o) => o.outcome)).toEqual([...recent, forgotten].map(() => "succeeded"));
    for (const tenantId of recent) expect(startedKnowing.get(tenantId)).toEqual([false, true]);
    expect(startedKnowing.get(forgotten)).toEqual([false, false]);

    // Three at a time: never more services alive than runs under way, none after; still a bounded set.
    alive.length = 0;
    const third = await pass(3);
    expect(third.outcomes.filter((o) => SERVED.includes(o.tenantId)).every((o) => o.outcome === "succeeded")).toBe(true);
    expect(Math.max(...alive)).toBeLessThanOrEqual(3);
    expect(services.activeTenantCount).toBe(0);
    expect(services.rememberedTenantCount).toBe(remembered);
  });

  it("a process that has not run a tenant yet skips its table check when the registry says the tenant's last run succeeded", async () => {
    const first = new TenantServices(base);
    await first.registry.createTableIfNotExists();
    await first.queue.createQueuesIfNotExist();
    const [succeeded, failed] = [SERVED[4]!, SERVED[5]!];
    for (const tenantId of [succeeded, failed]) await first.registry.addTenant(tenantId).catch(() => undefined);
    for (const tenantId of [succeeded, failed]) await first.queue.sendTenantMessage({ tenantId, kind: "due", enqueuedAt: new Date().toISOString() });
    await runWorker({ services: first, logger: capturingLogger().logger, concurrency: 1, once: true, schedule: false });
    await changeTenantRecord(first.registry, failed, (current) => ({ ...current, lastOutcome: "failed" }));
    // A new process (a worker --once per tick): it has run neither tenant.
    const services = new TenantServices(base);
    const startedKnowing = new Map<string, boolean>();
    const withService = services.withTenantSyncService.bind(services);
    services.withTenantSyncService = (tenantId, work, options) =>
      withService(
        tenantId,
        (service, clients) => {
          startedKnowing.set(tenantId, service.tablesExist);
          return work(service, clients);
        },
        options,
      );
    for (const tenantId of [succeeded, failed]) await services.queue.sendTenantMessage({ tenantId, kind: "due", enqueuedAt: new Date().toISOString() });
    const summary = await runWorker({ services, logger: capturingLogger().logger, concurrency: 1, once: true, schedule: false });
    expect(summary.outcomes.filter((o) => o.tenantId === succeeded || o.tenantId === failed).map((o) => o.outcome)).toEqual(["succeeded", "succeeded"]);
    expect(startedKnowing.get(succeeded)).toBe(true);
    expect(startedKnowing.get(failed)).toBe(false);
  });

  it("a failed run leaves nothing remembered of its tenant: the next run checks its tables", async () => {
    const services = new TenantServices(base);
    await expect(
      services.withTenantSyncService(T2, async (service) => {
        await service.runDue(capturingLogger().logger, { trigger: "cli" });
        expect(services.knowsTablesOf(T2)).toBe(false);
        throw new Error("the run failed after its tables were created");
      }),
    ).rejects.toThrow(/run failed/);
    expect(services.knowsTablesOf(T2)).toBe(false);
    await services.withTenantSyncService(T2, (service) => service.runDue(capturingLogger().logger, { trigger: "cli" }));
    expect(services.knowsTablesOf(T2)).toBe(true);
    expect(services.activeTenantCount).toBe(0);
  });

  it("certificate from Key Vault: one Key Vault read for every tenant, each token issued by its own tenant", async () => {
    world.tenant.requests.reset();
    const services = new TenantServices(base);
    const claims = await tokensFor(services, T1, T2, T1);
    expect(claims.map((c) => c.tid)).toEqual([T1, T2, T1]);
    expect(claims[0]!.iss).toBe(`${world.tenant.authorityHost}/${T1}/v2.0`);
    // Read once: the certificate cache is the process's, not the tenant's.
    expect(countPaths(world.tenant, "keyVault", /^\/secrets\//)).toBe(1);
    // The third token came from the cache (no third token request).
    expect(countPaths(world.tenant, "token", /oauth2\/v2\.0\/token/)).toBe(2);
  });

  it("assertion signed in Key Vault: each tenant's assertion is addressed to its own token endpoint", async () => {
    const env = envForMode(base, { GRAPH_CREDENTIAL: "keyVaultSignedAssertion", KEY_VAULT_URL: world.tenant.keyVaultUrl, KEY_VAULT_CERTIFICATE_NAME: world.tenant.certificateName });
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
    const error = await services.getTenantSync(NONE).clients.tokens.getToken().catch((e: unknown) => e);
    expect(isUserSyncError(error, "token_request_failed")).toBe(true);
    expect((error as Error).message).toContain("AADSTS7000229");
    expect((error as Error).message).toContain(`${world.tenant.authorityHost}/${NONE}/adminconsent?client_id=${world.tenant.clientId}`);
    expect((await tokensFor(services, T1))[0]!.tid).toBe(T1);
  });
});
