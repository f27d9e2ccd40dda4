/**
 * Graph token failures: what went wrong (`TokenFailure`), the product's error code and message of
 * each, the fix for every AADSTS code an operator can act on (`AadstsFixes`), one factory
 * (`createTokenError`) and the translator from an msal-node failure (`translateTokenError`).
 * Messages never include the token, the client secret or a private key.
 */
import { AuthError } from "@azure/msal-node";
import type { GraphCredentialMode } from "../configuration/settings.js";
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import type { ClientAssertionFacts } from "./clientAssertion.js";
import { adminConsentUrl } from "./consent.js";

/** What the token error translation needs to know to tell an operator what to fix. */
export interface TokenErrorContext {
  tenantId: string;
  clientId: string;
  authorityHost: string;
  graphEndpoint: string;
  /** The redirect URI of the admin-consent URL (the configured cloud's, src/credentials/consent.ts); the product always sets it. */
  consentRedirectUri?: string;
  /** Defaults to keyVaultCertificate. */
  mode?: GraphCredentialMode;
  thumbprintSha256?: string;
  /** clientSecret: where the secret came from, e.g. `Key Vault secret "x" version y`. */
  secretDescription?: string;
  /** managedIdentityFederation: what the managed identity token said. */
  federated?: Pick<ClientAssertionFacts, "federatedIssuer" | "federatedSubject" | "federatedAudience">;
}

/** What went wrong asking Entra for a Graph token. */
export type TokenFailure = "unreachable" | "refused" | "failed" | "noAccessToken";

/** The facts a message may name (none of them secret). */
export interface TokenFailureFacts {
  /** The failure's own words, one line, redacted. */
  said?: string;
  /** `AADSTS700027, correlation ID …`, or MSAL's error code. */
  reference?: string;
  /** The fix for the AADSTS code, when one is known. */
  fix?: string;
  aadsts?: number;
  msalErrorCode?: string;
}

const CLOUD_SETTINGS = "GRAPH_CLOUD (AzurePublic, AzureChina, AzureUSGovernment, AzureUSGovernmentDoD) or GRAPH_AUTHORITY_HOST";

const host = (c: TokenErrorContext): string => safeHost(c.authorityHost);
const scope = (c: TokenErrorContext): string => `${c.graphEndpoint}/.default`;

/** Each failure's code and message. */
export const TokenFailures: Record<TokenFailure, { code: UserSyncErrorCode; message: (context: TokenErrorContext, facts: TokenFailureFacts) => string }> = {
  unreachable: {
    code: "token_endpoint_unreachable",
    message: (c, f) =>
      `Could not reach the Microsoft Entra token endpoint at ${host(c)} (${f.msalErrorCode ?? "network error"}). ` +
      `Check ${CLOUD_SETTINGS}, DNS, and that outbound HTTPS to ${host(c)} is allowed from this function's network. Details: ${f.said ?? ""}`,
  },
  refused: {
    code: "token_request_failed",
    message: (_c, f) =>
      f.fix
        ? `Microsoft Entra refused the Graph token request (${f.reference ?? ""}): ${f.fix}`
        : `Microsoft Entra refused the Graph token request (${f.reference ?? ""}): ${f.said ?? ""}. Look the code up at https://login.microsoftonline.com/error?code=${f.aadsts ?? ""} and quote the correlation ID to Microsoft support.`,
  },
  failed: {
    code: "token_request_failed",
    message: (c, f) => `Requesting a Graph token from ${host(c)} failed: ${f.said ?? ""}.`,
  },
  noAccessToken: {
    code: "token_request_failed",
    message: (c) => `The token endpoint at ${c.authorityHost} returned no access token for ${scope(c)}.`,
  },
};

export function createTokenError(failure: TokenFailure, context: TokenErrorContext, facts: TokenFailureFacts = {}, options: { cause?: unknown; details?: UserSyncError["details"] } = {}): UserSyncError {
  const { code, message } = TokenFailures[failure];
  return new UserSyncError(code, message(context, facts), { cause: options.cause, details: options.details ?? { thumbprintSha256: context.thumbprintSha256 } });
}

const app = (c: TokenErrorContext): string => `app registration ${c.clientId}`;

function federatedFix(c: TokenErrorContext): string {
  const federated = c.federated ?? {};
  const issuer = federated.federatedIssuer ?? `${c.authorityHost.replace(/\/+$/, "")}/${c.tenantId}/v2.0`;
  const subject = federated.federatedSubject ?? "<the managed identity's principal (object) ID>";
  const audience = federated.federatedAudience ?? "api://AzureADTokenExchange";
  return (
    `${app(c)} has no federated identity credential that matches the managed identity's token. ` +
    "Add one to the app registration in its home tenant (the managed identity's tenant; for a multi-tenant app that one credential serves every tenant that consented) " +
    `under Certificates & secrets > Federated credentials (scenario "Managed identity", or the Bicep parameter graphCredential = 'managedIdentityFederation') with ` +
    `issuer ${issuer}, subject ${subject} (the identity's principal/object ID, not its client ID) and audience ${audience}. ` +
    "Check that AZURE_CLIENT_ID names that same identity, and allow a few minutes for a new credential to apply."
  );
}

function certificateNotRegistered(c: TokenErrorContext): string {
  if (c.mode === "managedIdentityFederation") return federatedFix(c);
  return (
    `the client certificate (SHA-256 thumbprint ${c.thumbprintSha256 ?? "unknown"}) is not registered on ${app(c)}, or its signature did not verify. ` +
    "Upload the certificate's public part (.cer) from Key Vault to the app registration under Certificates & secrets (or its keyCredentials), " +
    "check that KEY_VAULT_CERTIFICATE_NAME names the certificate that is registered, and after a rotation register the new version too."
  );
}

const invalidScope = (c: TokenErrorContext): string =>
  `the scope "${scope(c)}" is not valid. GRAPH_ENDPOINT must be the Microsoft Graph host of the tenant's cloud without a path (e.g. https://graph.microsoft.com); leave it unset to use GRAPH_CLOUD's default.`;

/** The fix for each AADSTS code an operator can act on; other codes get a pointer to Entra's error lookup. */
export const AadstsFixes: Readonly<Record<number, (context: TokenErrorContext) => string>> = {
  70021: federatedFix,
  700211: federatedFix,
  700212: federatedFix,
  700213: federatedFix,
  700236: (c) =>
    `Entra does not accept the managed identity's token${c.federated?.federatedIssuer ? ` (issuer ${c.federated.federatedIssuer})` : ""} for ${app(c)}: a federated credential may only trust a managed identity of the app's own tenant. ` +
    "Use an app registered in the managed identity's tenant (for many tenants: one multi-tenant app there, with the federated credential on it, consented by each customer's administrator) and set GRAPH_CLIENT_ID to it; " +
    "do not add federated credentials to apps in the customers' tenants.",
  700027: certificateNotRegistered,
  700023: certificateNotRegistered,
  700016: (c) =>
    `application ${c.clientId} was not found in tenant ${c.tenantId}. Check GRAPH_CLIENT_ID (the application (client) ID, not the object ID) and GRAPH_TENANT_ID, ` +
    `and that ${CLOUD_SETTINGS} is the cloud where the app is registered. A multi-tenant app must first be consented in this tenant: ${adminConsentUrl(c.authorityHost, c.tenantId, c.clientId, c.consentRedirectUri)}`,
  7000229: (c) =>
    `${app(c)} has no service principal in tenant ${c.tenantId}: no administrator of that tenant has consented to it yet. ` +
    `An administrator of tenant ${c.tenantId} must open ${adminConsentUrl(c.authorityHost, c.tenantId, c.clientId, c.consentRedirectUri)} and accept (this creates the service principal and grants User.Read.All).`,
  90002: (c) =>
    `tenant ${c.tenantId} was not found at ${host(c)}. Check GRAPH_TENANT_ID, and that ${CLOUD_SETTINGS} matches the tenant's cloud (a US Government or China tenant is not visible from the public cloud).`,
  70011: invalidScope,
  1002012: invalidScope,
  500011: (c) =>
    `the resource ${c.graphEndpoint} does not exist in tenant ${c.tenantId}. GRAPH_ENDPOINT must be the Microsoft Graph host of the tenant's cloud; leave it unset to use GRAPH_CLOUD's default.`,
  50013: () =>
    `the client assertion was rejected as invalid (signature, audience or lifetime). Check this machine's clock, and that ${CLOUD_SETTINGS} points at the real token service of the tenant's cloud.`,
  700024: () => "the client assertion is outside its valid time range. Check this machine's clock (it must be within a few minutes of UTC).",
  7000215: (c) =>
    c.mode === "clientSecret"
      ? `the client secret from ${c.secretDescription ?? "the configuration"} is not a valid secret of ${app(c)}. ` +
        "Store the secret's Value (not its Secret ID) shown when it was created under Certificates & secrets; if it was deleted or replaced, create a new client secret and save it as a new version of the Key Vault secret (KEY_VAULT_SECRET_NAME)."
      : `Entra expected a client secret for ${app(c)}, but this function authenticates with ${c.mode === "managedIdentityFederation" ? "a federated credential" : "a certificate"}. Check that GRAPH_CLIENT_ID is the app whose credential is configured (GRAPH_CREDENTIAL).`,
  7000222: (c) =>
    `the client secret from ${c.secretDescription ?? "the configuration"} has expired on ${app(c)}. Create a new client secret under Certificates & secrets and save it as a new version of the Key Vault secret (KEY_VAULT_SECRET_NAME).`,
  7000112: (c) => `${app(c)} is disabled in tenant ${c.tenantId}. An administrator must enable its enterprise application (Enabled for users to sign in: Yes).`,
};

/** The AADSTS codes that mean Entra rejected the client credential itself (worth re-reading it once). */
export const REJECTED_CREDENTIAL_AADSTS: ReadonlySet<number> = new Set([700027, 7000215, 7000222]);

const NETWORK_ERROR_CODES = new Set(["network_error", "endpoints_resolution_error", "openid_config_error", "untrusted_authority"]);

/** Turns an msal-node failure into a UserSyncError that says what to fix. Never includes the token or key. */
export function translateTokenError(error: unknown, context: TokenErrorContext): UserSyncError {
  if (error instanceof UserSyncError) return error;
  if (!(error instanceof AuthError)) return createTokenError("failed", context, { said: describe(error) }, { cause: error });

  if (NETWORK_ERROR_CODES.has(error.errorCode)) {
    return createTokenError(
      "unreachable",
      context,
      { msalErrorCode: error.errorCode, said: describe(error) },
      { cause: error, details: { msalErrorCode: error.errorCode, authorityHost: context.authorityHost, correlationId: error.correlationId || undefined } },
    );
  }

  const aadsts = aadstsCode(error);
  const correlationId = serverCorrelationId(error);
  const reference = `${aadsts ? `AADSTS${aadsts}` : error.errorCode}${correlationId ? `, correlation ID ${correlationId}` : ""}`;
  const fix = aadsts === undefined ? undefined : AadstsFixes[aadsts]?.(context);
  return createTokenError(
    "refused",
    context,
    { reference, said: describe(error), fix, aadsts },
    { cause: error, details: { aadsts, msalErrorCode: error.errorCode, correlationId, thumbprintSha256: context.thumbprintSha256 } },
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
