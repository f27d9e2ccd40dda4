/**
 * Shared by the credentials integration tests: the whole credentials chain through the real clients
 * against the simulated tenant: DefaultAzureCredential -> App Service managed identity endpoint ->
 * Key Vault (CertificateClient, SecretClient) -> certificate parsing -> msal-node -> Entra.
 *
 * One simulated tenant per test file: msal-node's managed identity support (used by @azure/identity)
 * keeps its token cache and the managed identity endpoint it detected for the whole process, so a
 * second tenant in the same process would be sent to the first tenant's identity endpoint.
 */
import { createServer } from "node:net";
import { DefaultAzureCredential } from "@azure/identity";
import { afterAll, beforeAll, expect } from "vitest";
import { ClientCertificateProvider } from "../../src/credentials/clientCertificateProvider.js";
import { GraphTokenClient } from "../../src/credentials/graphTokenClient.js";
import { UserSyncError } from "../../src/shared/errors.js";
import type { Logger } from "../../src/shared/logger.js";
import { startSimulatedTenant, trustSimulatedTenantCa, type SimulatedTenant, type SimulatedTenantOptions } from "../../tools/simulated-tenant/index.js";

export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
}

const MANAGED_IDENTITY_ENV = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID"] as const;

/** Starts a simulated tenant for the file, trusts its CA and points the managed identity variables at it. */
export function useSimulatedTenant(options: SimulatedTenantOptions): { readonly tenant: SimulatedTenant } {
  const holder: { tenant?: SimulatedTenant } = {};
  const savedEnv = new Map<string, string | undefined>();
  beforeAll(async () => {
    for (const name of MANAGED_IDENTITY_ENV) savedEnv.set(name, process.env[name]);
    const tenant = await startSimulatedTenant(options);
    holder.tenant = tenant;
    trustSimulatedTenantCa(tenant.caCertificatePem);
    const env = tenant.settingsEnv();
    process.env.IDENTITY_ENDPOINT = env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = env.IDENTITY_HEADER;
    // As for a user-assigned identity, so that errors can name it.
    process.env.AZURE_CLIENT_ID = tenant.managedIdentityClientId;
  });
  afterAll(async () => {
    await holder.tenant?.close();
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  return {
    get tenant(): SimulatedTenant {
      if (!holder.tenant) throw new Error("the simulated tenant is not started yet");
      return holder.tenant;
    },
  };
}

export function chainFor(tenant: SimulatedTenant, overrides: { certificateName?: string; logger?: Logger; now?: () => Date; maxAgeInMs?: number } = {}) {
  const logger = overrides.logger ?? new RecordingLogger();
  const certificates = new ClientCertificateProvider({
    vaultUrl: tenant.keyVaultUrl,
    certificateName: overrides.certificateName ?? tenant.certificateName,
    credential: new DefaultAzureCredential(),
    logger,
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.maxAgeInMs !== undefined ? { maxAgeInMs: overrides.maxAgeInMs } : {}),
  });
  const tokens = new GraphTokenClient({
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    authorityHost: tenant.authorityHost,
    graphEndpoint: tenant.graphEndpoint,
    certificateProvider: certificates,
    logger,
  });
  return { certificates, tokens, logger };
}

export async function expectUserSyncError(promise: Promise<unknown>): Promise<UserSyncError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UserSyncError);
    return error as UserSyncError;
  }
  throw new Error("expected a UserSyncError");
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
