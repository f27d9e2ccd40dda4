import { AuthError, ConfidentialClientApplication, LogLevel, type Configuration } from "@azure/msal-node";
import { UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { ClientCertificate } from "./clientCertificate.js";
import type { GetClientCertificateOptions } from "./clientCertificateProvider.js";
import { adminConsentUrl } from "./consent.js";

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
  certificateProvider: { getClientCertificate(options?: GetClientCertificateOptions): Promise<ClientCertificate> };
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
  thumbprintSha256?: string;
}

interface MsalApp {
  thumbprintSha256: string;
  app: ConfidentialClientApplication;
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
 */
export class GraphTokenClient {
  readonly #options: GraphTokenClientOptions;
  readonly #authorityHost: string;
  readonly #graphEndpoint: string;
  readonly #scope: string;
  #msal: MsalApp | undefined;

  constructor(options: GraphTokenClientOptions) {
    this.#options = options;
    this.#authorityHost = options.authorityHost.replace(/\/+$/, "");
    this.#graphEndpoint = options.graphEndpoint.replace(/\/+$/, "");
    this.#scope = `${this.#graphEndpoint}/.default`;
  }

  async getToken(options: GetTokenOptions = {}): Promise<GraphAccessToken> {
    const certificate = await this.#options.certificateProvider.getClientCertificate(abortOnly(options.abortSignal));
    try {
      return await this.#acquire(certificate, options);
    } catch (error) {
      // Entra rejected this certificate. If Key Vault now holds a different one (rotated since we
      // cached it), use that once before reporting the failure.
      if (error instanceof UserSyncError && error.details.aadsts === 700027) {
        const latest = await this.#options.certificateProvider.getClientCertificate({ ...abortOnly(options.abortSignal), forceRefresh: true });
        if (latest.thumbprintSha256 !== certificate.thumbprintSha256) {
          this.#options.logger.warn(
            `Entra rejected certificate ${certificate.thumbprintSha256}; Key Vault now holds ${latest.thumbprintSha256}, retrying with it.`,
          );
          return await this.#acquire(latest, options);
        }
      }
      throw error;
    }
  }

  async #acquire(certificate: ClientCertificate, options: GetTokenOptions): Promise<GraphAccessToken> {
    const app = this.#appFor(certificate);
    let result;
    try {
      const request = this.#options.azureRegion
        ? { scopes: [this.#scope], skipCache: options.forceRefresh === true, azureRegion: this.#options.azureRegion }
        : { scopes: [this.#scope], skipCache: options.forceRefresh === true };
      result = await abortable(app.acquireTokenByClientCredential(request), options.abortSignal);
    } catch (error) {
      if (error instanceof Error && error.name === "AbortError") throw error;
      throw translateTokenError(error, {
        tenantId: this.#options.tenantId,
        clientId: this.#options.clientId,
        authorityHost: this.#authorityHost,
        graphEndpoint: this.#graphEndpoint,
        thumbprintSha256: certificate.thumbprintSha256,
      });
    }
    if (!result?.accessToken || !result.expiresOn) {
      throw new UserSyncError("token_request_failed", `The token endpoint at ${this.#authorityHost} returned no access token for ${this.#scope}.`, {
        details: { thumbprintSha256: certificate.thumbprintSha256 },
      });
    }
    return { token: result.accessToken, expiresOn: result.expiresOn, fromCache: result.fromCache };
  }

  #appFor(certificate: ClientCertificate): ConfidentialClientApplication {
    if (this.#msal && this.#msal.thumbprintSha256 === certificate.thumbprintSha256) return this.#msal.app;
    if (this.#msal) {
      this.#options.logger.info(`Client certificate changed (SHA-256 thumbprint ${certificate.thumbprintSha256}); new MSAL client, its token cache starts empty.`);
    }
    const logger = this.#options.logger;
    const configuration: Configuration = {
      auth: {
        clientId: this.#options.clientId,
        authority: `${this.#authorityHost}/${this.#options.tenantId}`,
        knownAuthorities: [new URL(this.#authorityHost).host],
        clientCertificate: {
          thumbprintSha256: certificate.thumbprintSha256,
          privateKey: certificate.privateKeyPem,
          x5c: certificate.x5c.map(derBase64ToPem).join(""),
        },
      },
      system: {
        loggerOptions: {
          logLevel: LogLevel.Warning,
          piiLoggingEnabled: false,
          loggerCallback: (level, message, containsPii) => {
            if (containsPii || level > LogLevel.Warning) return;
            const line = `MSAL: ${redact(message)}`;
            if (level === LogLevel.Error) logger.error(line);
            else logger.warn(line);
          },
        },
      },
    };
    const app = new ConfidentialClientApplication(configuration);
    this.#msal = { thumbprintSha256: certificate.thumbprintSha256, app };
    return app;
  }
}

function derBase64ToPem(derBase64: string): string {
  const lines = derBase64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

function abortOnly(abortSignal: AbortSignal | undefined): GetClientCertificateOptions {
  return abortSignal ? { abortSignal } : {};
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function abortError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
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
    case 700027:
    case 700023:
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
      return `Entra expected a client secret for ${app}, but this function authenticates with a certificate. Check that GRAPH_CLIENT_ID is the app that has the Key Vault certificate registered.`;
    case 7000112:
      return `${app} is disabled in tenant ${context.tenantId}. An administrator must enable its enterprise application (Enabled for users to sign in: Yes).`;
    default:
      return undefined;
  }
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
