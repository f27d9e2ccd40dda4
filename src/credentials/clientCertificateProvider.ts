import type { TokenCredential } from "@azure/identity";
import { isRestError } from "@azure/core-rest-pipeline";
import { CertificateClient } from "@azure/keyvault-certificates";
import { SecretClient } from "@azure/keyvault-secrets";
import { isLoopbackHost } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { parseKeyVaultCertificateSecret, type ClientCertificate } from "./clientCertificate.js";
import { abortable } from "../shared/abort.js";

export interface GetClientCertificateOptions {
  abortSignal?: AbortSignal;
  /** Read Key Vault again even if the cached certificate is still fresh. */
  forceRefresh?: boolean;
}

export interface ClientCertificateProviderOptions {
  vaultUrl: string;
  certificateName: string;
  credential: TokenCredential;
  logger: Logger;
  /** How long a certificate read from Key Vault is used before it is read again. Default 12 hours. */
  maxAgeInMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

const DEFAULT_MAX_AGE_IN_MS = 12 * 60 * 60 * 1000;
const EXPIRY_WARNING_IN_MS = 30 * 24 * 60 * 60 * 1000;

interface CachedCertificate {
  certificate: ClientCertificate;
  version: string | undefined;
  fetchedAt: number;
}

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
  readonly #maxAgeInMs: number;
  readonly #now: () => Date;
  #cached: CachedCertificate | undefined;
  #inFlight: Promise<CachedCertificate> | undefined;

  constructor(options: ClientCertificateProviderOptions) {
    this.#vaultUrl = options.vaultUrl;
    this.#certificateName = options.certificateName;
    this.#logger = options.logger;
    this.#maxAgeInMs = options.maxAgeInMs ?? DEFAULT_MAX_AGE_IN_MS;
    this.#now = options.now ?? (() => new Date());
    // Emulators (like the simulated tenant) live on loopback and cannot answer the 401 challenge with
    // a resource on the vault's own domain; real vaults always can, so verification stays on for them.
    const clientOptions = isLoopbackHost(new URL(options.vaultUrl).hostname) ? { disableChallengeResourceVerification: true } : {};
    this.#certificateClient = new CertificateClient(options.vaultUrl, options.credential, clientOptions);
    this.#secretClient = new SecretClient(options.vaultUrl, options.credential, clientOptions);
  }

  async getClientCertificate(options: GetClientCertificateOptions = {}): Promise<ClientCertificate> {
    const nowMs = this.#now().getTime();
    const cached = this.#cached;
    const fresh = cached !== undefined && nowMs - cached.fetchedAt < this.#maxAgeInMs && nowMs <= cached.certificate.notAfter.getTime();
    if (cached && fresh && !options.forceRefresh) return cached.certificate;

    let fetch = this.#inFlight;
    if (fetch === undefined) {
      fetch = this.#fetch();
      this.#inFlight = fetch;
      const settle = (): void => {
        if (this.#inFlight === fetch) this.#inFlight = undefined;
      };
      fetch.then(settle, settle);
    }

    try {
      const result = await abortable(fetch, options.abortSignal);
      return result.certificate;
    } catch (error) {
      const stillValid = cached !== undefined && nowMs <= cached.certificate.notAfter.getTime() && nowMs >= cached.certificate.notBefore.getTime();
      if (!options.forceRefresh && stillValid && isTransient(error)) {
        this.#logger.warn(
          `Could not refresh the client certificate from Key Vault (${error instanceof UserSyncError ? error.code : "error"}); ` +
            `keeping the cached one (SHA-256 thumbprint ${cached.certificate.thumbprintSha256}, valid until ${cached.certificate.notAfter.toISOString()}).`,
        );
        return cached.certificate;
      }
      throw error;
    }
  }

  async #fetch(): Promise<CachedCertificate> {
    const name = this.#certificateName;
    let cer: Uint8Array | undefined;
    let version: string | undefined;
    let value: string | undefined;
    let contentType: string | undefined;
    try {
      const certificate = await this.#certificateClient.getCertificate(name);
      cer = certificate.cer;
      version = certificate.properties.version;
      const secret = await this.#secretClient.getSecret(name, version ? { version } : {});
      value = secret.value;
      contentType = secret.properties.contentType ?? certificate.policy?.contentType;
    } catch (error) {
      throw this.#translate(error);
    }
    if (value === undefined || value === "") {
      throw new UserSyncError(
        "certificate_no_private_key",
        `The backing secret of Key Vault certificate "${name}" (version ${version ?? "latest"}) in ${this.#vaultUrl} has no value. ` +
          "The certificate may still be pending issuance (check its Certificate Operation in Key Vault), or its key is not exportable: the certificate policy must make the key exportable.",
      );
    }

    const parsed = parseKeyVaultCertificateSecret(contentType === undefined ? { value } : { value, contentType }, { now: this.#now() });
    if (cer !== undefined && Buffer.from(cer).toString("base64") !== parsed.x5c[0]) {
      throw new UserSyncError(
        "certificate_key_mismatch",
        `Key Vault certificate "${name}" (version ${version ?? "latest"}) and its backing secret hold different certificates ` +
          `(secret's leaf SHA-256 thumbprint ${parsed.thumbprintSha256}). The secret was probably overwritten directly; re-import the certificate through Key Vault > Certificates so both parts match.`,
        { details: { thumbprintSha256: parsed.thumbprintSha256, version } },
      );
    }

    const remainingMs = parsed.notAfter.getTime() - this.#now().getTime();
    if (remainingMs <= EXPIRY_WARNING_IN_MS) {
      const days = Math.max(0, Math.floor(remainingMs / (24 * 60 * 60 * 1000)));
      this.#logger.warn(
        `The client certificate "${name}" (${parsed.subject}, SHA-256 thumbprint ${parsed.thumbprintSha256}) expires on ${parsed.notAfter.toISOString()}, in ${days} day(s). ` +
          "Create a new version in Key Vault (or let its lifetime action renew it) and add the new certificate to the app registration's Certificates & secrets.",
      );
    }
    this.#logger.info(`Read client certificate "${name}" version ${version ?? "latest"} from Key Vault (SHA-256 thumbprint ${parsed.thumbprintSha256}, valid until ${parsed.notAfter.toISOString()}).`);

    const entry: CachedCertificate = { certificate: parsed, version, fetchedAt: this.#now().getTime() };
    this.#cached = entry;
    return entry;
  }

  #translate(error: unknown): unknown {
    if (error instanceof UserSyncError) return error;
    if (isAbortError(error)) return error;
    const vault = this.#vaultUrl;
    const name = this.#certificateName;
    const errorName = error instanceof Error ? error.name : "";

    if (errorName === "CredentialUnavailableError" || errorName === "AggregateAuthenticationError" || errorName === "AuthenticationError") {
      return new UserSyncError(
        "no_azure_credential",
        `No Azure credential could get a token for Key Vault ${vault}. ` +
          "In Azure, assign a managed identity to the Function App (and set AZURE_CLIENT_ID to its client ID when it is user-assigned); " +
          "locally, sign in with `az login` (or `azd auth login`, `Connect-AzAccount`, or the Azure extension in VS Code). " +
          `Details: ${summarize(error)}`,
        { cause: error, details: { identityClientId: process.env.AZURE_CLIENT_ID } },
      );
    }

    if (isRestError(error)) {
      // The RestError is not kept as `cause`: it carries the request, Authorization header included,
      // and anything that serializes the error (a test runner, a log sink) would print the token.
      const status = error.statusCode;
      const serviceMessage = summarize(error);
      const identity = process.env.AZURE_CLIENT_ID
        ? `the managed identity with client ID ${process.env.AZURE_CLIENT_ID}`
        : "the identity this function runs as (its system-assigned managed identity, or your signed-in account locally)";
      if (status === 403 && /exportable/i.test(error.message)) {
        return new UserSyncError(
          "certificate_no_private_key",
          `Key Vault ${vault} will not release the private key of certificate "${name}": its policy does not make the key exportable. ` +
            "Exportability cannot be changed on an existing key: create a new certificate (or version) whose policy has Exportable private key: Yes (keyProperties.exportable = true), register it on the app registration, and point KEY_VAULT_CERTIFICATE_NAME at it.",
          { details: { statusCode: status } },
        );
      }
      if (status === 401) {
        return new UserSyncError(
          "key_vault_access_denied",
          `Key Vault ${vault} did not accept the token of ${identity} (HTTP 401). The vault is probably in another tenant than the identity, ` +
            `or KEY_VAULT_URL names another vault than intended. Use a vault in the identity's tenant, and grant the identity the "Key Vault Certificate User" role (or "Key Vault Secrets User") on it. Key Vault said: ${serviceMessage}`,
          { details: { statusCode: status, errorCode: error.code, identityClientId: process.env.AZURE_CLIENT_ID } },
        );
      }
      if (status === 403) {
        const disabled = /disabled/i.test(error.message);
        return new UserSyncError(
          "key_vault_access_denied",
          disabled
            ? `Key Vault ${vault} refused to read certificate "${name}" because it (or its current version) is disabled. Enable it in Key Vault > Certificates > ${name}, or make an enabled version current. Key Vault said: ${serviceMessage}`
            : `Key Vault ${vault} denied access to certificate "${name}" (HTTP 403). Grant ${identity} the "Key Vault Certificate User" role (or "Key Vault Secrets User") on this vault; ` +
                "if the vault uses access policies instead of Azure RBAC, give it Get permission on certificates and secrets. Role assignments can take a few minutes to apply. " +
                `Key Vault said: ${serviceMessage}`,
          { details: { statusCode: status, errorCode: error.code, identityClientId: process.env.AZURE_CLIENT_ID } },
        );
      }
      if (status === 404) {
        return new UserSyncError(
          "key_vault_not_found",
          `Key Vault ${vault} has no certificate named "${name}" (or no secret backing it). Check KEY_VAULT_CERTIFICATE_NAME and KEY_VAULT_URL, and that the certificate exists under Certificates (not Secrets) and is not deleted.`,
          { details: { statusCode: status } },
        );
      }
      return new UserSyncError(
        "key_vault_unavailable",
        status === undefined
          ? `Could not reach Key Vault ${vault} (${error.code ?? "network error"}). Check KEY_VAULT_URL, DNS, and that the vault's firewall or private endpoint admits this function's network. Details: ${serviceMessage}`
          : `Key Vault ${vault} answered HTTP ${status} reading certificate "${name}". Try again later; if it persists, check the vault's health in the Azure portal. Details: ${serviceMessage}`,
        { details: { statusCode: status, errorCode: error.code } },
      );
    }

    return new UserSyncError(
      "key_vault_unavailable",
      `Reading certificate "${name}" from Key Vault ${vault} failed: ${summarize(error)}. Check KEY_VAULT_URL and the network path to the vault.`,
    );
  }
}

function summarize(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s+/g, " ").trim();
  return redact(oneLine.length > 500 ? `${oneLine.slice(0, 500)}…` : oneLine);
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

function isTransient(error: unknown): boolean {
  return error instanceof UserSyncError && (error.code === "key_vault_unavailable" || error.code === "no_azure_credential");
}

