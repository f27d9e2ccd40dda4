/**
 * keyVaultSignedAssertion: the client assertion is signed by Key Vault with the key of a Key Vault
 * certificate, so the private key never leaves the vault and may be non-exportable.
 *
 * Per assertion: header `{ alg: PS256, typ: JWT, x5t#S256 }` (SHA-256 of the certificate's DER,
 * from `CertificateClient.getCertificate`'s `cer`), claims `aud` = the token endpoint
 * `{authority host}/{tenant}/oauth2/v2.0/token`, `iss` = `sub` = client id, a unique `jti`,
 * `nbf` = `iat` = now, `exp` = now + 10 minutes (as MSAL makes them). The SHA-256 digest of
 * `base64url(header).base64url(claims)` is signed by Key Vault's sign operation
 * (`CryptographyClient.sign("PS256", digest)` on the certificate's `kid`), and the signature is
 * checked against the certificate's public key before it is used.
 *
 * Key Vault is read only for the public certificate (certificates/read) and asked to sign
 * (keys/sign/action); the certificate's backing secret is never requested. The certificate is kept
 * in a KeyVaultCache, as in the other Key Vault modes (12 hours, re-read on rotation or when Entra
 * rejects it, kept through a Key Vault outage while it is valid).
 */
import { constants as cryptoConstants, createHash, randomUUID, verify, X509Certificate, type KeyObject } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient } from "@azure/keyvault-keys";
import { createCertificateError } from "./certificateErrors.js";
import type { Logger } from "../shared/logger.js";
import { assertCertificateValid, certificateCacheRules, warnIfExpiringSoon } from "./certificateValidity.js";
import type { ClientAssertionFacts, ClientAssertionProvider, GetClientAssertionOptions, RefreshClientAssertionOptions } from "./clientAssertion.js";
import { oneLineName } from "./clientCertificate.js";
import { KeyVaultCache, keyVaultCacheTimings, type KeyVaultCacheTimings } from "./keyVaultCache.js";
import { keyVaultClientOptions, type KeyVaultClientOptions } from "./keyVaultClientOptions.js";
import { keyVaultReadContext, translateKeyVaultError, type KeyVaultErrorContext } from "./keyVaultErrors.js";
import { DEFAULT_ASSERTION_LIFETIME_IN_MS } from "../configuration/defaults.js";

export interface KeyVaultSignedAssertionProviderOptions extends KeyVaultCacheTimings {
  vaultUrl: string;
  certificateName: string;
  credential: TokenCredential;
  tenantId: string;
  clientId: string;
  /** e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  logger: Logger;
  /** Lifetime of each assertion. Default 10 minutes. */
  assertionLifetimeInMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/** What each role must allow in this mode; error messages and docs/credentials.md say the same. */
export const SIGNED_ASSERTION_ROLE_FIX =
  'keyVaultSignedAssertion needs exactly two data actions on the vault: Microsoft.KeyVault/vaults/certificates/read (the public certificate) and Microsoft.KeyVault/vaults/keys/sign/action (the signature). ' +
  'Assign a custom role with those two, or the built-in "Key Vault Reader" (certificates/read, no secret values) plus "Key Vault Crypto User" (keys/sign). ' +
  '"Key Vault Certificate User" alone cannot sign. See docs/credentials.md.';

interface SigningCertificate {
  keyId: string;
  version: string | undefined;
  x5tS256: string;
  thumbprintSha256: string;
  publicKey: KeyObject;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export class KeyVaultSignedAssertionProvider implements ClientAssertionProvider {
  readonly mode = "keyVaultSignedAssertion" as const;
  readonly #options: KeyVaultSignedAssertionProviderOptions;
  readonly #certificateClient: CertificateClient;
  readonly #clientOptions: KeyVaultClientOptions;
  readonly #audience: string;
  readonly #lifetimeInSeconds: number;
  readonly #now: () => Date;
  readonly #cryptographyClients = new Map<string, CryptographyClient>();
  readonly #cache: KeyVaultCache<SigningCertificate>;
  readonly #readErrorContext: KeyVaultErrorContext;
  #signatures = 0;

  constructor(options: KeyVaultSignedAssertionProviderOptions) {
    this.#options = options;
    this.#lifetimeInSeconds = Math.max(60, Math.floor((options.assertionLifetimeInMs ?? DEFAULT_ASSERTION_LIFETIME_IN_MS) / 1000));
    this.#now = options.now ?? (() => new Date());
    this.#audience = `${options.authorityHost.replace(/\/+$/, "")}/${options.tenantId}/oauth2/v2.0/token`;
    this.#clientOptions = keyVaultClientOptions(options.vaultUrl, options.requestTimeoutInMs);
    this.#certificateClient = new CertificateClient(options.vaultUrl, options.credential, this.#clientOptions);
    const name = options.certificateName;
    this.#readErrorContext = keyVaultReadContext("certificate", name, {
      vaultUrl: options.vaultUrl,
      roleFix: SIGNED_ASSERTION_ROLE_FIX,
      notFoundFix: `Key Vault has no certificate named "${name}" (it must be under Certificates, not Secrets or Keys, and not deleted).`,
    });
    this.#cache = new KeyVaultCache({
      ...keyVaultCacheTimings(options),
      now: this.#now,
      read: (abortSignal) => this.#fetch(abortSignal),
      errorContext: this.#readErrorContext,
      ...certificateCacheRules(name, options.logger),
    });
  }

  /** How many assertions Key Vault has signed for this provider (each is one sign request). */
  get signatureCount(): number {
    return this.#signatures;
  }

  facts(): ClientAssertionFacts {
    const cached = this.#cache.current;
    return cached ? { thumbprintSha256: cached.thumbprintSha256 } : {};
  }

  async getClientAssertion(options: GetClientAssertionOptions = {}): Promise<string> {
    const certificate = await this.#cache.get(options);
    const nowInSeconds = Math.floor(this.#now().getTime() / 1000);
    const header = { alg: "PS256", typ: "JWT", "x5t#S256": certificate.x5tS256 };
    const claims = {
      aud: options.audience ?? this.#audience,
      iss: this.#options.clientId,
      sub: this.#options.clientId,
      jti: randomUUID(),
      nbf: nowInSeconds,
      iat: nowInSeconds,
      exp: nowInSeconds + this.#lifetimeInSeconds,
    };
    const signingInput = `${base64url(header)}.${base64url(claims)}`;
    const digest = createHash("sha256").update(signingInput).digest();
    let signature: Uint8Array;
    try {
      const result = await this.#cryptographyClient(certificate.keyId).sign("PS256", digest, { abortSignal: options.abortSignal });
      signature = result.result;
    } catch (error) {
      throw translateKeyVaultError(error, {
        vaultUrl: this.#options.vaultUrl,
        operation: `signing the client assertion with the key of certificate "${this.#options.certificateName}" (${certificate.keyId})`,
        nameSetting: "KEY_VAULT_CERTIFICATE_NAME",
        roleFix: SIGNED_ASSERTION_ROLE_FIX,
        notFoundFix: "The certificate's key is gone (deleted or purged) although its certificate is still listed.",
      });
    }
    const signed = verify(
      "sha256",
      Buffer.from(signingInput),
      { key: certificate.publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST },
      signature,
    );
    if (!signed) {
      throw createCertificateError("signatureDoesNotVerify", { name: this.#options.certificateName, keyId: certificate.keyId, thumbprintSha256: certificate.thumbprintSha256 });
    }
    this.#signatures++;
    return `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
  }

  async refresh(options: RefreshClientAssertionOptions = {}): Promise<boolean> {
    const before = this.#cache.current?.thumbprintSha256;
    const after = await this.#cache.get({ ...options, forceRefresh: true });
    return after.thumbprintSha256 !== before;
  }

  #cryptographyClient(keyId: string): CryptographyClient {
    let client = this.#cryptographyClients.get(keyId);
    if (client === undefined) {
      // One client per key version: it reads the key's public part once (keys/read; without that
      // permission it goes straight to the vault), then every sign is one request.
      client = new CryptographyClient(keyId, this.#options.credential, this.#clientOptions);
      this.#cryptographyClients.clear();
      this.#cryptographyClients.set(keyId, client);
    }
    return client;
  }

  async #fetch(abortSignal: AbortSignal): Promise<SigningCertificate> {
    const name = this.#options.certificateName;
    const vault = this.#options.vaultUrl;
    let certificate;
    try {
      certificate = await this.#certificateClient.getCertificate(name, { abortSignal });
    } catch (error) {
      throw translateKeyVaultError(error, this.#readErrorContext);
    }
    const version = certificate.properties.version;
    if (!certificate.cer || certificate.cer.length === 0 || !certificate.keyId) {
      throw createCertificateError("pendingIssuance", { name, version, vaultUrl: vault });
    }
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(Buffer.from(certificate.cer));
    } catch {
      throw createCertificateError("cerNotX509", { name, version, vaultUrl: vault });
    }
    const subject = oneLineName(x509.subject);
    if (x509.publicKey.asymmetricKeyType !== "rsa") throw createCertificateError("notRsa", { subject, keyType: x509.publicKey.asymmetricKeyType });
    const der = x509.raw;
    const thumbprintSha256 = createHash("sha256").update(der).digest("hex");
    const notBefore = new Date(x509.validFrom);
    const notAfter = new Date(x509.validTo);
    const now = this.#now();
    const validity = { subject, thumbprintSha256, notBefore, notAfter };
    assertCertificateValid(validity, now);
    warnIfExpiringSoon(name, validity, now, this.#options.logger);
    const exportable = certificate.policy?.exportable;
    this.#options.logger.info(
      `Signing client assertions in Key Vault with the key of certificate "${name}" version ${version ?? "latest"} (SHA-256 thumbprint ${thumbprintSha256}, ` +
        `valid until ${notAfter.toISOString()}, private key exportable: ${exportable === undefined ? "unknown" : exportable ? "yes" : "no"}).`,
    );
    return {
      keyId: certificate.keyId,
      version,
      x5tS256: createHash("sha256").update(der).digest("base64url"),
      publicKey: x509.publicKey,
      ...validity,
    };
  }
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
