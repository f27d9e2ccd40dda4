/**
 * The Graph credential's settings (GRAPH_CREDENTIAL and the settings of its mode), read from the raw
 * environment: the schema checks their formats, this checks which go together.
 */
import { CLOUDS, type CloudName } from "./clouds.js";
import { CERT_FIX, GRAPH_CREDENTIAL_MODES, SECRET_NAME_FIX, VAULT_FIX, type GraphCredentialMode } from "./schema.js";
import type { SettingName } from "./settingNames.js";
import { DEFAULT_GRAPH_CLOUD, DEFAULT_GRAPH_CREDENTIAL } from "./defaults.js";

// ---------------------------------------------------------------------------------------------
// Graph credential modes (GRAPH_CREDENTIAL). The modes are exclusive: a setting that belongs to
// another mode is an error, so that a leftover certificate name or secret never silently decides
// how the app signs in. docs/credentials.md explains which mode to choose.

/** A secret read from the environment: it prints as "[redacted]" wherever it ends up by mistake. */
export class SecretText {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself. Only the token request may use it; never log it. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "SecretText([redacted])";
  }
}

export type GraphCredentialSettings =
  /** A Key Vault certificate whose private key is read (exportable) and given to MSAL. */
  | { mode: "keyVaultCertificate"; keyVaultUrl: string; certificateName: string }
  /** A Key Vault certificate whose key signs the client assertion inside Key Vault (never read). */
  | { mode: "keyVaultSignedAssertion"; keyVaultUrl: string; certificateName: string }
  /** The function's managed identity token (audience `tokenExchangeAudience`) is the client assertion. */
  | { mode: "managedIdentityFederation"; tokenExchangeAudience: string }
  /** A client secret kept in a Key Vault secret. */
  | { mode: "clientSecret"; source: "keyVault"; keyVaultUrl: string; secretName: string }
  /** A client secret in GRAPH_CLIENT_SECRET: local development only. */
  | { mode: "clientSecret"; source: "environment"; clientSecret: SecretText };

const CREDENTIAL_FIX = "See docs/credentials.md for the settings each GRAPH_CREDENTIAL mode takes.";
const CERTIFICATE_MODES = "keyVaultCertificate or keyVaultSignedAssertion";

export function readCredential(
  env: Record<string, string | undefined>,
  parsedMode: GraphCredentialMode | undefined,
): { credential?: GraphCredentialSettings; lines: string[]; names: string[]; conflicts: number } {
  const lines: string[] = [];
  const names: string[] = [];
  let conflicts = 0;
  const value = (name: SettingName): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const rawMode = value("GRAPH_CREDENTIAL") ?? DEFAULT_GRAPH_CREDENTIAL;
  // An unknown mode is reported by the schema; nothing else can be checked without a mode.
  if (!(GRAPH_CREDENTIAL_MODES as readonly string[]).includes(rawMode)) return { lines, names, conflicts };
  const mode = parsedMode ?? (rawMode as GraphCredentialMode);
  const modeText = value("GRAPH_CREDENTIAL") === undefined ? `GRAPH_CREDENTIAL=${DEFAULT_GRAPH_CREDENTIAL} (the default)` : `GRAPH_CREDENTIAL=${mode}`;

  const missing = (name: SettingName, why: string, fix: string): void => {
    names.push(name);
    lines.push(`${name} is missing. ${modeText} ${why}. ${fix}`);
  };
  const conflict = (name: SettingName, why: string): void => {
    names.push(name);
    conflicts++;
    lines.push(`${name} is set, but ${modeText} ${why}. The credential modes are exclusive: remove ${name}, or change GRAPH_CREDENTIAL. ${CREDENTIAL_FIX}`);
  };

  const keyVaultUrl = value("KEY_VAULT_URL")?.replace(/\/+$/, "");
  const certificateName = value("KEY_VAULT_CERTIFICATE_NAME");
  const secretName = value("KEY_VAULT_SECRET_NAME");
  // Read from env directly, never through a message: its value must not reach an error text.
  const clientSecret = env.GRAPH_CLIENT_SECRET === undefined || env.GRAPH_CLIENT_SECRET.trim() === "" ? undefined : env.GRAPH_CLIENT_SECRET.trim();

  switch (mode) {
    case "keyVaultCertificate":
    case "keyVaultSignedAssertion": {
      const what = mode === "keyVaultCertificate" ? "reads the certificate and its private key from Key Vault" : "signs with the key of a Key Vault certificate";
      if (keyVaultUrl === undefined) missing("KEY_VAULT_URL", what, VAULT_FIX);
      if (certificateName === undefined) missing("KEY_VAULT_CERTIFICATE_NAME", what, CERT_FIX);
      if (secretName !== undefined) conflict("KEY_VAULT_SECRET_NAME", "signs in with a certificate, not a client secret (KEY_VAULT_SECRET_NAME belongs to GRAPH_CREDENTIAL=clientSecret)");
      if (clientSecret !== undefined) conflict("GRAPH_CLIENT_SECRET", "signs in with a certificate, not a client secret (GRAPH_CLIENT_SECRET belongs to GRAPH_CREDENTIAL=clientSecret, for local development)");
      if (lines.length > 0 || keyVaultUrl === undefined || certificateName === undefined) return { lines, names, conflicts };
      return { credential: { mode, keyVaultUrl, certificateName }, lines, names, conflicts };
    }
    case "managedIdentityFederation": {
      const why = "uses the function's managed identity and reads nothing from Key Vault";
      if (keyVaultUrl !== undefined) conflict("KEY_VAULT_URL", why);
      if (certificateName !== undefined) conflict("KEY_VAULT_CERTIFICATE_NAME", `${why} (KEY_VAULT_CERTIFICATE_NAME belongs to ${CERTIFICATE_MODES})`);
      if (secretName !== undefined) conflict("KEY_VAULT_SECRET_NAME", `${why} (KEY_VAULT_SECRET_NAME belongs to clientSecret)`);
      if (clientSecret !== undefined) conflict("GRAPH_CLIENT_SECRET", `${why} and needs no client secret`);
      if (lines.length > 0) return { lines, names, conflicts };
      const cloud = value("GRAPH_CLOUD") ?? DEFAULT_GRAPH_CLOUD;
      const endpoints = (CLOUDS as Record<string, (typeof CLOUDS)[CloudName] | undefined>)[cloud];
      // An unknown cloud is reported by the schema.
      if (endpoints === undefined) return { lines, names, conflicts };
      return { credential: { mode, tokenExchangeAudience: endpoints.tokenExchangeAudience }, lines, names, conflicts };
    }
    case "clientSecret": {
      if (certificateName !== undefined) conflict("KEY_VAULT_CERTIFICATE_NAME", `signs in with a client secret, not a certificate (KEY_VAULT_CERTIFICATE_NAME belongs to ${CERTIFICATE_MODES})`);
      if (clientSecret !== undefined) {
        if (secretName !== undefined) conflict("GRAPH_CLIENT_SECRET", "also names a Key Vault secret in KEY_VAULT_SECRET_NAME; keep one source of the secret (Key Vault in Azure, GRAPH_CLIENT_SECRET only for local development)");
        else if (keyVaultUrl !== undefined) conflict("KEY_VAULT_URL", "takes the secret from GRAPH_CLIENT_SECRET and reads nothing from Key Vault (to read the secret from Key Vault instead, set KEY_VAULT_SECRET_NAME and remove GRAPH_CLIENT_SECRET)");
        if (lines.length > 0) return { lines, names, conflicts };
        return { credential: { mode, source: "environment", clientSecret: new SecretText(clientSecret) }, lines, names, conflicts };
      }
      const why = "reads the client secret from a Key Vault secret";
      if (keyVaultUrl === undefined) missing("KEY_VAULT_URL", why, VAULT_FIX);
      if (secretName === undefined) missing("KEY_VAULT_SECRET_NAME", why, `${SECRET_NAME_FIX} For local development only, GRAPH_CLIENT_SECRET may hold the secret instead.`);
      if (lines.length > 0 || keyVaultUrl === undefined || secretName === undefined) return { lines, names, conflicts };
      return { credential: { mode, source: "keyVault", keyVaultUrl, secretName }, lines, names, conflicts };
    }
  }
}

