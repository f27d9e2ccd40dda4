/**
 * GRAPH_CREDENTIAL=clientSecret end to end (the secret read from a Key Vault secret through the
 * managed identity, and GRAPH_CLIENT_SECRET for local development), the secret never in logs or
 * errors, and every credential misconfiguration refused before any request, naming the setting.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUserSyncError } from "../../src/shared/errors.js";
import { composeUserSync, createUserSyncService } from "../../src/app/syncService.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { countPaths, envForMode, expectNoMsalWarnings, keyVaultPaths } from "../support/credentialModes.js";

const USERS = 1_100;
const SECRET = "Qx8~simulated.client-secret_value-0123456789";
const SECRET_NAME = "graph-client-secret";
let world: SyncEnvironment;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: USERS, clientSecrets: [SECRET], keyVaultSecrets: { [SECRET_NAME]: SECRET } });
  world.useInProcess();
});
afterAll(async () => world?.close());

describe("GRAPH_CREDENTIAL=clientSecret", () => {
  const log = capturingLogger();

  it("syncs with the secret read from Key Vault, and reads nothing else there", async () => {
    const { service, clients } = composeUserSync(
      envForMode(world.env, { GRAPH_CREDENTIAL: "clientSecret", KEY_VAULT_URL: world.tenant.keyVaultUrl, KEY_VAULT_SECRET_NAME: SECRET_NAME }),
    );
    world.tenant.requests.reset();
    const { stats } = await service.runSync(log.logger, { trigger: "cli" });
    expect(stats.usersRead).toBe(USERS);
    expect(new Set(keyVaultPaths(world.tenant))).toEqual(new Set([`GET /secrets/${SECRET_NAME}/`]));
    expect(countPaths(world.tenant, "keyVault", /^\/secrets\//)).toBe(1);
    expect(world.tenant.requests.count("token")).toBe(1);
    expectNoMsalWarnings(log.lines);

    // A second run reuses the token and the cached secret.
    await service.runSync(log.logger, { trigger: "timer" });
    expect(world.tenant.requests.count("token")).toBe(1);
    expect(countPaths(world.tenant, "keyVault", /^\/secrets\//)).toBe(1);
    const records = await Array.fromAsync(clients.store.listRuns({ maxResults: 10 }));
    expectNoSecrets([...log.lines, JSON.stringify(records)].join("\n"), [SECRET, world.azurite.connectionString]);
    // The settings name the secret, never hold its value.
    expect(JSON.stringify(clients.settings.credential)).not.toContain(SECRET);
  });

  it("accepts GRAPH_CLIENT_SECRET for local development, with a warning, and never prints it", async () => {
    const local = capturingLogger();
    const { service, clients } = composeUserSync(envForMode(world.env, { GRAPH_CREDENTIAL: "clientSecret", GRAPH_CLIENT_SECRET: SECRET }));
    world.tenant.requests.reset();
    const { stats } = await service.runSync(local.logger, { trigger: "cli" });
    expect(stats.usersRead).toBe(USERS);
    expect(world.tenant.requests.count("keyVault")).toBe(0);
    expect(local.lines.some((line) => line.startsWith("warn ") && line.includes("GRAPH_CLIENT_SECRET") && line.includes("local development only"))).toBe(true);
    expect(JSON.stringify(clients.settings)).not.toContain(SECRET);
    expect(String(clients.settings.credential.mode === "clientSecret" && clients.settings.credential.source === "environment" ? clients.settings.credential.clientSecret : "")).toBe("[redacted]");
    expectNoSecrets(local.lines.join("\n"), [SECRET]);
  });

  it("translates a wrong secret (AADSTS7000215) without echoing it", async () => {
    const wrong = "Wrong~secret.value-9876543210-abcdefgh";
    const { clients } = composeUserSync(envForMode(world.env, { GRAPH_CREDENTIAL: "clientSecret", GRAPH_CLIENT_SECRET: wrong }));
    const error = await clients.tokens.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUserSyncError(error, "token_request_failed")).toBe(true);
    const failure = error as Error & { details: Record<string, unknown> };
    expect(failure.details.aadsts).toBe(7000215);
    expect(failure.message).toContain("GRAPH_CLIENT_SECRET");
    expect(failure.message).toContain("not its Secret ID");
    expectNoSecrets(`${failure.message}\n${JSON.stringify(failure.details)}`, [wrong, SECRET]);
  });
});

describe("credential misconfigurations fail before any request, naming the setting and the fix", () => {
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ["a certificate name with clientSecret", { GRAPH_CREDENTIAL: "clientSecret", KEY_VAULT_URL: "https://v.vault.azure.net", KEY_VAULT_SECRET_NAME: "s", KEY_VAULT_CERTIFICATE_NAME: "c" }, "KEY_VAULT_CERTIFICATE_NAME", /remove KEY_VAULT_CERTIFICATE_NAME/],
    ["a secret name with keyVaultCertificate", { KEY_VAULT_URL: "https://v.vault.azure.net", KEY_VAULT_CERTIFICATE_NAME: "c", KEY_VAULT_SECRET_NAME: "s" }, "KEY_VAULT_SECRET_NAME", /belongs to GRAPH_CREDENTIAL=clientSecret/],
    ["GRAPH_CLIENT_SECRET with keyVaultSignedAssertion", { GRAPH_CREDENTIAL: "keyVaultSignedAssertion", KEY_VAULT_URL: "https://v.vault.azure.net", KEY_VAULT_CERTIFICATE_NAME: "c", GRAPH_CLIENT_SECRET: SECRET }, "GRAPH_CLIENT_SECRET", /remove GRAPH_CLIENT_SECRET/],
    ["a vault with managedIdentityFederation", { GRAPH_CREDENTIAL: "managedIdentityFederation", KEY_VAULT_URL: "https://v.vault.azure.net" }, "KEY_VAULT_URL", /reads nothing from Key Vault/],
    ["a certificate name with managedIdentityFederation", { GRAPH_CREDENTIAL: "managedIdentityFederation", KEY_VAULT_CERTIFICATE_NAME: "c" }, "KEY_VAULT_CERTIFICATE_NAME", /managed identity/],
    ["both secret sources", { GRAPH_CREDENTIAL: "clientSecret", KEY_VAULT_URL: "https://v.vault.azure.net", KEY_VAULT_SECRET_NAME: "s", GRAPH_CLIENT_SECRET: SECRET }, "GRAPH_CLIENT_SECRET", /keep one source/],
    ["clientSecret without a secret", { GRAPH_CREDENTIAL: "clientSecret", KEY_VAULT_URL: "https://v.vault.azure.net" }, "KEY_VAULT_SECRET_NAME", /is missing.*GRAPH_CLIENT_SECRET/s],
    ["keyVaultSignedAssertion without a certificate", { GRAPH_CREDENTIAL: "keyVaultSignedAssertion", KEY_VAULT_URL: "https://v.vault.azure.net" }, "KEY_VAULT_CERTIFICATE_NAME", /is missing/],
    ["the default mode without a vault", { KEY_VAULT_CERTIFICATE_NAME: "c" }, "KEY_VAULT_URL", /keyVaultCertificate \(the default\)/],
    ["an unknown mode", { GRAPH_CREDENTIAL: "password", KEY_VAULT_URL: "https://v.vault.azure.net", KEY_VAULT_CERTIFICATE_NAME: "c" }, "GRAPH_CREDENTIAL", /must be one of keyVaultCertificate, keyVaultSignedAssertion, managedIdentityFederation, clientSecret/],
  ];

  it.each(cases)("%s", (_name, credential, setting, fix) => {
    world.tenant.requests.reset();
    const env = envForMode(world.env, credential);
    let error: unknown;
    try {
      createUserSyncService(env);
    } catch (e) {
      error = e;
    }
    expect(isUserSyncError(error)).toBe(true);
    const failure = error as Error & { code: string; details: Record<string, unknown> };
    expect(["missing_setting", "invalid_setting", "conflicting_settings"]).toContain(failure.code);
    expect(failure.message).toContain(setting);
    expect(failure.message).toMatch(fix);
    expect(String(failure.details.settings)).toContain(setting);
    expect(failure.message).not.toContain(SECRET);
    for (const service of ["token", "metadata", "graph", "keyVault", "managedIdentity"] as const) expect(world.tenant.requests.count(service)).toBe(0);
  });

  it("reports a conflict as conflicting_settings", () => {
    expect(() => createUserSyncService(envForMode(world.env, { GRAPH_CREDENTIAL: "managedIdentityFederation", KEY_VAULT_URL: "https://v.vault.azure.net" }))).toThrow(
      expect.objectContaining({ code: "conflicting_settings" }),
    );
  });
});
