/**
 * The one Key Vault error translator, fed the SDK's own error types (RestError, the identity
 * library's CredentialUnavailableError): each failure's code, the fix its message names, and that
 * no token or SDK error leaks into the result. The integration tests (chainForbidden,
 * chainPkcs12, noAzureCredential, credentialModes*) show the same through the real clients.
 */
import { RestError } from "@azure/core-rest-pipeline";
import { CredentialUnavailableError } from "@azure/identity";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { translateKeyVaultError, type KeyVaultErrorContext } from "../../src/credentials/keyVaultErrors.js";
import { UserSyncError } from "../../src/shared/errors.js";

const VAULT = "https://contoso-sync.vault.azure.net";
const IDENTITY = "0f0e0d0c-0000-4000-8000-000000000001";
const context: KeyVaultErrorContext = {
  vaultUrl: VAULT,
  operation: 'reading secret "graph-secret"',
  nameSetting: "KEY_VAULT_SECRET_NAME",
  roleFix: 'Grant the identity "Key Vault Secrets User".',
  notFoundFix: 'Key Vault has no secret named "graph-secret".',
};

function translated(error: unknown, extra: Partial<KeyVaultErrorContext> = {}): UserSyncError {
  const result = translateKeyVaultError(error, { ...context, ...extra });
  expect(result).toBeInstanceOf(UserSyncError);
  const userSyncError = result as UserSyncError;
  expect(userSyncError.message).toContain(VAULT);
  expect(userSyncError.cause).toBeUndefined();
  return userSyncError;
}

let savedClientId: string | undefined;
beforeEach(() => {
  savedClientId = process.env.AZURE_CLIENT_ID;
  process.env.AZURE_CLIENT_ID = IDENTITY;
});
afterEach(() => {
  if (savedClientId === undefined) delete process.env.AZURE_CLIENT_ID;
  else process.env.AZURE_CLIENT_ID = savedClientId;
});

describe("translateKeyVaultError", () => {
  it("401: another tenant or vault, naming the identity and the role fix", () => {
    const error = translated(new RestError("Unauthorized", { statusCode: 401, code: "Unauthorized" }));
    expect(error.code).toBe("key_vault_access_denied");
    expect(error.message).toContain("another tenant");
    expect(error.message).toContain(IDENTITY);
    expect(error.message).toContain("Key Vault Secrets User");
    expect(error.details).toMatchObject({ statusCode: 401, errorCode: "Unauthorized", identityClientId: IDENTITY });
  });

  it("403: the role the identity lacks, and that assignments take minutes", () => {
    const error = translated(new RestError("Caller is not authorized to perform action on resource.", { statusCode: 403, code: "Forbidden" }));
    expect(error.code).toBe("key_vault_access_denied");
    expect(error.message).toContain("Key Vault Secrets User");
    expect(error.message).toContain("few minutes");
    expect(error.message).toContain(IDENTITY);
  });

  it("403 on a disabled object: enable it, not a role", () => {
    const error = translated(new RestError("Operation get is not allowed on a disabled secret.", { statusCode: 403, code: "Forbidden" }));
    expect(error.code).toBe("key_vault_access_denied");
    expect(error.message).toContain("disabled");
    expect(error.message).not.toContain("Key Vault Secrets User");
  });

  it("403 on a non-exportable key is certificate_no_private_key only where the caller says how to fix it", () => {
    const refusal = new RestError("The private key of this certificate is not exportable.", { statusCode: 403, code: "Forbidden" });
    const fixed = translated(refusal, { notExportableFix: "Create a new certificate whose policy has Exportable private key: Yes." });
    expect(fixed.code).toBe("certificate_no_private_key");
    expect(fixed.message).toContain("Exportable private key: Yes");
    expect(translated(refusal).code).toBe("key_vault_access_denied");
  });

  it("404: the object and the setting to check", () => {
    const error = translated(new RestError("Secret not found: graph-secret", { statusCode: 404, code: "SecretNotFound" }));
    expect(error.code).toBe("key_vault_not_found");
    expect(error.message).toContain('no secret named "graph-secret"');
    expect(error.message).toContain("KEY_VAULT_SECRET_NAME");
    expect(error.details).toEqual({ statusCode: 404 });
  });

  it("no answer: the network path; an HTTP error: try again later", () => {
    const unreachable = translated(new RestError("getaddrinfo ENOTFOUND contoso-sync.vault.azure.net", { code: "ENOTFOUND" }));
    expect(unreachable.code).toBe("key_vault_unavailable");
    expect(unreachable.message).toContain("ENOTFOUND");
    expect(unreachable.message).toContain("firewall or private endpoint");

    const failing = translated(new RestError("The service is temporarily unavailable.", { statusCode: 503, code: "ServiceUnavailable" }));
    expect(failing.code).toBe("key_vault_unavailable");
    expect(failing.message).toContain("HTTP 503");
    expect(failing.details).toMatchObject({ statusCode: 503, errorCode: "ServiceUnavailable" });
  });

  it("no Azure credential: how to sign in locally and what to assign in Azure", () => {
    const error = translated(new CredentialUnavailableError("ManagedIdentityCredential: no managed identity endpoint found."));
    expect(error.code).toBe("no_azure_credential");
    expect(error.message).toContain("az login");
    expect(error.message).toContain("AZURE_CLIENT_ID");
    expect(error.message).toContain(context.operation);
  });

  it("redacts a token the SDK put in its message, and cuts long messages", () => {
    const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeW5jIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    const error = translated(new RestError(`Bearer ${token} was refused ${"x".repeat(2_000)}`, { statusCode: 500 }));
    expect(error.message).not.toContain(token);
    expect(error.message.length).toBeLessThan(1_000);
  });

  it("passes a UserSyncError and an abort through unchanged", () => {
    const own = new UserSyncError("certificate_key_mismatch", "mismatch");
    expect(translateKeyVaultError(own, context)).toBe(own);
    const abort = new Error("aborted");
    abort.name = "AbortError";
    expect(translateKeyVaultError(abort, context)).toBe(abort);
  });
});
