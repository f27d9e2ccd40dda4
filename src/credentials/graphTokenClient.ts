import { ConfidentialClientApplication, LogLevel, type Configuration } from "@azure/msal-node";
import { abortable, type OperationOptions } from "../shared/abort.js";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import { IdentityNetworkClient } from "./identityNetworkClient.js";
import { DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS } from "../configuration/defaults.js";
import { currentIdentityAbortSignal, identityTimeoutError, runIdentityWait } from "./identityRequests.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { ClientAssertionProvider } from "./clientAssertion.js";
import type { ClientCertificate } from "./clientCertificate.js";
import type { GetClientCertificateOptions } from "./clientCertificateProvider.js";
import type { ClientSecret, GetClientSecretOptions } from "./clientSecretProvider.js";
import { createTokenError, REJECTED_CREDENTIAL_AADSTS, translateTokenError, type TokenErrorContext } from "./tokenErrors.js";
import { isAbortError } from "../shared/abort.js";

export interface GraphAccessToken {
  /** The bearer token. Never log it. */
  token: string;
  expiresOn: Date;
  /** True when MSAL served the token from its in-memory cache. */
  fromCache: boolean;
}

export interface GetTokenOptions extends OperationOptions {
  /** Skip MSAL's cache and ask Entra for a new token. */
  forceRefresh?: boolean;
}

/** Where the app's certificate comes from (keyVaultCertificate). */
export interface ClientCertificateSource {
  getClientCertificate(options?: GetClientCertificateOptions): Promise<ClientCertificate>;
}

/** Where the app's client secret comes from (clientSecret). */
export interface ClientSecretSource {
  readonly source: "keyVault" | "environment";
  getClientSecret(options?: GetClientSecretOptions): Promise<ClientSecret>;
}

/**
 * The app's credential: exactly one source (GRAPH_CREDENTIAL). keyVaultCertificate gives the
 * certificate (private key included) to MSAL; keyVaultSignedAssertion and managedIdentityFederation
 * hand MSAL a `clientAssertion` callback; clientSecret gives it the secret.
 */
export type GraphTokenCredentialOptions =
  | { certificateProvider: ClientCertificateSource; assertionProvider?: never; secretProvider?: never }
  | { assertionProvider: ClientAssertionProvider; certificateProvider?: never; secretProvider?: never }
  | { secretProvider: ClientSecretSource; certificateProvider?: never; assertionProvider?: never };

export type GraphTokenClientOptions = GraphTokenCredentialOptions & {
  tenantId: string;
  clientId: string;
  /** e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com, no trailing slash; the token's resource. */
  graphEndpoint: string;
  /** The redirect URI of the admin-consent URL that token errors name (src/credentials/consent.ts). */
  consentRedirectUri?: string;
  /** Regional token service (e.g. "westeurope"), passed to MSAL as-is. */
  azureRegion?: string;
  /** The Key Vault of the credential, if any: named as such when it stalls. */
  vaultUrl?: string;
  /** Each attempt of a request MSAL sends (IDENTITY_REQUEST_TIMEOUT_SECONDS). Default 20 s. */
  requestTimeoutInMs?: number;
  logger: Logger;
};

interface MsalApp {
  /** The certificate thumbprint, the secret version, or "assertion": a new one means a new MSAL client. */
  credentialKey: string;
  app: ConfidentialClientApplication;
}

/** The credential of one token request, as MSAL takes it. */
interface ResolvedCredential {
  key: string;
  auth: Pick<Configuration["auth"], "clientCertificate" | "clientSecret" | "clientAssertion">;
  /** What to scrub from MSAL's log lines besides the usual secret shapes. */
  secretText?: string;
  context: Pick<TokenErrorContext, "mode" | "thumbprintSha256" | "secretDescription" | "federated">;
}

/**
 * App-only Microsoft Graph tokens with msal-node's client credentials flow and the certificate from Key Vault.
 *
 * One ConfidentialClientApplication per certificate, kept for the life of the process: MSAL's token
 * cache lives in that object, so repeated runs reuse a token until it nears expiry. It is replaced only
 * when the certificate's thumbprint changes (rotation). The authority is tenanted and its host is listed
 * in `knownAuthorities`, which makes MSAL build the cloud discovery metadata from the host itself: it
 * never calls the public cloud's instance discovery endpoint, whatever the cloud (msal-common
 * Authority.getCloudDiscoveryMetadataFromConfig). The OpenID configuration is then read from the
 * authority host itself when MSAL has no built-in metadata for it.
 *
 * The client also keeps the last token it got and hands it out until 4 minutes before it expires
 * (MSAL renews 5 minutes before). The reason is the assertion modes: msal-node 7 resolves a
 * `clientAssertion` callback on every acquireTokenByClientCredential call, cache hits included
 * (ClientApplication.buildOauthClientConfiguration), so without this every Graph page would cost a
 * Key Vault signature or a managed identity token. With it, the callback runs only when a new token
 * is requested from Entra.
 */
export class GraphTokenClient {
  readonly #options: GraphTokenClientOptions;
  readonly #authorityHost: string;
  readonly #graphEndpoint: string;
  readonly #scope: string;
  /** The MSAL client, shared with every tenant's view of this client (forTenant). */
  #shared: { msal: MsalApp | undefined };
  #lastToken: { token: string; expiresOn: Date; credentialKey: string } | undefined;

  constructor(options: GraphTokenClientOptions) {
    this.#options = options;
    this.#authorityHost = options.authorityHost.replace(/\/+$/, "");
    this.#graphEndpoint = options.graphEndpoint.replace(/\/+$/, "");
    this.#scope = `${this.#graphEndpoint}/.default`;
    this.#shared = { msal: undefined };
  }

  /** The tenant whose tokens this client requests. */
  get tenantId(): string {
    return this.#options.tenantId;
  }

  /**
   * The same app's tokens for another tenant (multi-tenant mode, docs/tenants.md): one MSAL
   * confidential client and one credential source for every tenant, the authority set per request
   * (`{authority host}/{tenant}`), so MSAL's token cache keeps each tenant's token apart (its key
   * holds the tenant). Only the last token handed out is kept per tenant.
   */
  forTenant(tenantId: string): GraphTokenClient {
    const sibling = new GraphTokenClient({ ...this.#options, tenantId });
    sibling.#shared = this.#shared;
    return sibling;
  }

  /**
   * A Graph token. Every request it needs (Key Vault, the managed identity, Entra's metadata and
   * token endpoint) is bounded (IDENTITY_REQUEST_TIMEOUT_SECONDS, identityRequests.ts) and aborted
   * with `abortSignal`; an endpoint that never answers fails it as identity_endpoint_timeout, naming
   * the endpoint's host.
   */
  async getToken(options: GetTokenOptions = {}): Promise<GraphAccessToken> {
    return runIdentityWait(options.abortSignal, async (wait) => {
      try {
        return await this.#getToken(options);
      } catch (error) {
        const timeout = wait.timeouts[0];
        if (timeout === undefined || isAbortError(error) || isUserSyncError(error, "identity_endpoint_timeout")) throw error;
        throw identityTimeoutError(timeout, `getting a Graph token for tenant ${this.#options.tenantId}`, { authorityHost: this.#authorityHost, vaultUrl: this.#options.vaultUrl });
      }
    });
  }

  async #getToken(options: GetTokenOptions): Promise<GraphAccessToken> {
    const last = this.#lastToken;
    if (!options.forceRefresh && last && last.credentialKey === this.#shared.msal?.credentialKey && last.expiresOn.getTime() - Date.now() > TOKEN_REUSE_MARGIN_IN_MS) {
      // Only while the credential behind it is unchanged: a certificate rotation (keyVaultCertificate) is seen on the next read.
      if (this.#options.assertionProvider || this.#shared.msal === undefined || (await this.#resolve(false, options.abortSignal)).key === last.credentialKey) {
        return { token: last.token, expiresOn: last.expiresOn, fromCache: true };
      }
    }
    const credential = await this.#resolve(false, options.abortSignal);
    try {
      return await this.#acquire(credential, options);
    } catch (error) {
      // Entra rejected the credential. If its source now holds a different one (a certificate or
      // secret rotated since it was cached), use that once before reporting the failure.
      const aadsts = error instanceof UserSyncError ? error.details.aadsts : undefined;
      const rejected = typeof aadsts === "number" && REJECTED_CREDENTIAL_AADSTS.has(aadsts);
      if (rejected && (await this.#refresh(credential, options.abortSignal))) {
        const latest = await this.#resolve(true, options.abortSignal);
        this.#options.logger.warn(`Entra rejected the client credential (AADSTS${String(aadsts)}); Key Vault now holds a different one, retrying with it.`);
        return await this.#acquire(latest, { ...options, forceRefresh: true });
      }
      throw error;
    }
  }

  /** The credential for the next request; `fresh` re-reads its source. */
  async #resolve(fresh: boolean, abortSignal: AbortSignal | undefined): Promise<ResolvedCredential> {
    const source = this.#options;
    const readOptions = { abortSignal, forceRefresh: fresh };
    if (source.certificateProvider) {
      const certificate = await source.certificateProvider.getClientCertificate(readOptions);
      return {
        key: `certificate:${certificate.thumbprintSha256}`,
        auth: {
          clientCertificate: {
            thumbprintSha256: certificate.thumbprintSha256,
            privateKey: certificate.privateKeyPem,
            x5c: certificate.x5c.map(derBase64ToPem).join(""),
          },
        },
        context: { mode: "keyVaultCertificate", thumbprintSha256: certificate.thumbprintSha256 },
      };
    }
    if (source.secretProvider) {
      const secret = await source.secretProvider.getClientSecret(readOptions);
      return {
        key: `secret:${secret.version}`,
        auth: { clientSecret: secret.value.reveal() },
        secretText: secret.value.reveal(),
        context: { mode: "clientSecret", secretDescription: secret.description },
      };
    }
    const provider = source.assertionProvider;
    // MSAL calls this only when it sends a token request: a token served from its cache costs no
    // signature and no managed identity token.
    // MSAL passes the token endpoint of the request's tenant: the assertion's audience.
    // It runs inside the token request's identity wait: the run's abort signal reaches Key Vault and the managed identity.
    const callback = (config: { tokenEndpoint?: string }): Promise<string> => {
      const abortSignal = currentIdentityAbortSignal();
      return provider.getClientAssertion({ ...(config.tokenEndpoint ? { audience: config.tokenEndpoint } : {}), abortSignal });
    };
    const facts = provider.facts();
    return {
      key: "assertion",
      auth: { clientAssertion: callback },
      context: {
        mode: provider.mode,
        ...(facts.thumbprintSha256 ? { thumbprintSha256: facts.thumbprintSha256 } : {}),
      },
    };
  }

  /** Re-reads the credential's source; true when it changed (then one retry is worthwhile). */
  async #refresh(credential: ResolvedCredential, abortSignal: AbortSignal | undefined): Promise<boolean> {
    const { assertionProvider, secretProvider } = this.#options;
    if (assertionProvider) return assertionProvider.refresh ? assertionProvider.refresh({ abortSignal }) : false;
    if (secretProvider && secretProvider.source !== "keyVault") return false;
    const latest = await this.#resolve(true, abortSignal);
    return latest.key !== credential.key;
  }

  async #acquire(credential: ResolvedCredential, options: GetTokenOptions): Promise<GraphAccessToken> {
    const app = this.#appFor(credential);
    const context: TokenErrorContext = {
      tenantId: this.#options.tenantId,
      clientId: this.#options.clientId,
      authorityHost: this.#authorityHost,
      graphEndpoint: this.#graphEndpoint,
      ...(this.#options.consentRedirectUri ? { consentRedirectUri: this.#options.consentRedirectUri } : {}),
      ...credential.context,
    };
    let result;
    try {
      // The authority is set per request: one MSAL client serves every tenant (forTenant).
      const common = { scopes: [this.#scope], skipCache: options.forceRefresh === true, authority: this.#authority() };
      const request = this.#options.azureRegion ? { ...common, azureRegion: this.#options.azureRegion } : common;
      result = await abortable(app.acquireTokenByClientCredential(request), options.abortSignal);
    } catch (error) {
      if (isAbortError(error)) throw error;
      const facts = this.#options.assertionProvider?.facts();
      if (facts?.thumbprintSha256) context.thumbprintSha256 = facts.thumbprintSha256;
      if (facts?.federatedSubject || facts?.federatedIssuer) context.federated = facts;
      throw translateTokenError(error, context);
    }
    if (!result?.accessToken || !result.expiresOn) {
      throw createTokenError("noAccessToken", context);
    }
    this.#lastToken = { token: result.accessToken, expiresOn: result.expiresOn, credentialKey: credential.key };
    return { token: result.accessToken, expiresOn: result.expiresOn, fromCache: result.fromCache };
  }

  #authority(): string {
    return `${this.#authorityHost}/${this.#options.tenantId}`;
  }

  #appFor(credential: ResolvedCredential): ConfidentialClientApplication {
    if (this.#shared.msal && this.#shared.msal.credentialKey === credential.key) return this.#shared.msal.app;
    if (this.#shared.msal) {
      const what = credential.context.thumbprintSha256
        ? `Client certificate changed (SHA-256 thumbprint ${credential.context.thumbprintSha256})`
        : `Client secret changed (${credential.context.secretDescription ?? "new version"})`;
      this.#options.logger.info(`${what}; new MSAL client, its token cache starts empty.`);
    }
    const logger = this.#options.logger;
    const secretText = credential.secretText;
    const configuration: Configuration = {
      auth: {
        clientId: this.#options.clientId,
        // The first tenant's; every request names its own (see #acquire).
        authority: this.#authority(),
        knownAuthorities: [new URL(this.#authorityHost).host],
        ...credential.auth,
      },
      system: {
        // Every request MSAL sends: bounded per attempt, retried twice, aborted with the run.
        networkClient: new IdentityNetworkClient(this.#options.requestTimeoutInMs ?? DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS),
        loggerOptions: {
          // Errors only: MSAL's warnings (e.g. "No client info in response" on every app-only
          // token) are noise here, and its failures reach the caller as errors anyway. PII stays off.
          logLevel: LogLevel.Error,
          piiLoggingEnabled: false,
          loggerCallback: (level, message, containsPii) => {
            if (containsPii || level > LogLevel.Error) return;
            logger.error(`MSAL: ${scrub(message, secretText)}`);
          },
        },
      },
    };
    const app = new ConfidentialClientApplication(configuration);
    this.#shared.msal = { credentialKey: credential.key, app };
    return app;
  }
}

/** A log line with every secret shape (and the client secret itself) removed. */
function scrub(message: string, secretText: string | undefined): string {
  let text = message;
  if (secretText && secretText.length >= 4) text = text.split(secretText).join("[redacted]");
  return redact(text);
}

/** Below this much remaining lifetime the token is requested again (MSAL's own renewal offset is 5 minutes). */
const TOKEN_REUSE_MARGIN_IN_MS = 4 * 60 * 1000;

function derBase64ToPem(derBase64: string): string {
  const lines = derBase64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}
