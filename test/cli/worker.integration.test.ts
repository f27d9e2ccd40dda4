/**
 * `entra-user-sync worker --once` as shipped, in multi-tenant mode, against Azurite's tables and
 * queues and a simulated cloud of several tenants: five tenants synced in parallel, each export
 * equal to its own directory; a tenant without consent fails alone, its admin-consent URL in its
 * registry row and run record; bad queue settings fail before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startTrustedSimulatedTenant } from "../support/simulatedTenant.js";
import { expectNoSecrets } from "../support/syncEnvironment.js";

const TENANTS = [1, 2, 3, 4, 5].map((i) => `d${i}d${i}d${i}d${i}-0000-4000-8000-00000000000${i}`);
const NO_CONSENT = "d6d6d6d6-0000-4000-8000-000000000006";
const SELECT = ["id", "displayName", "userPrincipalName", "accountEnabled"];

let azurite: AzuriteInstance;
let cloud: SimulatedTenant;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  const all: Record<string, string | undefined> = {
    ...cloud.settingsEnv(),
    GRAPH_TENANT_ID: undefined,
    SNAPSHOT_STORAGE: azurite.connectionString,
    USER_SYNC_QUEUE: azurite.connectionString,
    USER_SYNC_TENANT_MODE: "multi",
    USER_SYNC_SELECT: SELECT.join(","),
    NODE_EXTRA_CA_CERTS: cloud.caCertificatePath,
    ...extra,
  };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) env[k] = v;
  return runCli(args, env);
}

beforeAll(async () => {
  assertCliBuilt();
  [azurite, cloud] = await Promise.all([
    startAzurite({ queue: true }),
    startTrustedSimulatedTenant({
      userCount: 3,
      customerTenants: [
        ...TENANTS.map((tenantId, i) => ({ tenantId, userCount: 100 + 150 * i, graphLatencyInMs: 100 })),
        { tenantId: NO_CONSENT, userCount: 10, consent: "none" as const },
      ],
    }),
  ]);
}, 120_000);
afterAll(async () => Promise.all([cloud?.close(), azurite?.close()]));

describe("entra-user-sync worker", () => {
  it("syncs every registered tenant in parallel, each into its own tables; a tenant without consent fails alone with its consent URL", async () => {
    for (const tenantId of [...TENANTS, NO_CONSENT]) expect((await cli(["tenants", "add", tenantId])).code).toBe(0);
    const worker = await cli(["worker", "--once", "--concurrency", "3"]);
    expect(worker.stdout).toContain("Worker handled 6 messages: ");
    for (const tenantId of TENANTS) expect(worker.stdout).toContain(`${tenantId}  succeeded`);
    expect(worker.stdout).toContain(`${NO_CONSENT}  failed`);
    // A failed tenant makes the exit code 1, the others' work is kept.
    expect(worker.code).toBe(1);
    const consentUrl = `${cloud.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${cloud.clientId}`;
    expect(worker.stderr).toContain(`[tenant ${NO_CONSENT}]`);
    expect(worker.stderr).toContain(consentUrl);

    for (const [i, tenantId] of TENANTS.entries()) {
      const exported = await cli(["export", "--latest", "--tenant", tenantId]);
      expect(exported.code).toBe(0);
      const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser);
      const expected = new Map([...cloud.customers.get(tenantId)!.directory.users(SELECT)].map((u) => [u.id, u]));
      expect(users).toHaveLength(100 + 150 * i);
      for (const user of users) expect(JSON.stringify(user)).toBe(JSON.stringify(expected.get(user.id)));
    }
    const show = await cli(["tenants", "show", NO_CONSENT]);
    expect(show.stdout).toContain("Last outcome:  failed");
    expect(show.stdout).toContain(consentUrl);
    const runs = await cli(["runs", "--json", "--tenant", NO_CONSENT]);
    expect(runs.stdout).toContain(consentUrl);
    const list = await cli(["tenants", "list"]);
    expect(list.stdout.match(/succeeded at/g)).toHaveLength(5);
    expectNoSecrets(worker.stdout + worker.stderr, [azurite.connectionString]);

    // Runs started by a tenant message record the trigger `queue`.
    const queued = await cli(["runs", "--json", "--tenant", TENANTS[1]!]);
    const triggers = queued.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { trigger?: string }).trigger);
    expect(triggers.length).toBeGreaterThanOrEqual(2);
    expect(triggers).toEqual(triggers.map(() => "queue"));
    const wide = await cli(["runs", "--wide", "--tenant", TENANTS[1]!]);
    expect(wide.stdout).toMatch(/\bqueue\b/);

    // Nothing left in the queue: a second worker --once finds every tenant idle and queues them again.
    const again = await cli(["worker", "--once", "--concurrency", "4"]);
    expect(again.stdout).toContain("Worker handled 6 messages");
  }, 300_000);

  it("fails on bad queue settings before anything is sent, naming the setting", async () => {
    const missing = await cli(["worker", "--once"], { USER_SYNC_QUEUE: undefined });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("USER_SYNC_QUEUE is missing");
    const http = await cli(["worker", "--once"], { USER_SYNC_QUEUE: undefined, USER_SYNC_QUEUE__queueServiceUri: "http://127.0.0.1:1/devstoreaccount1" });
    expect(http.code).toBe(2);
    expect(http.stderr).toContain("USER_SYNC_QUEUE__queueServiceUri must be a plain https URL");
    const single = await cli(["worker", "--once"], { USER_SYNC_TENANT_MODE: undefined, GRAPH_TENANT_ID: cloud.tenantId });
    expect(single.code).toBe(2);
    expect(single.stderr).toContain("USER_SYNC_TENANT_MODE is single");
  });
});
