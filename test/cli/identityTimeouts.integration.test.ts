/**
 * Every wait on an identity endpoint is bounded (IDENTITY_REQUEST_TIMEOUT_SECONDS), through the
 * compiled command line: the token endpoint, the OpenID metadata, the managed-identity endpoint (for
 * Key Vault's token, and as managedIdentityFederation's assertion inside MSAL's request) and
 * Key Vault (its reads, and its signature in keyVaultSignedAssertion mode) each held open without an
 * answer by the simulated tenant. The run fails within the documented bound (three attempts of one
 * second and the backoff between them, plus the process's start), naming the endpoint's host and the
 * setting, and releases its writer lease: the next run, once the endpoint answers again, is not
 * refused. `worker --once`: the stalled tenant fails, the other succeeds, and the worker exits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityCallBoundInMs } from "../../src/credentials/identityRequests.js";
import { MAX_DEQUEUE_COUNT } from "../../src/fanout/tenantQueue.js";
import { RETRY_DELAY_IN_SECONDS } from "../../src/configuration/defaults.js";
import type { ServiceName, SimulatedRequest } from "../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const STALLED = "e1e1e1e1-0000-4000-8000-000000000001";
const HEALTHY = "e2e2e2e2-0000-4000-8000-000000000002";
const TIMEOUT_SECONDS = 1;
/** One identity call's bound, and a generous allowance for the process's start and the work before it (loaded machine). */
const BOUND_IN_MS = identityCallBoundInMs(TIMEOUT_SECONDS * 1000);
const ALLOWANCE_IN_MS = 15_000;

let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ IDENTITY_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS), USER_SYNC_SELECT: "id,displayName", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment(
    {
      userCount: 20,
      federatedManagedIdentity: true,
      customerTenants: [
        { tenantId: STALLED, userCount: 10 },
        { tenantId: HEALTHY, userCount: 12 },
      ],
    },
    { queue: true },
  );
}, 120_000);
afterAll(async () => world?.close());

/** Runs `run` with `service` held open; checks the failure, then that the next run is not refused. */
async function expectBoundedFailure(service: ServiceName, host: string, endpoint: RegExp, extra: Record<string, string | undefined> = {}, matches?: (request: SimulatedRequest) => boolean) {
  const hold = world.tenant.faults.hold(service, matches);
  const started = Date.now();
  let result;
  try {
    result = await cli(["run", "--full", "--no-progress"], extra);
  } finally {
    hold.release();
  }
  const tookInMs = Date.now() - started;
  expect(hold.held).toBeGreaterThanOrEqual(3);
  expect(result.code).toBe(1);
  expect(tookInMs).toBeLessThan(BOUND_IN_MS + ALLOWANCE_IN_MS);
  expect(result.stderr).toMatch(endpoint);
  expect(result.stderr).toContain(`at ${host} gave no complete answer within 1 s (IDENTITY_REQUEST_TIMEOUT_SECONDS)`);
  expect(result.stderr).toContain("3 attempts");
  expectNoSecrets(result.stdout + result.stderr);
  // The lease was released: the next run is not refused (exit 3), and completes.
  const next = await cli(["run", "--full", "--no-progress"], extra);
  expect(next.stderr).not.toContain("run_in_progress");
  expect(next.code).toBe(0);
}

const host = (url: string): string => new URL(url).host;

describe("a stalled identity endpoint fails the run within IDENTITY_REQUEST_TIMEOUT_SECONDS's bound", () => {
  it("the token endpoint", async () => {
    await expectBoundedFailure("token", host(world.tenant.authorityHost), /Microsoft Entra endpoint/);
  });

  it("the OpenID metadata", async () => {
    await expectBoundedFailure("metadata", host(world.tenant.authorityHost), /Microsoft Entra endpoint/);
  });

  it("the managed-identity endpoint (Key Vault's token)", async () => {
    await expectBoundedFailure("managedIdentity", host(world.tenant.identityEndpoint), /managed-identity endpoint/);
  });

  it("the managed-identity endpoint (managedIdentityFederation's assertion, inside MSAL's token request)", async () => {
    const federation = { GRAPH_CREDENTIAL: "managedIdentityFederation", KEY_VAULT_URL: undefined, KEY_VAULT_CERTIFICATE_NAME: undefined };
    await expectBoundedFailure("managedIdentity", host(world.tenant.identityEndpoint), /managed-identity endpoint/, federation);
  });

  it("Key Vault, reading the certificate", async () => {
    await expectBoundedFailure("keyVault", host(world.tenant.keyVaultUrl), /Key Vault at/);
  });

  it("Key Vault, signing the client assertion (keyVaultSignedAssertion)", async () => {
    await expectBoundedFailure("keyVault", host(world.tenant.keyVaultUrl), /Key Vault at/, { GRAPH_CREDENTIAL: "keyVaultSignedAssertion" }, (request) => /\/sign$/.test(request.url.pathname));
  });
});

describe("worker --once with one tenant's token endpoint stalled", () => {
  it("fails every attempt of the stalled tenant within the bound, syncs the other, and exits", async () => {
    const multi = { GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi" };
    for (const tenantId of [STALLED, HEALTHY]) expect((await cli(["tenants", "add", tenantId], multi)).code).toBe(0);
    const hold = world.tenant.faults.hold("token", (request) => request.url.pathname.startsWith(`/${STALLED}/`));
    const started = Date.now();
    let worker;
    try {
      worker = await cli(["worker", "--once", "--concurrency", "1"], multi);
    } finally {
      hold.release();
    }
    // Each delivery of the stalled tenant's message: one bounded token wait (the snapshot's; the
    // mirror's round then fails at once on the same wait or its own), then the queue's retry delay.
    const perAttemptInMs = 2 * BOUND_IN_MS + RETRY_DELAY_IN_SECONDS * 1000;
    expect(Date.now() - started).toBeLessThan(MAX_DEQUEUE_COUNT * perAttemptInMs + 2 * ALLOWANCE_IN_MS);
    expect(hold.held).toBeGreaterThanOrEqual(3 * MAX_DEQUEUE_COUNT);
    expect(worker.stdout).toContain(`${HEALTHY}  succeeded`);
    expect(worker.stdout).toContain(`${STALLED}  poisoned`);
    expect(worker.stdout).not.toContain(`${STALLED}  skipped`);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain(`[tenant ${STALLED}] Sync failed (attempt ${MAX_DEQUEUE_COUNT} of ${MAX_DEQUEUE_COUNT}): The Microsoft Entra endpoint (OpenID metadata and tokens) at ${host(world.tenant.authorityHost)} gave no complete answer within 1 s (IDENTITY_REQUEST_TIMEOUT_SECONDS)`);
    expectNoSecrets(worker.stdout + worker.stderr);
    // The stalled tenant's lease was released: once its endpoint answers, its run is not refused.
    const again = await cli(["run", "--tenant", STALLED, "--no-progress"], multi);
    expect(again.code).toBe(0);
  }, 400_000);
});
