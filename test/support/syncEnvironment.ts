/**
 * A whole world for integration tests: Azurite (in memory; its tables, and its queues when asked)
 * and a simulated tenant whose CA this process trusts. `env` holds the product's settings for both;
 * `useInProcess()` also exports the managed-identity variables that DefaultAzureCredential reads
 * from process.env.
 *
 * msal-node keeps the managed-identity source for the life of a process, so a test file (one
 * process under vitest's forks pool) uses one simulated tenant.
 */
import { expect } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import type { SimulatedTenant, SimulatedTenantOptions } from "../../tools/simulated-tenant/index.js";
import { startTrustedSimulatedTenant } from "./simulatedTenant.js";

export interface SyncEnvironment {
  tenant: SimulatedTenant;
  azurite: AzuriteInstance;
  /** The product's settings (and IDENTITY_* for the managed identity), for a child process or UserSyncService. */
  env: Record<string, string>;
  /**
   * The environment of a CLI child process: PATH and HOME, `env`, trust in the simulated tenant's
   * CA, then `extra` (a setting given as undefined is left out, as an unset variable).
   */
  cliEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv;
  /** Exports `env` into process.env for in-process SDK clients. */
  useInProcess(): void;
  close(): Promise<void>;
}

export interface SyncEnvironmentOptions {
  /** Also start Azurite's queue service, named in `env` as USER_SYNC_QUEUE (the tenant queue of multi-tenant mode). Default false. */
  queue?: boolean;
  /** Also start Azurite's blob service, named in `env` as USER_SYNC_EXPORT_STORAGE (the analytics lane). Default false. */
  blob?: boolean;
}

export async function startSyncEnvironment(tenantOptions: SimulatedTenantOptions, options: SyncEnvironmentOptions = {}): Promise<SyncEnvironment> {
  const queue = options.queue ?? false;
  const blob = options.blob ?? false;
  const [azurite, tenant] = await Promise.all([startAzurite({ queue, blob }), startTrustedSimulatedTenant(tenantOptions)]);
  const env: Record<string, string> = { ...tenant.settingsEnv(), SNAPSHOT_STORAGE: azurite.connectionString };
  if (queue) env.USER_SYNC_QUEUE = azurite.connectionString;
  if (blob) env.USER_SYNC_EXPORT_STORAGE = azurite.connectionString;
  return {
    tenant,
    azurite,
    env,
    cliEnv(extra = {}) {
      const all: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, ...env, NODE_EXTRA_CA_CERTS: tenant.caCertificatePath, ...extra };
      return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
    },
    useInProcess() {
      Object.assign(process.env, env);
    },
    async close() {
      await Promise.all([tenant.close(), azurite.close()]);
    },
  };
}

/** Everything a test saw in logs, to check that no secret ever reached them. */
export function capturingLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      info: (m: string) => lines.push(`info ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
    },
  };
}

/** Fails if text holds anything secret-shaped: a JWT, a PEM block, an account key or a bearer token. */
export function expectNoSecrets(text: string, extraSecrets: readonly string[] = []): void {
  const patterns: Array<[string, RegExp]> = [
    ["a JWT", /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./],
    ["a PEM block", /-----BEGIN [A-Z ]+-----/],
    ["an account key", /AccountKey=(?!\[redacted\])/i],
    ["a bearer token", /Bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/-]{16,}/],
  ];
  for (const [what, pattern] of patterns) {
    if (pattern.test(text)) throw new Error(`output contains ${what}`);
  }
  for (const secret of extraSecrets) {
    if (secret.length >= 8 && text.includes(secret)) throw new Error("output contains a secret value");
  }
}

/**
 * Reads a snapshot back and compares it with the simulated directory, user by user, key order
 * included: every user once, nothing else.
 */
export async function expectSnapshotEqualsDirectory(
  tenant: Pick<SimulatedTenant, "directory">,
  clients: { settings: { select: readonly string[] }; store: { listSnapshotUsers(snapshotId: string): AsyncIterable<GraphUser> } },
  snapshotId: string,
  userCount: number,
): Promise<void> {
  const expected = new Map<string, GraphUser>();
  for (const user of tenant.directory.users(clients.settings.select)) expected.set(user.id, user);
  let count = 0;
  const mismatches: string[] = [];
  for await (const user of clients.store.listSnapshotUsers(snapshotId)) {
    count += 1;
    const want = expected.get(user.id);
    if (want === undefined) mismatches.push(`unexpected ${user.id}`);
    else if (JSON.stringify(user) !== JSON.stringify(want)) mismatches.push(`differs ${user.id}`);
    expected.delete(user.id);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(expected.size).toBe(0);
  expect(count).toBe(userCount);
}
