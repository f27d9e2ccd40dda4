/**
 * Multi-tenant mode through the compiled command line, against Azurite and a simulated cloud of
 * several tenants: onboarding (by GUID and by domain), `run`/`export`/`runs`/`diff --tenant`, each
 * tenant's export equal to its own directory, a tenant without consent failing with its consent
 * URL, offboarding with --delete-data, and single-tenant mode refusing --tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { startSyncEnvironment, expectNoSecrets, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";

const T1 = "a1a1a1a1-0000-4000-8000-000000000001";
const T2 = "a2a2a2a2-0000-4000-8000-000000000002";
const T3 = "a3a3a3a3-0000-4000-8000-000000000003";
const NO_CONSENT = "a4a4a4a4-0000-4000-8000-000000000004";
const NO_GRANT = "a5a5a5a5-0000-4000-8000-000000000005";

let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi", ...extra }));
}

function expectedUsers(tenantId: string): Map<string, GraphUser> {
  const customer = world.tenant.customers.get(tenantId)!;
  return new Map([...customer.directory.users(SELECT)].map((u) => [u.id, u]));
}

const SELECT = ["id", "userPrincipalName", "displayName", "accountEnabled"];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({
    userCount: 7,
    customerTenants: [
      { tenantId: T1, userCount: 120 },
      { tenantId: T2, userCount: 45 },
      { tenantId: T3, userCount: 260 },
      { tenantId: NO_CONSENT, userCount: 10, consent: "none" },
      { tenantId: NO_GRANT, userCount: 10, consent: "withoutUserReadAll" },
    ],
  });
  world.env.USER_SYNC_SELECT = SELECT.join(",");
}, 120_000);
afterAll(async () => world?.close());

describe("entra-user-sync tenants and --tenant", () => {
  it("onboards tenants by GUID and by domain, and lists them", async () => {
    const empty = await cli(["tenants", "list"]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain("No tenants are registered");
    for (const [tenantId, name] of [[T1, "Contoso"], [T2, "Fabrikam"], [NO_CONSENT, "Not yet"], [NO_GRANT, "No grant"]] as const) {
      const added = await cli(["tenants", "add", tenantId, "--name", name]);
      expect(added.stderr).toBe("");
      expect(added.code).toBe(0);
      expect(added.stdout).toContain(`Added tenant ${tenantId}`);
      expect(added.stdout).toContain(tenantTablePrefix(tenantId));
    }
    const byDomain = await cli(["tenants", "add", world.tenant.customers.get(T3)!.tenantDomain.toUpperCase()]);
    expect(byDomain.stderr).toBe("");
    expect(byDomain.stdout).toContain(`Added tenant ${T3} (${world.tenant.customers.get(T3)!.tenantDomain})`);
    expect(byDomain.stdout).toContain(`${world.tenant.authorityHost}/${T3}/adminconsent?client_id=${world.tenant.clientId}`);
    const twice = await cli(["tenants", "add", T1.toUpperCase()]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain(`Tenant ${T1} is already in the tenant registry`);

    const list = await cli(["tenants", "list", "--json"]);
    const rows = list.stdout.trim().split("\n").map((line) => JSON.parse(line) as { tenantId: string; name?: string; domain?: string });
    expect(rows.map((r) => r.tenantId)).toEqual([T1, T2, T3, NO_CONSENT, NO_GRANT]);
    expect(rows[0]).toMatchObject({ name: "Contoso", tablePrefix: tenantTablePrefix(T1) });
    expect(rows[2]).toMatchObject({ domain: world.tenant.customers.get(T3)!.tenantDomain });
  });

  it("refuses bad tenant ids before anything runs", async () => {
    for (const bad of ["common", "organizations", "consumers", "not a tenant"]) {
      const result = await cli(["tenants", "add", bad]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/multi-tenant authority|neither a GUID nor a domain/);
    }
    const unknown = await cli(["tenants", "add", "nobody.example.com"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("does not know the domain nobody.example.com");
  });

  it("syncs each tenant into its own tables: every export equals its own directory", async () => {
    for (const tenantId of [T1, T2, T3]) {
      const run = await cli(["run", "--tenant", tenantId, "--no-progress"]);
      expect(run.stderr).not.toMatch(/failed/i);
      expect(run.code).toBe(0);
    }
    for (const tenantId of [T1, T2, T3]) {
      const exported = await cli(["export", "--latest", "--tenant", tenantId]);
      expect(exported.code).toBe(0);
      const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser);
      const expected = expectedUsers(tenantId);
      expect(users).toHaveLength(expected.size);
      for (const user of users) expect(JSON.stringify(user)).toBe(JSON.stringify(expected.get(user.id)));
      const current = await cli(["export", "--current", "--tenant", tenantId]);
      expect(current.stdout.trim().split("\n")).toHaveLength(expected.size);
    }
    const runs = await cli(["runs", "--json", "--tenant", T2]);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toContain('"status":"succeeded"');
    const report = await cli(["report", "--tenant", T3, "--out", "-"]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain("<html");
    // Without --tenant in multi-tenant mode: the fleet page, each tenant's health, naming the command for its own page.
    const fleet = await cli(["report", "--out", "-"]);
    expect(fleet.code, fleet.stderr).toBe(0);
    expect(fleet.stdout).toContain("entra-user-sync: the fleet");
    for (const tenantId of [T1, T2, T3]) expect(fleet.stdout).toMatch(new RegExp(`data-tenant="${tenantId}" data-health="healthy"[^]*?report --tenant ${tenantId}`));
    for (const tenantId of [NO_CONSENT, NO_GRANT]) expect(fleet.stdout).toContain(`data-tenant="${tenantId}" data-health="pending"`);
    const diff = await cli(["diff", "--tenant", T1]);
    // One complete snapshot only: diff says so, about this tenant's snapshots.
    expect(diff.code).toBe(1);
    expect(diff.stderr).toMatch(/snapshot/i);
  });

  it("fails a tenant without consent alone, with that tenant's admin-consent URL in its error and run record", async () => {
    const consentUrl = `${world.tenant.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${world.tenant.clientId}`;
    const run = await cli(["run", "--tenant", NO_CONSENT, "--no-progress"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("AADSTS7000229");
    expect(run.stderr).toContain(consentUrl);
    const record = await cli(["runs", "--json", "--tenant", NO_CONSENT]);
    expect(record.stdout).toContain(consentUrl);

    const grantUrl = `${world.tenant.authorityHost}/${NO_GRANT}/adminconsent?client_id=${world.tenant.clientId}`;
    const noGrant = await cli(["run", "--tenant", NO_GRANT, "--no-progress"]);
    expect(noGrant.code).toBe(1);
    expect(noGrant.stderr).toContain("User.Read.All");
    expect(noGrant.stderr).toContain(grantUrl);
    expect((await cli(["runs", "--json", "--tenant", NO_GRANT])).stdout).toContain(grantUrl);

    // The others are untouched: T1's latest export is still its directory.
    const exported = await cli(["export", "--latest", "--tenant", T1]);
    expect(exported.stdout.trim().split("\n")).toHaveLength(120);
    expectNoSecrets(run.stderr + noGrant.stderr);
  });

  it("needs --tenant in multi mode, a registered tenant, and refuses --tenant in single mode", async () => {
    const missing = await cli(["export", "--latest"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("name the tenant with --tenant <tenantId>");
    const unregistered = await cli(["runs", "--tenant", "a9a9a9a9-0000-4000-8000-000000000009"]);
    expect(unregistered.code).toBe(2);
    expect(unregistered.stderr).toContain("is not in the tenant registry");
    const single = await cli(["runs", "--tenant", T1], { USER_SYNC_TENANT_MODE: undefined, GRAPH_TENANT_ID: world.tenant.tenantId });
    expect(single.code).toBe(2);
    expect(single.stderr).toContain("--tenant is for USER_SYNC_TENANT_MODE=multi");
    const singleTenants = await cli(["tenants", "list"], { USER_SYNC_TENANT_MODE: "single" });
    expect(singleTenants.code).toBe(2);
    const runNoTenant = await cli(["run", "--no-progress"]);
    expect(runNoTenant.code).toBe(2);
  });

  it("prints a tenant's consent URL in the configured cloud, and shows a tenant", async () => {
    const url = await cli(["tenants", "consent-url", NO_CONSENT]);
    // With the redirect URI the app registers (infra/entra/main.bicep; test/infra/consent-redirect.test.ts).
    expect(url.stdout.trim()).toBe(`${world.tenant.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${world.tenant.clientId}&redirect_uri=${encodeURIComponent("https://portal.azure.com/")}`);
    const show = await cli(["tenants", "show", T2]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("Name:          Fabrikam");
    expect(show.stdout).toContain(`${tenantTablePrefix(T2)}Snapshots`);
  });

  it("offboards a tenant with --delete-data, saying what it deleted, and leaves the others whole; never while a run of it holds its lease", async () => {
    // A run of T2 under way (its writer lease held): the row goes, the data stays, and the command says why.
    const store = new SnapshotStoreClient({ storage: loadStorageSettings(world.env), tablePrefix: tenantTablePrefix(T2) });
    const lease = await store.acquireLease({ trigger: "queue", leaseDurationInMs: 60_000 });
    const busy = await cli(["tenants", "remove", T2, "--delete-data"]);
    expect(busy.code).toBe(3);
    expect(busy.stdout).toContain(`Removed tenant ${T2} from the registry.`);
    expect(busy.stdout).not.toContain("Deleted table");
    expect(busy.stderr).toContain(`A run of tenant ${T2} is under way`);
    expect(busy.stderr).toContain("none of its data was deleted");
    expect(busy.stderr).toContain(`entra-user-sync tenants remove ${T2} --delete-data`);
    expect(await store.getLatestSnapshot()).toBeDefined();
    await store.releaseLease(lease);

    const removed = await cli(["tenants", "remove", T2, "--delete-data"]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    for (const suffix of ["Snapshots", "Runs", "Mirror", "MirrorChanges"]) expect(removed.stdout).toContain(`Deleted table ${tenantTablePrefix(T2)}${suffix}`);
    expect(removed.stdout).toContain(`Tenant ${T2} was not in the registry.`);
    expect(removed.stdout).toContain(`Deleted 4 tables of tenant ${T2}`);
    expect((await cli(["tenants", "show", T2])).code).toBe(2);
    expect((await cli(["export", "--latest", "--tenant", T2])).code).toBe(2);
    const other = await cli(["export", "--latest", "--tenant", T3]);
    expect(other.stdout.trim().split("\n")).toHaveLength(260);
    const again = await cli(["tenants", "remove", T2]);
    expect(again.code).toBe(2);
  });
});
