import type { TokenCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { SecretClient } from "@azure/keyvault-secrets";
import { createCertificateError } from "./certificateErrors.js";
import type { Logger } from "../shared/logger.js";
import { certificateCacheRules, warnIfExpiringSoon } from "./certificateValidity.js";
import { parseKeyVaultCertificateSecret, type ClientCertificate } from "./clientCertificate.js";
import { KeyVaultCache, keyVaultCacheTimings, type GetCachedValueOptions, type KeyVaultCacheTimings } from "./keyVaultCache.js";
import { keyVaultClientOptions } from "./keyVaultClientOptions.js";
import { keyVaultReadContext, translateKeyVaultError, type KeyVaultErrorContext } from "./keyVaultErrors.js";

/** `abortSignal` stops this caller's wait only; `forceRefresh` reads Key Vault again even if the cached certificate is still fresh. */
export type GetClientCertificateOptions = GetCachedValueOptions;

export interface ClientCertificateProviderOptions extends KeyVaultCacheTimings {
  vaultUrl: string;
  certificateName: string;
  credential: TokenCredential;
  logger: Logger;
}

/** What keyVaultCertificate needs on the vault; error messages and docs/credentials.md say the same. */
export const CLIENT_CERTIFICATE_ROLE_FIX =
  'Grant the identity the "Key Vault Certificate User" role (or "Key Vault Secrets User") on this vault; ' +
  "if the vault uses access policies instead of Azure RBAC, give it Get permission on certificates and secrets.";

const NOT_EXPORTABLE_FIX =
  "Exportability cannot be changed on an existing key: create a new certificate (or version) whose policy has Exportable private key: Yes (keyProperties.exportable = true), " +
  "register it on the app registration, and point KEY_VAULT_CERTIFICATE_NAME at it.";

/**
 * Reads the app's client certificate from Key Vault: the public part from the certificate, the private
 * key and chain from its backing secret (same name, same version).
 *
 * Rotation: the parsed certificate is cached for the life of the process and read again when it is
 * older than `maxAgeInMs` (12 h by default), when it has expired, when a caller asks with
 * `forceRefresh` (e.g. after Entra rejected it), or at process restart. A new Key Vault version is
 * therefore picked up within `maxAgeInMs` without a restart; register the new certificate on the app
 * registration before (or when) making it current in Key Vault, since the old one keeps being used
 * until then. Reading Key Vault on every run would add two requests per run for no benefit, and
 * pinning a version would make rotation a redeployment.
 *
 * If a routine (age-based) refresh fails while the cached certificate is still valid, the cached one
 * keeps being used and a warning is logged: a Key Vault outage should not stop a sync whose
 * credentials are still good. Forced refreshes and first reads fail loudly.
 */
export class ClientCertificateProvider {
  readonly #certificateClient: CertificateClient;
  readonly #secretClient: SecretClient;
  readonly #vaultUrl: string;
  readonly #certificateName: string;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #cache: KeyVaultCache<ClientCertificate>;
  readonly #errorContext: KeyVaultErrorContext;

  constructor(options: ClientCertificateProviderOptions) {
    this.#vaultUrl = options.vaultUrl;
    this.#certificateName = options.certificateName;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    const clientOptions = keyVaultClientOptions(options.vaultUrl, options.requestTimeoutInMs);
    this.#certificateClient = new CertificateClient(options.vaultUrl, options.credential, clientOptions);
    this.#secretClient = new SecretClient(options.vaultUrl, options.credential, clientOptions);
    const name = options.certificateName;
    this.#errorContext = keyVaultReadContext("certificate", name, {
      vaultUrl: options.vaultUrl,
      roleFix: CLIENT_CERTIFICATE_ROLE_FIX,
      notFoundFix: `Key Vault has no certificate named "${name}" (or no secret backing it): it must be under Certificates (not Secrets) and not deleted.`,
      notExportableFix: NOT_EXPORTABLE_FIX,
    });
    this.#cache = new KeyVaultCache({
      ...keyVaultCacheTimings(options),
      now: this.#now,
      read: (abortSignal) => this.#fetch(abortSignal),
      errorContext: this.#errorContext,
      ...certificateCacheRules(name, options.logger),
    });
  }

  async getClientCertificate(options: GetClientCertificateOptions = {}): Promise<ClientCertificate> {
    return this.#cache.get(options);
  }

  async #fetch(abortSignal: AbortSignal): Promise<ClientCertificate> {
    const name = this.#certificateName;
    let cer: Uint8Array | undefined;
    let version: string | undefined;
    let value: string | undefined;
    let contentType: string | undefined;
    try {
      const certificate = await this.#certificateClient.getCertificate(name, { abortSignal });
      cer = certificate.cer;
      version = certificate.properties.version;
      const secret = await this.#secretClient.getSecret(name, version ? { version, abortSignal } : { abortSignal });
      value = secret.value;
      contentType = secret.properties.contentType ?? certificate.policy?.contentType;
    } catch (error) {
      throw translateKeyVaultError(error, this.#errorContext);
    }
    if (value === undefined || value === "") {
      throw createCertificateError("backingSecretEmpty", { name, version, vaultUrl: this.#vaultUrl });
    }

    const parsed = parseKeyVaultCertificateSecret(contentType === undefined ? { value } : { value, contentType }, { now: this.#now() });
    if (cer !== undefined && Buffer.from(cer).toString("base64") !== parsed.x5c[0]) {
      throw createCertificateError("partsDiffer", { name, version, vaultUrl: this.#vaultUrl, thumbprintSha256: parsed.thumbprintSha256 });
    }

    warnIfExpiringSoon(name, parsed, this.#now(), this.#logger);
    this.#logger.info(`Read client certificate "${name}" version ${version ?? "latest"} from Key Vault (SHA-256 thumbprint ${parsed.thumbprintSha256}, valid until ${parsed.notAfter.toISOString()}).`);

    return parsed;
  }
}
