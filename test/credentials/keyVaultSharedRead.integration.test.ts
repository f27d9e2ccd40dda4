/**
 * One Key Vault read shared by two callers of each Key Vault-backed provider, through the real Key
 * Vault clients, DefaultAzureCredential and the simulated tenant: the first caller gives up (its
 * abort signal fires while Key Vault has not answered yet), and the second still gets the credential
 * from that same read. And the shared read has its own bound: a Key Vault that never answers fails
 * it as key_vault_unavailable, and the next caller reads again.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { ClientCertificateProvider } from "../../src/credentials/clientCertificateProvider.js";
import { ClientSecretProvider } from "../../src/credentials/clientSecretProvider.js";
import type { KeyVaultCacheTimings } from "../../src/credentials/keyVaultCache.js";
import { KeyVaultSignedAssertionProvider } from "../../src/credentials/keyVaultSignedAssertionProvider.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { expectUserSyncError, RecordingLogger, useSimulatedTenant } from "./simulatedChain.js";

const SECRET_NAME = "graph-client-secret";
const SECRET = "Qx8~shared-read.client-secret_value-0123456789";
const simulated = useSimulatedTenant({ userCount: 1, clientSecrets: [SECRET], keyVaultSecrets: { [SECRET_NAME]: SECRET } });

/** Holds every Key Vault request until released; counts the successful ones by path. */
function holdKeyVault(tenant: SimulatedTenant) {
  const released = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  const remove = tenant.intercept("keyVault", async () => {
    arrived.resolve();
    await released.promise;
    return undefined;
  });
  return { firstArrived: arrived.promise, release: () => released.resolve(), remove };
}

/** The clientSecret provider reading SECRET_NAME from the tenant's vault through the managed identity. */
function keyVaultSecretProvider(tenant: SimulatedTenant, timings: KeyVaultCacheTimings = {}): ClientSecretProvider {
  return new ClientSecretProvider({
    source: "keyVault",
    vaultUrl: tenant.keyVaultUrl,
    secretName: SECRET_NAME,
    credential: new DefaultAzureCredential(),
    logger: new RecordingLogger(),
    ...timings,
  });
}

/** Key Vault requests answered with success whose path starts with `prefix`. */
function vaultReads(tenant: SimulatedTenant, prefix: string): number {
  return tenant.requests.entries().filter((e) => e.service === "keyVault" && e.path.startsWith(prefix) && e.status >= 200 && e.status < 300).length;
}

/**
 * Starts `impatient` and `patient` on the same read, aborts the impatient one once Key Vault holds
 * the request, then lets Key Vault answer. Returns what the patient caller got.
 */
async function abortOneOfTwo<T>(tenant: SimulatedTenant, call: (abortSignal?: AbortSignal) => Promise<T>): Promise<T> {
  const hold = holdKeyVault(tenant);
  try {
    const controller = new AbortController();
    const impatient = call(controller.signal);
    const patient = call();
    await hold.firstArrived;
    controller.abort();
    await expect(impatient).rejects.toMatchObject({ name: "AbortError" });
    hold.release();
    return await patient;
  } finally {
    hold.release();
    hold.remove();
  }
}

describe("a Key Vault read shared by two callers, one of which gives up", () => {
  it("keyVaultCertificate: the other caller gets the certificate from the one read", async () => {
    const { tenant } = simulated;
    const provider = new ClientCertificateProvider({
      vaultUrl: tenant.keyVaultUrl,
      certificateName: tenant.certificateName,
      credential: new DefaultAzureCredential(),
      logger: new RecordingLogger(),
    });
    const before = vaultReads(tenant, "/certificates/");
    const certificate = await abortOneOfTwo(tenant, (abortSignal) => provider.getClientCertificate({ abortSignal }));
    expect(certificate.thumbprintSha256).toBe(tenant.appCertificate.thumbprintSha256Hex);
    expect(vaultReads(tenant, "/certificates/") - before).toBe(1);
  });

  it("clientSecret from Key Vault: the other caller gets the secret from the one read", async () => {
    const { tenant } = simulated;
    const provider = keyVaultSecretProvider(tenant);
    const before = vaultReads(tenant, `/secrets/${SECRET_NAME}`);
    const secret = await abortOneOfTwo(tenant, (abortSignal) => provider.getClientSecret({ abortSignal }));
    expect(secret.value.reveal()).toBe(SECRET);
    expect(vaultReads(tenant, `/secrets/${SECRET_NAME}`) - before).toBe(1);
  });

  it("keyVaultSignedAssertion: the other caller gets an assertion signed with the certificate from the one read", async () => {
    const { tenant } = simulated;
    const provider = new KeyVaultSignedAssertionProvider({
      vaultUrl: tenant.keyVaultUrl,
      certificateName: tenant.certificateName,
      credential: new DefaultAzureCredential(),
      tenantId: tenant.tenantId,
      clientId: tenant.clientId,
      authorityHost: tenant.authorityHost,
      logger: new RecordingLogger(),
    });
    const before = vaultReads(tenant, "/certificates/");
    const assertion = await abortOneOfTwo(tenant, (abortSignal) => provider.getClientAssertion({ abortSignal }));
    expect(assertion.split(".")).toHaveLength(3);
    expect(provider.facts().thumbprintSha256).toBe(tenant.appCertificate.thumbprintSha256Hex);
    expect(provider.signatureCount).toBe(1);
    expect(vaultReads(tenant, "/certificates/") - before).toBe(1);
  });
});

describe("a Key Vault read that never gets an answer", () => {
  it("fails as key_vault_unavailable after the read timeout, naming the vault, and the next read succeeds", async () => {
    const { tenant } = simulated;
    const provider = keyVaultSecretProvider(tenant, { readTimeoutInMs: 1_000 });
    const hold = holdKeyVault(tenant);
    try {
      const error = await expectUserSyncError(provider.getClientSecret());
      expect(error.code).toBe("key_vault_unavailable");
      expect(error.message).toContain(tenant.keyVaultUrl);
      expect(error.message).toContain(`reading secret "${SECRET_NAME}"`);
    } finally {
      hold.release();
      hold.remove();
    }
    const secret = await provider.getClientSecret();
    expect(secret.value.reveal()).toBe(SECRET);
  });
});
