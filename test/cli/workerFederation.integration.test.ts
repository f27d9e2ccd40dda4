/**
 * GRAPH_CREDENTIAL=managedIdentityFederation in multi-tenant mode, through the compiled command
 * line (`worker --once`), Azurite's tables and queues and the simulated cloud: the home tenant's
 * managed identity (its App Service endpoint, through DefaultAzureCredential) is the federated
 * credential of the multi-tenant app, and its one token is the client assertion at every customer
 * tenant's token endpoint. Two consented tenants are synced, each export equal to its own
 * directory; a tenant without consent fails alone with its admin-consent URL; a federated
 * credential with the wrong subject fails every tenant with the issuer, subject and audience to
 * register. Each CLI run is its own process (msal-node keeps its managed identity source per
 * process); the simulator is this file's only one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import type { FederatedIdentityCredential } from "../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { countPaths, decodeJwtParts } from "../support/credentialModes.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "b1b1b1b1-0000-4000-8000-000000000001";
const T2 = "b2b2b2b2-0000-4000-8000-000000000002";
const NO_CONSENT = "b3b3b3b3-0000-4000-8000-000000000003";
const SIZES = new Map([
  [T1, 180],
  [T2, 340],
]);
const SELECT = ["id", "displayName", "userPrincipalName", "accountEnabled"];
const EXCHANGE = "api://AzureADTokenExchange";

let world: SyncEnvironment;

function cli(args: string[]) {
  return runCli(
    args,
    world.cliEnv({
      // The app's home tenant is not synced (nor needed): the tenants come from the registry.
      GRAPH_TENANT_ID: undefined,
      // The federated credential reads nothing from Key Vault (loadSettings refuses these with it).
      KEY_VAULT_URL: undefined,
      KEY_VAULT_CERTIFICATE_NAME: undefined,
      GRAPH_CREDENTIAL: "managedIdentityFederation",
      USER_SYNC_TENANT_MODE: "multi",
      USER_SYNC_SELECT: SELECT.join(","),
    }),
  );
}

/** The client assertion of each token request, by the tenant segment of its path. */
function recordAssertions(): { byTenant: Map<string, string[]>; stop: () => void } {
  const byTenant = new Map<string, string[]>();
  const stop = world.tenant.intercept("token", (request) => {
    const tenant = /^\/([^/]+)\/oauth2\/v2\.0\/token/.exec(request.url.pathname)?.[1];
    const assertion = new URLSearchParams(request.body).get("client_assertion");
    if (tenant !== undefined && assertion) byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), assertion]);
    return undefined;
  });
  return { byTenant, stop };
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment(
    {
      userCount: 3,
      federatedManagedIdentity: true,
      customerTenants: [
        { tenantId: T1, userCount: SIZES.get(T1)! },
        { tenantId: T2, userCount: SIZES.get(T2)! },
        { tenantId: NO_CONSENT, userCount: 10, consent: "none" },
      ],
    },
    { queue: true },
  );
  for (const tenantId of [T1, T2, NO_CONSENT]) expect((await cli(["tenants", "add", tenantId])).code).toBe(0);
}, 120_000);
afterAll(async () => world?.close());

describe("worker with GRAPH_CREDENTIAL=managedIdentityFederation in multi-tenant mode", () => {
  it("syncs each consented tenant with the one managed identity token as its assertion; a tenant without consent fails alone with its consent URL", async () => {
    world.tenant.requests.reset();
    const assertions = recordAssertions();
    let worker;
    try {
      // One tenant at a time: the assertion's reuse across tenants is then exact to count.
      worker = await cli(["worker", "--once", "--concurrency", "1"]);
    } finally {
      assertions.stop();
    }
    expect(worker.stdout).toContain("Worker handled 3 messages");
    expect(worker.stdout).toContain(`${T1}  succeeded`);
    expect(worker.stdout).toContain(`${T2}  succeeded`);
    expect(worker.stdout).toContain(`${NO_CONSENT}  failed`);
    expect(worker.code).toBe(1);
    const consentUrl = `${world.tenant.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${world.tenant.clientId}`;
    expect(worker.stderr).toContain(`[tenant ${NO_CONSENT}]`);
    expect(worker.stderr).toContain("AADSTS7000229");
    expect(worker.stderr).toContain(consentUrl);
    expect(worker.stdout + worker.stderr).toContain(`managed identity as a federated credential (issuer ${world.tenant.authorityHost}/${world.tenant.tenantId}/v2.0`);

    // Every tenant's token endpoint got the same assertion: the home tenant's managed identity token.
    expect([...assertions.byTenant.keys()].sort()).toEqual([T1, T2, NO_CONSENT].sort());
    const sent = [...assertions.byTenant.values()].flat();
    expect(new Set(sent).size).toBe(1);
    expect(decodeJwtParts(sent[0]!).claims).toMatchObject({
      iss: `${world.tenant.authorityHost}/${world.tenant.tenantId}/v2.0`,
      sub: world.tenant.managedIdentityObjectId,
      aud: EXCHANGE,
    });
    // Asked of the managed identity once for three tenants; Key Vault never contacted.
    expect(countPaths(world.tenant, "managedIdentity", /resource=api%3A%2F%2FAzureADTokenExchange/)).toBe(1);
    expect(world.tenant.requests.count("keyVault")).toBe(0);

    for (const [tenantId, size] of SIZES) {
      const exported = await cli(["export", "--latest", "--tenant", tenantId]);
      expect(exported.code).toBe(0);
      const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser);
      const expected = new Map([...world.tenant.customers.get(tenantId)!.directory.users(SELECT)].map((u) => [u.id, u]));
      expect(users).toHaveLength(size);
      for (const user of users) expect(JSON.stringify(user)).toBe(JSON.stringify(expected.get(user.id)));
    }
    const show = await cli(["tenants", "show", NO_CONSENT]);
    expect(show.stdout).toContain("Last outcome:  failed");
    expect(show.stdout).toContain(consentUrl);
    expectNoSecrets(worker.stdout + worker.stderr, [world.azurite.connectionString]);
    expect(worker.stdout + worker.stderr).not.toContain(sent[0]!);
  }, 300_000);

  it("fails every tenant, once and without a retry, naming the federated credential to register when its subject is wrong", async () => {
    const right: FederatedIdentityCredential = { name: "function-managed-identity", subject: world.tenant.managedIdentityObjectId, audiences: [EXCHANGE] };
    // The usual mistake: the identity's client id in place of its principal (object) id.
    world.tenant.setFederatedIdentityCredentials([{ ...right, subject: world.tenant.managedIdentityClientId }]);
    let worker;
    try {
      worker = await cli(["worker", "--once", "--concurrency", "3"]);
    } finally {
      world.tenant.setFederatedIdentityCredentials([right]);
    }
    expect(worker.code).toBe(1);
    expect(worker.stdout).toContain("Worker handled 3 messages");
    for (const tenantId of [T1, T2]) expect(worker.stdout).toContain(`${tenantId}  failed`);
    expect(worker.stderr).toContain("AADSTS700213");
    expect(worker.stderr).toContain("not retried");
    expect(worker.stderr).toContain(`issuer ${world.tenant.authorityHost}/${world.tenant.tenantId}/v2.0`);
    expect(worker.stderr).toContain(`subject ${world.tenant.managedIdentityObjectId}`);
    expect(worker.stderr).toContain(`audience ${EXCHANGE}`);
    expect(worker.stderr).toContain("home tenant");
    for (const tenantId of [T1, T2]) {
      const show = await cli(["tenants", "show", tenantId]);
      expect(show.stdout).toContain("Last outcome:  failed");
      expect(show.stdout).toContain(`subject ${world.tenant.managedIdentityObjectId}`);
    }
    // The tenant without consent still fails for its own reason, first: no service principal.
    expect((await cli(["tenants", "show", NO_CONSENT])).stdout).toContain("AADSTS7000229");

    // Once the credential is right again, the next worker run syncs them.
    const again = await cli(["worker", "--once", "--concurrency", "3"]);
    for (const tenantId of [T1, T2]) expect(again.stdout).toContain(`${tenantId}  succeeded`);
  }, 300_000);
});
