import { AuthError, ConfidentialClientApplication, LogLevel, type Configuration } from "@azure/msal-node";
import { UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { GraphCredentialMode } from "../configuration/settings.js";
import type { ClientAssertionFacts, ClientAssertionProvider } from "./clientAssertion.js";
import type { ClientCertificate } from "./clientCertificate.js";
import type { GetClientCertificateOptions } from "./clientCertificateProvider.js";
import type { ClientSecret, GetClientSecretOptions } from "./clientSecretProvider.js";
import { adminConsentUrl } from "./consent.js";
import { abortable } from "../shared/abort.js";

export interface GraphAccessToken {
  /** The bearer token. Never log it. */
  token: string;
  expiresOn: Date;
  /** True when MSAL served the token from its in-memory cache. */
  fromCache: boolean;
}

export interface GetTokenOptions {
  /** Skip MSAL's cache and ask Entra for a new token. */
  forceRefresh?: boolean;
  abortSignal?: AbortSignal;
}

export interface GraphTokenClientOptions {
  tenantId: string;
  clientId: string;
  /** e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com, no trailing slash; the token's resource. */
  graphEndpoint: string;
  /**
   * The app's credential: exactly one of these (GRAPH_CREDENTIAL). keyVaultCertificate gives the
   * certificate (private key included) to MSAL; keyVaultSignedAssertion and managedIdentityFederation
   * hand MSAL a `clientAssertion` callback; clientSecret gives it the secret.
   */
  certificateProvider?: { getClientCertificate(options?: GetClientCertificateOptions): Promise<ClientCertificate> };
  assertionProvider?: ClientAssertionProvider;
  secretProvider?: { readonly source: "keyVault" | "environment"; getClientSecret(options?: GetClientSecretOptions): Promise<ClientSecret> };
  /** Regional token service (e.g. "westeurope"), passed to MSAL as-is. */
  azureRegion?: string;
  logger: Logger;
}

/** What the token error translation needs to know to tell an operator what to fix. */
export interface TokenErrorContext {
  tenantId: string;
  clientId: string;
  authorityHost: string;
  graphEndpoint: string;
  /** Defaults to keyVaultCertificate. */
  mode?: GraphCredentialMode;
  thumbprintSha256?: string;
  /** clientSecret: where the secret came from, e.g. `Key Vault secret "x" version y`. */
  secretDescription?: string;
  /** managedIdentityFederation: what the managed identity token said. */
  federated?: Pick<ClientAssertionFacts, "federatedIssuer" | "federatedSubject" | "federatedAudience">;
}

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
  #msal: MsalApp | undefined;
  #lastToken: { token: string; expiresOn: Date; credentialKey: string } | undefined;

  constructor(options: GraphTokenClientOptions) {
    this.#options = options;
    this.#authorityHost = options.authorityHost.replace(/\/+$/, "");
    this.#graphEndpoint = options.graphEndpoint.replace(/\/+$/, "");
    this.#scope = `${this.#graphEndpoint}/.default`;
  }

  async getToken(options: GetTokenOptions = {}): Promise<GraphAccessToken> {
    const last = this.#lastToken;
    if (!options.forceRefresh && last && last.credentialKey === this.#msal?.credentialKey && last.expiresOn.getTime() - Date.now() > TOKEN_REUSE_MARGIN_IN_MS) {
      // Only while the credential behind it is unchanged: a certificate rotation (keyVaultCertificate) is seen on the next read.
      if (this.#options.assertionProvider || this.#msal === undefined || (await this.#resolve(false, options.abortSignal)).key === last.credentialKey) {
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
      const rejected = aadsts === 700027 || aadsts === 7000215 || aadsts === 7000222;
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
    const { certificateProvider, assertionProvider, secretProvider } = this.#options;
    const given = [certificateProvider, assertionProvider, secretProvider].filter((p) => p !== undefined).length;
    if (given !== 1) throw new Error("GraphTokenClient needs exactly one of certificateProvider, assertionProvider or secretProvider.");
    const readOptions = { ...abortOnly(abortSignal), ...(fresh ? { forceRefresh: true } : {}) };
    if (certificateProvider) {
      const certificate = await certificateProvider.getClientCertificate(readOptions);
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
    if (secretProvider) {
      const secret = await secretProvider.getClientSecret(readOptions);
      return {
        key: `secret:${secret.version}`,
        auth: { clientSecret: secret.value.reveal() },
        secretText: secret.value.reveal(),
        context: { mode: "clientSecret", secretDescription: secret.description },
      };
    }
    const provider = assertionProvider!;
    // MSAL calls this only when it sends a token request: a token served from its cache costs no
    // signature and no managed identity token.
    const callback = (): Promise<string> => provider.getClientAssertion();
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
    const { certificateProvider, assertionProvider, secretProvider } = this.#options;
    if (assertionProvider) return assertionProvider.refresh ? assertionProvider.refresh(abortOnly(abortSignal)) : false;
    if (secretProvider && secretProvider.source !== "keyVault") return false;
    if (!certificateProvider && !secretProvider) return false;
    const latest = await this.#resolve(true, abortSignal);
    return latest.key !== credential.key;
  }

  async #acquire(credential: ResolvedCredential, options: GetTokenOptions): Promise<GraphAccessToken> {
    const app = this.#appFor(credential);
    let result;
    try {
      const request = this.#options.azureRegion
        ? { scopes: [this.#scope], skipCache: options.forceRefresh === true, azureRegion: this.#options.azureRegion }
        : { scopes: [this.#scope], skipCache: options.forceRefresh === true };
      result = await abortable(app.acquireTokenByClientCredential(request), options.abortSignal);
    } catch (error) {
      if (error instanceof Error && error.name === "AbortError") throw error;
      const context: TokenErrorContext = {
        tenantId: this.#options.tenantId,
        clientId: this.#options.clientId,
        authorityHost: this.#authorityHost,
        graphEndpoint: this.#graphEndpoint,
        ...credential.context,
      };
      const facts = this.#options.assertionProvider?.facts();
      if (facts?.thumbprintSha256) context.thumbprintSha256 = facts.thumbprintSha256;
      if (facts?.federatedSubject || facts?.federatedIssuer) context.federated = facts;
      throw translateTokenError(error, context);
    }
    if (!result?.accessToken || !result.expiresOn) {
      throw new UserSyncError("token_request_failed", `The token endpoint at ${this.#authorityHost} returned no access token for ${this.#scope}.`, {
        details: { thumbprintSha256: credential.context.thumbprintSha256 },
      });
    }
    this.#lastToken = { token: result.accessToken, expiresOn: result.expiresOn, credentialKey: credential.key };
    return { token: result.accessToken, expiresOn: result.expiresOn, fromCache: result.fromCache };
  }

  #appFor(credential: ResolvedCredential): ConfidentialClientApplication {
    if (this.#msal && this.#msal.credentialKey === credential.key) return this.#msal.app;
    if (this.#msal) {
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
        authority: `${this.#authorityHost}/${this.#options.tenantId}`,
        knownAuthorities: [new URL(this.#authorityHost).host],
        ...credential.auth,
      },
      system: {
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
    this.#msal = { credentialKey: credential.key, app };
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

function abortOnly(abortSignal: AbortSignal | undefined): GetClientCertificateOptions {
  return abortSignal ? { abortSignal } : {};
}

const NETWORK_ERROR_CODES = new Set(["network_error", "endpoints_resolution_error", "openid_config_error", "untrusted_authority"]);
const CLOUD_SETTINGS = "GRAPH_CLOUD (AzurePublic, AzureChina, AzureUSGovernment, AzureUSGovernmentDoD) or GRAPH_AUTHORITY_HOST";

/** Turns an msal-node failure into a UserSyncError that says what to fix. Never includes the token or key. */
export function translateTokenError(error: unknown, context: TokenErrorContext): UserSyncError {
  if (error instanceof UserSyncError) return error;
  const host = safeHost(context.authorityHost);
  const scope = `${context.graphEndpoint}/.default`;

  if (!(error instanceof AuthError)) {
    return new UserSyncError("token_request_failed", `Requesting a Graph token from ${host} failed: ${describe(error)}.`, {
      cause: error,
      details: { thumbprintSha256: context.thumbprintSha256 },
    });
  }

  if (NETWORK_ERROR_CODES.has(error.errorCode)) {
    return new UserSyncError(
      "token_endpoint_unreachable",
      `Could not reach the Microsoft Entra token endpoint at ${host} (${error.errorCode}). ` +
        `Check ${CLOUD_SETTINGS}, DNS, and that outbound HTTPS to ${host} is allowed from this function's network. Details: ${describe(error)}`,
      { cause: error, details: { msalErrorCode: error.errorCode, authorityHost: context.authorityHost, correlationId: error.correlationId || undefined } },
    );
  }

  const aadsts = aadstsCode(error);
  const correlationId = serverCorrelationId(error);
  const details = {
    aadsts,
    msalErrorCode: error.errorCode,
    correlationId,
    thumbprintSha256: context.thumbprintSha256,
  };
  const reference = `${aadsts ? `AADSTS${aadsts}` : error.errorCode}${correlationId ? `, correlation ID ${correlationId}` : ""}`;
  const fix = fixFor(aadsts, context, scope, host);
  const message = fix
    ? `Microsoft Entra refused the Graph token request (${reference}): ${fix}`
    : `Microsoft Entra refused the Graph token request (${reference}): ${describe(error)}. Look the code up at https://login.microsoftonline.com/error?code=${aadsts ?? ""} and quote the correlation ID to Microsoft support.`;
  return new UserSyncError("token_request_failed", message, { cause: error, details });
}

function fixFor(aadsts: number | undefined, context: TokenErrorContext, scope: string, host: string): string | undefined {
  const app = `app registration ${context.clientId}`;
  switch (aadsts) {
    case 70021:
    case 700211:
    case 700212:
    case 700213:
      return federatedFix(context);
    case 700027:
    case 700023:
      if (context.mode === "managedIdentityFederation") return federatedFix(context);
      return (
        `the client certificate (SHA-256 thumbprint ${context.thumbprintSha256 ?? "unknown"}) is not registered on ${app}, or its signature did not verify. ` +
        "Upload the certificate's public part (.cer) from Key Vault to the app registration under Certificates & secrets (or its keyCredentials), " +
        "check that KEY_VAULT_CERTIFICATE_NAME names the certificate that is registered, and after a rotation register the new version too."
      );
    case 700016:
      return (
        `application ${context.clientId} was not found in tenant ${context.tenantId}. Check GRAPH_CLIENT_ID (the application (client) ID, not the object ID) and GRAPH_TENANT_ID, ` +
        `and that ${CLOUD_SETTINGS} is the cloud where the app is registered. A multi-tenant app must first be consented in this tenant: ${adminConsentUrl(context.authorityHost, context.tenantId, context.clientId)}`
      );
    case 90002:
      return `tenant ${context.tenantId} was not found at ${host}. Check GRAPH_TENANT_ID, and that ${CLOUD_SETTINGS} matches the tenant's cloud (a US Government or China tenant is not visible from the public cloud).`;
    case 70011:
    case 1002012:
      return `the scope "${scope}" is not valid. GRAPH_ENDPOINT must be the Microsoft Graph host of the tenant's cloud without a path (e.g. https://graph.microsoft.com); leave it unset to use GRAPH_CLOUD's default.`;
    case 500011:
      return `the resource ${context.graphEndpoint} does not exist in tenant ${context.tenantId}. GRAPH_ENDPOINT must be the Microsoft Graph host of the tenant's cloud; leave it unset to use GRAPH_CLOUD's default.`;
    case 50013:
      return `the client assertion was rejected as invalid (signature, audience or lifetime). Check this machine's clock, and that ${CLOUD_SETTINGS} points at the real token service of the tenant's cloud.`;
    case 700024:
      return "the client assertion is outside its valid time range. Check this machine's clock (it must be within a few minutes of UTC).";
    case 7000215:
      if (context.mode === "clientSecret") {
        return (
          `the client secret from ${context.secretDescription ?? "the configuration"} is not a valid secret of ${app}. ` +
          "Store the secret's Value (not its Secret ID) shown when it was created under Certificates & secrets; if it was deleted or replaced, create a new client secret and save it as a new version of the Key Vault secret (KEY_VAULT_SECRET_NAME)."
        );
      }
      return `Entra expected a client secret for ${app}, but this function authenticates with ${context.mode === "managedIdentityFederation" ? "a federated credential" : "a certificate"}. Check that GRAPH_CLIENT_ID is the app whose credential is configured (GRAPH_CREDENTIAL).`;
    case 7000222:
      return `the client secret from ${context.secretDescription ?? "the configuration"} has expired on ${app}. Create a new client secret under Certificates & secrets and save it as a new version of the Key Vault secret (KEY_VAULT_SECRET_NAME).`;
    case 7000112:
      return `${app} is disabled in tenant ${context.tenantId}. An administrator must enable its enterprise application (Enabled for users to sign in: Yes).`;
    default:
      return undefined;
  }
}

function federatedFix(context: TokenErrorContext): string {
  const federated = context.federated ?? {};
  const issuer = federated.federatedIssuer ?? `${context.authorityHost.replace(/\/+$/, "")}/${context.tenantId}/v2.0`;
  const subject = federated.federatedSubject ?? "<the managed identity's principal (object) ID>";
  const audience = federated.federatedAudience ?? "api://AzureADTokenExchange";
  return (
    `app registration ${context.clientId} has no federated identity credential that matches the managed identity's token. ` +
    `Add one under Certificates & secrets > Federated credentials (scenario "Managed identity", or the Bicep parameter graphCredential = 'managedIdentityFederation') with ` +
    `issuer ${issuer}, subject ${subject} (the identity's principal/object ID, not its client ID) and audience ${audience}. ` +
    "Check that AZURE_CLIENT_ID names that same identity, and allow a few minutes for a new credential to apply."
  );
}

function aadstsCode(error: AuthError): number | undefined {
  const errorNo = (error as AuthError & { errorNo?: string | number }).errorNo;
  if (errorNo !== undefined && errorNo !== "" && Number.isFinite(Number(errorNo))) return Number(errorNo);
  const match = /AADSTS(\d+)/.exec(error.errorMessage || error.message);
  return match ? Number(match[1]) : undefined;
}

/** The correlation ID Entra reported (in MSAL's errorMessage), else the one MSAL sent with the request. */
function serverCorrelationId(error: AuthError): string | undefined {
  const reported = /Correlation ID: ([0-9a-fA-F-]{8,})/.exec(error.errorMessage || "");
  return reported?.[1] ?? (error.correlationId || undefined);
}

function describe(error: unknown): string {
  let message: string;
  if (error instanceof AuthError) {
    // errorMessage looks like "Error(s): 700027 - Timestamp: ... - Description: AADSTS700027: ... - Correlation ID: ... - Trace ID: ..."
    const description = /Description: ([\s\S]*?)(?: - Correlation ID:|$)/.exec(error.errorMessage);
    message = description?.[1] ?? (error.errorMessage || error.message);
  } else {
    message = error instanceof Error ? error.message : String(error);
  }
  const oneLine = message.replace(/\s+/g, " ").trim();
  return redact(oneLine.length > 400 ? `${oneLine.slice(0, 400)}…` : oneLine);
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
