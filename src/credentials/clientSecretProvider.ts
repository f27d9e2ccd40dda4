/**
 * clientSecret: the app registration's client secret, from a Key Vault secret (KEY_VAULT_SECRET_NAME)
 * or, for local development only, from GRAPH_CLIENT_SECRET. The value is held as a SecretText (it
 * prints as "[redacted]") and is never logged; messages name the secret's version instead.
 *
 * The Key Vault secret is cached for 12 hours (like the certificate) and re-read when Entra answers
 * AADSTS7000215 (invalid secret), so a rotated secret is picked up without a restart.
 */
import type { TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { SecretText } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { KeyVaultCache, keyVaultCacheTimings, type GetCachedValueOptions, type KeyVaultCacheTimings } from "./keyVaultCache.js";
import { keyVaultClientOptions } from "./keyVaultClientOptions.js";
import { keyVaultReadContext, translateKeyVaultError, type KeyVaultErrorContext } from "./keyVaultErrors.js";

export interface ClientSecret {
  /** Never log it. */
  value: SecretText;
  /** The Key Vault secret version, or "environment" for GRAPH_CLIENT_SECRET. */
  version: string;
  /** e.g. `Key Vault secret "graph-secret" version 0123…`, for messages. */
  description: string;
}

/** `abortSignal` stops this caller's wait only; `forceRefresh` reads Key Vault again even if the cached secret is still fresh. */
export type GetClientSecretOptions = GetCachedValueOptions;

export type ClientSecretProviderOptions =
  | ({ source: "keyVault"; vaultUrl: string; secretName: string; credential: TokenCredential; logger: Logger } & KeyVaultCacheTimings)
  | { source: "environment"; clientSecret: SecretText; logger: Logger };

export const CLIENT_SECRET_ROLE_FIX =
  'clientSecret reads one secret: grant the identity "Key Vault Secrets User" (Microsoft.KeyVault/vaults/secrets/getSecret/action), ideally scoped to that secret rather than the whole vault. See docs/credentials.md.';

export class ClientSecretProvider {
  readonly #options: ClientSecretProviderOptions;
  readonly #cache: KeyVaultCache<ClientSecret> | undefined;
  #warned = false;

  constructor(options: ClientSecretProviderOptions) {
    this.#options = options;
    if (options.source === "keyVault") {
      const secretClient = new SecretClient(options.vaultUrl, options.credential, keyVaultClientOptions(options.vaultUrl, options.requestTimeoutInMs));
      const errorContext = keyVaultReadContext("secret", options.secretName, {
        vaultUrl: options.vaultUrl,
        roleFix: CLIENT_SECRET_ROLE_FIX,
        notFoundFix: `Key Vault has no secret named "${options.secretName}" (it must be under Secrets, enabled, and not deleted).`,
      });
      this.#cache = new KeyVaultCache({
        ...keyVaultCacheTimings(options),
        read: (abortSignal) => readClientSecret(secretClient, options, errorContext, abortSignal),
        errorContext,
        onKeptCached: (cached, reason) => options.logger.warn(`Could not refresh the client secret from Key Vault (${reason}); keeping the cached ${cached.description}.`),
      });
    }
  }

  /** Where the secret comes from, for messages. */
  get source(): "keyVault" | "environment" {
    return this.#options.source;
  }

  async getClientSecret(options: GetClientSecretOptions = {}): Promise<ClientSecret> {
    const source = this.#options;
    if (source.source === "keyVault") return this.#cache!.get(options);
    if (!this.#warned) {
      this.#warned = true;
      source.logger.warn(
        "GRAPH_CLIENT_SECRET holds the client secret: this is for local development only. In Azure, keep the secret in Key Vault (KEY_VAULT_SECRET_NAME), " +
          "or better, use a mode without a shared secret (docs/credentials.md).",
      );
    }
    return { value: source.clientSecret, version: "environment", description: "GRAPH_CLIENT_SECRET" };
  }
}

async function readClientSecret(
  secretClient: SecretClient,
  options: Extract<ClientSecretProviderOptions, { source: "keyVault" }>,
  errorContext: KeyVaultErrorContext,
  abortSignal: AbortSignal,
): Promise<ClientSecret> {
  const { vaultUrl, secretName } = options;
  let secret;
  try {
    secret = await secretClient.getSecret(secretName, { abortSignal });
  } catch (error) {
    throw translateKeyVaultError(error, errorContext);
  }
  const version = secret.properties.version ?? "latest";
  if (secret.properties.managed || secret.properties.certificateKeyId) {
    throw new UserSyncError(
      "invalid_setting",
      `KEY_VAULT_SECRET_NAME names "${secretName}", the backing secret of a Key Vault certificate, not a client secret. ` +
        "To sign in with that certificate set GRAPH_CREDENTIAL=keyVaultCertificate and KEY_VAULT_CERTIFICATE_NAME instead; otherwise store the app's client secret as a plain Key Vault secret.",
      { details: { settings: "KEY_VAULT_SECRET_NAME" } },
    );
  }
  if (secret.value === undefined || secret.value.trim() === "") {
    throw new UserSyncError("missing_setting", `Key Vault secret "${secretName}" (version ${version}) in ${vaultUrl} is empty. Store the app registration's client secret value (not its secret ID) in it.`, {
      details: { settings: "KEY_VAULT_SECRET_NAME" },
    });
  }
  const description = `Key Vault secret "${secretName}" version ${version}`;
  options.logger.info(`Read the client secret from ${description}${secret.properties.expiresOn ? ` (expires ${secret.properties.expiresOn.toISOString()})` : ""}.`);
  return { value: new SecretText(secret.value.trim()), version, description };
}
