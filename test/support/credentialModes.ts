/**
 * Shared by the credential-mode integration tests (one simulated tenant per file: msal-node keeps
 * the managed identity source per process): the product's settings for a mode, request counting
 * by path, and a check that MSAL logged nothing but errors.
 */
import { expect } from "vitest";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";

/** The settings of `base` with every credential setting removed, then `credential` added. */
export function envForMode(base: Record<string, string>, credential: Record<string, string>): Record<string, string> {
  const env = { ...base };
  for (const name of ["GRAPH_CREDENTIAL", "KEY_VAULT_URL", "KEY_VAULT_CERTIFICATE_NAME", "KEY_VAULT_SECRET_NAME", "GRAPH_CLIENT_SECRET"]) delete env[name];
  return { ...env, ...credential };
}

/**
 * How many logged requests of a service had a path matching `pattern` (query strings included) and
 * were answered with success (Key Vault SDKs send their first request unauthenticated and get 401).
 */
export function countPaths(tenant: SimulatedTenant, service: string, pattern: RegExp): number {
  return tenant.requests.entries().filter((e) => e.service === service && pattern.test(e.path) && e.status >= 200 && e.status < 300).length;
}

/** Every Key Vault request path, without query strings. */
export function keyVaultPaths(tenant: SimulatedTenant): string[] {
  return tenant.requests
    .entries()
    .filter((e) => e.service === "keyVault")
    .map((e) => `${e.method} ${e.path.split("?")[0]}`);
}

/** MSAL logs errors only: no "MSAL:" warning (such as "No client info in response") reaches the log. */
export function expectNoMsalWarnings(lines: readonly string[]): void {
  expect(lines.filter((line) => line.includes("MSAL:"))).toEqual([]);
}

/** Decodes the parts of a JWT for assertions (never printed). */
export function decodeJwtParts(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header = "", claims = ""] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as Record<string, unknown>,
  };
}
