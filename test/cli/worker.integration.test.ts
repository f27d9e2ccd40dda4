/**
 * `entra-user-sync worker --once` as shipped, in multi-tenant mode, against Azurite's tables and
 * queues and a simulated cloud of several tenants: five tenants synced in parallel, each export
 * equal to its own directory; a tenant without consent fails alone, its admin-consent URL in its
 * registry row and run record; runs started by a message record the trigger `queue`; `run --tenant`
 * records its outcome on the tenant's registry row as a message's run does; bad queue or schedule
 * settings fail before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const TENANTS = [1, 2, 3, 4, 5].map((i) => `d${i}d${i}d${i}d${i}-0000-4000-8000-00000000000${i}`);
const NO_CONSENT = "d6d6d6d6-0000-4000-8000-000000000006";
const SELECT = ["id", "displayName", "userPrincipalName", "accountEnabled"];

let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_SELECT: SELECT.join(","), ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment(
    {
      userCount: 3,
      customerTenants: [
        ...TENANTS.map((tenantId, i) => ({ tenantId, userCount: 100 + 150 * i, graphLatencyInMs: 100 })),
        { tenantId: NO_CONSENT, userCount: 10, consent: "none" as const },
      ],
    },
    { queue: true },
  );
}, 120_000);
afterAll(async () => world?.close());

describe("entra-user-sync worker", () => {
  it("syncs every registered tenant in parallel, each into its own tables; a tenant without consent fails alone with its consent URL", async () => {
    for (const tenantId of [...TENANTS, NO_CONSENT]) expect((await cli(["tenants", "add", tenantId])).code).toBe(0);
    const worker = await cli(["worker", "--once", "--concurrency", "3"]);
    expect(worker.stdout).toContain("Worker handled 6 messages: ");
    for (const tenantId of TENANTS) expect(worker.stdout).toContain(`${tenantId}  succeeded`);
    expect(worker.stdout).toContain(`${NO_CONSENT}  failed`);
    // stdout is the summary only; every log line about one tenant names it first, as "[tenant <id>]".
    for (const line of worker.stdout.trimEnd().split("\n")) expect(line).toMatch(/^(Worker handled \d+ messages|[0-9a-f-]{36} {2}\w+$)/);
    for (const line of worker.stderr.split("\n")) {
      const named = [...TENANTS, NO_CONSENT].find((tenantId) => line.includes(tenantId));
      if (named !== undefined && !line.startsWith("Queued ")) expect(line).toMatch(new RegExp(`^((warning|error): )?\\[tenant ${named}\\] `));
    }
    // A failed tenant makes the exit code 1, the others' work is kept.
    expect(worker.code).toBe(1);
    const consentUrl = `${world.tenant.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${world.tenant.clientId}`;
    expect(worker.stderr).toContain(`[tenant ${NO_CONSENT}]`);
    expect(worker.stderr).toContain(consentUrl);

    for (const [i, tenantId] of TENANTS.entries()) {
      const exported = await cli(["export", "--latest", "--tenant", tenantId]);
      expect(exported.code).toBe(0);
      const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser);
      const expected = new Map([...world.tenant.customers.get(tenantId)!.directory.users(SELECT)].map((u) => [u.id, u]));
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
    // Health columns: the tenant without consent is the one failing, and says why.
    expect(list.stdout.split("\n")[0]).toMatch(/^TENANT\s+NAME\s+STATE\s+HEALTH\s+LAST SUCCESS\s+USERS\s+MIRROR AGE\s+CONSENT\s+LAST OUTCOME/);
    const noConsentLine = list.stdout.split("\n").find((line) => line.startsWith(NO_CONSENT))!;
    expect(noConsentLine).toMatch(/\bfailing\s+never\s+missing\s+failed at \S+ \(tenant_not_consented\)/);
    const worst = (await cli(["tenants", "list", "--worst-first"])).stdout.split("\n");
    expect(worst[1]).toMatch(new RegExp(`^${NO_CONSENT}\\s`));
    const health = (await cli(["tenants", "list", "--json"])).stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(health.filter((row) => row.health !== "healthy").map((row) => row.tenantId)).toEqual([NO_CONSENT]);
    expect(health.find((row) => row.tenantId === NO_CONSENT)).toMatchObject({ health: "failing", consent: "missing", lastErrorCode: "tenant_not_consented", lastOutcome: "failed" });
    for (const [i, tenantId] of TENANTS.entries()) {
      const row = health.find((r) => r.tenantId === tenantId)!;
      expect(row).toMatchObject({ health: "healthy", consent: "granted", userCount: 100 + 150 * i });
      expect(row.lastSuccessAgeInHours).toBeLessThan(0.1);
      expect(row.mirrorAgeInHours).toBeLessThan(0.1);
    }
    expectNoSecrets(worker.stdout + worker.stderr, [world.azurite.connectionString]);

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

  it("run --tenant records its outcome on the tenant's registry row (last outcome, when, why), leaving a queued message's marker to the worker", async () => {
    const registry = new TenantRegistryClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }) });
    const [tenantId] = TENANTS;
    // A message is queued for the tenant meanwhile (the scheduler's marker).
    const queuedAt = new Date(Date.now() - 60_000);
    const before = (await registry.getTenant(tenantId!))!;
    await registry.updateTenant({ ...before, queuedAt });
    const run = await cli(["run", "--tenant", tenantId!, "--no-progress"]);
    expect(run.code, run.stderr).toBe(0);
    const after = (await registry.getTenant(tenantId!))!;
    expect(after.lastOutcome).toBe("succeeded");
    expect(after.lastOutcomeAt!.getTime()).toBeGreaterThan(before.lastOutcomeAt!.getTime());
    expect(after.runningSince).toBeUndefined();
    expect(after.queuedAt?.toISOString()).toBe(queuedAt.toISOString());
    const [newest] = (await cli(["runs", "--json", "--limit", "1", "--tenant", tenantId!])).stdout.trim().split("\n").map((line) => JSON.parse(line) as { trigger?: string });
    expect(newest?.trigger).toBe("cli");

    // A failed run says why on the row, as the worker's does: the tenant's consent URL.
    const failedBefore = (await registry.getTenant(NO_CONSENT))!;
    const failed = await cli(["run", "--tenant", NO_CONSENT, "--no-progress"]);
    expect(failed.code).toBe(1);
    const failedAfter = (await registry.getTenant(NO_CONSENT))!;
    expect(failedAfter.lastOutcome).toBe("failed");
    expect(failedAfter.lastOutcomeAt!.getTime()).toBeGreaterThan(failedBefore.lastOutcomeAt!.getTime());
    expect(failedAfter.lastError).toContain(`${world.tenant.authorityHost}/${NO_CONSENT}/adminconsent?client_id=${world.tenant.clientId}`);
    expect(failedAfter.runningSince).toBeUndefined();
    expectNoSecrets(run.stdout + run.stderr + failed.stdout + failed.stderr, [world.azurite.connectionString]);
  }, 120_000);

  it("worker without --once needs the timer's schedule, as a real expression, and says so before anything is sent", async () => {
    const missing = await cli(["worker"], { USER_SYNC_SCHEDULE: undefined });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("USER_SYNC_SCHEDULE is missing: worker (without --once) queues every tenant at each of its occurrences");
    const reference = await cli(["worker"], { USER_SYNC_SCHEDULE: "%USER_SYNC_SCHEDULE%" });
    expect(reference.code).toBe(2);
    expect(reference.stderr).toContain("an app-setting reference only the Functions host resolves");
    const invalid = await cli(["worker"], { USER_SYNC_SCHEDULE: "every hour" });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("USER_SYNC_SCHEDULE");
  });

  it("fails on bad queue settings before anything is sent, naming the setting", async () => {
    const missing = await cli(["worker", "--once"], { USER_SYNC_QUEUE: undefined });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("USER_SYNC_QUEUE is missing");
    const http = await cli(["worker", "--once"], { USER_SYNC_QUEUE: undefined, USER_SYNC_QUEUE__queueServiceUri: "http://127.0.0.1:1/devstoreaccount1" });
    expect(http.code).toBe(2);
    expect(http.stderr).toContain("USER_SYNC_QUEUE__queueServiceUri must be a plain https URL");
    const single = await cli(["worker", "--once"], { USER_SYNC_TENANT_MODE: undefined, GRAPH_TENANT_ID: world.tenant.tenantId });
    expect(single.code).toBe(2);
    expect(single.stderr).toContain("USER_SYNC_TENANT_MODE is single");
  });
});
