/**
 * The simulated Microsoft Entra token service: OpenID metadata, signing keys, and the v2.0 token
 * endpoint for the client-credentials grant with a certificate-signed client assertion, verified
 * the way Entra verifies it. Errors use Entra's JSON shape and AADSTS codes.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { compactVerify, decodeProtectedHeader, importX509 } from "jose";
import { jsonResponse, type Route, type SimulatedRequest, type SimulatedResponse } from "./http.js";
import { isThisTenant, type TenantState } from "./state.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ACCESS_TOKEN_LIFETIME_IN_SECONDS = 3599;
const CLOCK_SKEW_IN_SECONDS = 300;
/** Client assertions living longer than this are refused (MSAL makes 10-minute ones). */
export const MAX_CLIENT_ASSERTION_LIFETIME_IN_SECONDS = 3600;

interface EntraFailure {
  status: number;
  error: string;
  code: number;
  description: string;
}

function entraTimestamp(date = new Date()): string {
  return date.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

export function entraErrorResponse(state: TenantState, request: SimulatedRequest, failure: EntraFailure): SimulatedResponse {
  const correlationId = headerValue(request, "client-request-id") ?? randomUUID();
  const timestamp = entraTimestamp();
  return jsonResponse(failure.status, {
    error: failure.error,
    error_description: `AADSTS${failure.code}: ${failure.description} Trace ID: ${request.requestId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: request.requestId,
    correlation_id: correlationId,
    error_uri: `${state.authorityHost}/error?code=${failure.code}`,
  });
}

function headerValue(request: SimulatedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function tenantNotFound(segment: string): EntraFailure {
  return {
    status: 400,
    error: "invalid_request",
    code: 90002,
    description: `Tenant '${segment}' not found. Check that the tenant ID or domain is right and that you are signing in to the right cloud.`,
  };
}

function metadata(state: TenantState): Record<string, unknown> {
  const base = `${state.authorityHost}/${state.tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: state.tokens.issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${state.graphEndpoint}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid", "roles"],
    tenant_region_scope: "NA",
    cloud_instance_name: new URL(state.cloud.authorityHost).hostname.replace(/^login\./, ""),
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: new URL(state.cloud.graphEndpoint).hostname,
    rbac_url: "https://pas.windows.net",
  };
}

function thumbprintHex(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  return Buffer.from(value, "base64url").toString("hex");
}

/** Verifies a client assertion as Entra does; returns the failure, or undefined when it is good. */
export async function verifyClientAssertion(
  state: TenantState,
  assertion: string,
  clientId: string,
  acceptedAudiences: readonly string[],
): Promise<EntraFailure | undefined> {
  const invalidClient = (code: number, description: string): EntraFailure => ({ status: 401, error: "invalid_client", code, description });
  const malformed: EntraFailure = { status: 400, error: "invalid_request", code: 50027, description: "JWT token is invalid or malformed." };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return malformed;
  }
  const alg = header.alg;
  if (alg !== "RS256" && alg !== "PS256") {
    return invalidClient(700027, `Client assertion uses the signing algorithm '${String(alg)}'; use PS256 (with x5t#S256) or RS256.`);
  }
  const sha256 = thumbprintHex(header["x5t#S256"]);
  const sha1 = thumbprintHex(header.x5t);
  if (sha256 === undefined && sha1 === undefined) {
    return invalidClient(700027, "Client assertion has no x5t#S256 or x5t header, so the key that signed it cannot be identified.");
  }
  const registered = state.app.certificates.find(
    (c) => (sha256 !== undefined && c.thumbprintSha256Hex === sha256) || (sha256 === undefined && sha1 !== undefined && c.thumbprintSha1Hex === sha1),
  );
  if (registered === undefined) {
    return invalidClient(
      700027,
      `The certificate used to sign the client assertion is not registered on application '${clientId}'. [Reason - The key was not found., Thumbprint of key used by client: '${(sha256 ?? sha1 ?? "").toUpperCase()}']`,
    );
  }
  let payloadBytes: Uint8Array;
  try {
    const key = await importX509(registered.certificatePem, alg);
    ({ payload: payloadBytes } = await compactVerify(assertion, key, { algorithms: [alg] }));
  } catch {
    return invalidClient(700027, "Client assertion failed signature validation. [Reason - The key used to sign it does not match the registered certificate.]");
  }
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(payloadBytes).toString("utf8")) as Record<string, unknown>;
  } catch {
    return malformed;
  }
  const invalidAssertion = (description: string): EntraFailure => ({ status: 400, error: "invalid_request", code: 50013, description });
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === "string" && acceptedAudiences.includes(a))) {
    return invalidAssertion(`Assertion audience claim does not match the required value. Expected the token endpoint '${acceptedAudiences[0]}'.`);
  }
  if (typeof claims.iss !== "string" || typeof claims.sub !== "string" || claims.iss !== claims.sub) {
    return invalidAssertion("Assertion issuer (iss) and subject (sub) must both be the client id.");
  }
  if (claims.sub.toLowerCase() !== clientId.toLowerCase()) {
    return {
      status: 400,
      error: "unauthorized_client",
      code: 700016,
      description: `Application with identifier '${claims.sub}' was not found in the directory '${state.tenantId}'. The assertion's subject must be the client id '${clientId}'.`,
    };
  }
  if (typeof claims.jti !== "string" || claims.jti === "") return invalidAssertion("Assertion has no jti claim.");
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== "number") return invalidAssertion("Assertion has no exp claim.");
  if (claims.exp + CLOCK_SKEW_IN_SECONDS < now) {
    return { status: 400, error: "invalid_client", code: 700024, description: "Client assertion is not within its valid time range: it has expired." };
  }
  if (claims.exp > now + MAX_CLIENT_ASSERTION_LIFETIME_IN_SECONDS + CLOCK_SKEW_IN_SECONDS) {
    return { status: 400, error: "invalid_client", code: 700024, description: "Client assertion is not within its valid time range: its expiry is too far in the future." };
  }
  if (typeof claims.nbf === "number" && claims.nbf - CLOCK_SKEW_IN_SECONDS > now) {
    return { status: 400, error: "invalid_client", code: 700024, description: "Client assertion is not within its valid time range: it is not valid yet (nbf)." };
  }
  return undefined;
}

/**
 * The token service whose tokens the app's federated identity credentials trust by default: the
 * app's home tenant's (where its managed identity lives), in the home tenant and in every customer
 * tenant alike.
 */
function federationTokens(state: TenantState) {
  return state.homeTokens ?? state.tokens;
}

/**
 * Verifies a federated client assertion (workload identity federation) as Entra does: a token the
 * app's home tenant's token service issued (here: a managed identity token), matched against the
 * app's federated identity credentials by issuer, subject and audience. A customer tenant where the
 * app has a service principal accepts it exactly as the home tenant does.
 */
export async function verifyFederatedAssertion(state: TenantState, assertion: string): Promise<EntraFailure | undefined> {
  const credentials = state.app.federatedIdentityCredentials ?? [];
  const invalidClient = (code: number, description: string): EntraFailure => ({ status: 400, error: "invalid_client", code, description });
  const audiences = credentials.flatMap((c) => c.audiences);
  const tokens = federationTokens(state);
  const verification = await tokens.verify(assertion, audiences.length > 0 ? audiences : ["(no federated identity credential)"]);
  let claims: Record<string, unknown>;
  if (verification.ok) {
    claims = verification.claims;
  } else if (verification.problem === "audience") {
    const payload = decodeUnverified(assertion);
    return invalidClient(
      700212,
      `No matching federated identity record found for presented assertion audience '${String(payload?.aud ?? "")}'. Please check your federated identity credential Audience configuration.`,
    );
  } else if (verification.problem === "expired" || verification.problem === "not_yet_valid") {
    return invalidClient(700024, "Client assertion is not within its valid time range.");
  } else {
    return { status: 401, error: "invalid_client", code: 50013, description: `Assertion failed signature validation. [Reason - ${verification.message}]` };
  }
  const issuer = String(claims.iss ?? "");
  const subject = String(claims.sub ?? "");
  const audience = Array.isArray(claims.aud) ? String(claims.aud[0] ?? "") : String(claims.aud ?? "");
  const issuerOf = (c: { issuer?: string }): string => c.issuer ?? tokens.issuer;
  const byIssuer = credentials.filter((c) => issuerOf(c) === issuer);
  if (byIssuer.length === 0) {
    return invalidClient(700211, `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
  }
  const bySubject = byIssuer.filter((c) => c.subject === subject);
  if (bySubject.length === 0) {
    return invalidClient(700213, `No matching federated identity record found for presented assertion subject '${subject}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
  }
  if (!bySubject.some((c) => c.audiences.includes(audience))) {
    return invalidClient(
      70021,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'.`,
    );
  }
  return undefined;
}

function decodeUnverified(token: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function secretMatches(state: TenantState, presented: string): boolean {
  const given = createHash("sha256").update(presented).digest();
  return (state.app.clientSecrets ?? []).some((secret) => timingSafeEqual(createHash("sha256").update(secret).digest(), given));
}

async function token(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const tenant = request.params[0] ?? "";
  if (!isThisTenant(state, tenant)) return entraErrorResponse(state, request, tenantNotFound(tenant));
  const fail = (failure: EntraFailure) => entraErrorResponse(state, request, failure);
  const contentType = headerValue(request, "content-type") ?? "";
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    return fail({ status: 400, error: "invalid_request", code: 900144, description: "The request body must be form-encoded (application/x-www-form-urlencoded) and contain 'grant_type'." });
  }
  const form = new URLSearchParams(request.body);
  const missing = (name: string): EntraFailure => ({ status: 400, error: "invalid_request", code: 900144, description: `The request body must contain the following parameter: '${name}'.` });
  const grantType = form.get("grant_type");
  if (!grantType) return fail(missing("grant_type"));
  if (grantType !== "client_credentials") {
    return fail({ status: 400, error: "unsupported_grant_type", code: 70003, description: `The app requested an unsupported grant type '${grantType}'; the simulated tenant supports client_credentials.` });
  }
  const clientId = form.get("client_id");
  if (!clientId) return fail(missing("client_id"));
  if (clientId.toLowerCase() !== state.app.clientId.toLowerCase()) {
    return fail({
      status: 400,
      error: "unauthorized_client",
      code: 700016,
      description: `Application with identifier '${clientId}' was not found in the directory '${state.tenantId}'. The application may not be installed in this tenant, or the request was sent to the wrong tenant.`,
    });
  }

  if (state.appServicePrincipal === false) {
    return fail({
      status: 400,
      error: "invalid_client",
      code: 7000229,
      description: `The client application ${clientId} is missing service principal in the tenant ${state.tenantId}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119`,
    });
  }

  // Client authentication: a client secret, a certificate-signed assertion, or a federated assertion.
  const assertion = form.get("client_assertion");
  const secret = form.get("client_secret");
  let authenticatedWith: "secret" | "assertion";
  if (secret !== null) {
    if (assertion) {
      return fail({ status: 400, error: "invalid_request", code: 9002313, description: "Invalid request. The request carries both client_secret and client_assertion; send one client credential." });
    }
    if (!secretMatches(state, secret)) {
      return fail({
        status: 401,
        error: "invalid_client",
        code: 7000215,
        description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${state.app.clientId}'.`,
      });
    }
    authenticatedWith = "secret";
  } else {
    if (!assertion) {
      return fail({ status: 401, error: "invalid_client", code: 7000218, description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." });
    }
    if (form.get("client_assertion_type") !== JWT_BEARER) {
      return fail({ status: 400, error: "invalid_request", code: 50027, description: `client_assertion_type must be '${JWT_BEARER}'.` });
    }
    let header: ReturnType<typeof decodeProtectedHeader> | undefined;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      header = undefined;
    }
    // A token signed by the home tenant's token service (kid, no certificate thumbprint) is a federated assertion.
    const federated = header !== undefined && header.kid === federationTokens(state).keyId && header.x5t === undefined && header["x5t#S256"] === undefined;
    if (federated) {
      const federatedFailure = await verifyFederatedAssertion(state, assertion);
      if (federatedFailure) return fail(federatedFailure);
    } else {
      const audiences = [state.tenantId, state.tenantDomain].map((t) => `${state.authorityHost}/${t}/oauth2/v2.0/token`);
      const assertionFailure = await verifyClientAssertion(state, assertion, clientId, audiences);
      if (assertionFailure) return fail(assertionFailure);
    }
    authenticatedWith = "assertion";
  }

  // Scope: exactly one resource, with /.default.
  const scope = form.get("scope");
  if (!scope) return fail(missing("scope"));
  const scopes = scope.split(/\s+/).filter((s) => s !== "");
  if (scopes.length !== 1) {
    return fail({ status: 400, error: "invalid_scope", code: 70011, description: `The provided value for the input parameter 'scope' is not valid. The scope '${scope}' names more than one resource; client credentials take one '<resource>/.default'.` });
  }
  const only = scopes[0]!;
  if (!only.endsWith("/.default")) {
    return fail({
      status: 400,
      error: "invalid_scope",
      code: 1002012,
      description: `The provided value for scope ${only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    });
  }
  const resource = only.slice(0, -"/.default".length);
  const graph = state.graphResources.some((r) => r.toLowerCase() === resource.toLowerCase());
  const vault = resource.replace(/\/+$/, "").toLowerCase() === state.keyVaultResource.toLowerCase();
  if (!graph && !vault) {
    return fail({
      status: 400,
      error: "invalid_resource",
      code: 500011,
      description: `The resource principal named ${resource} was not found in the tenant named ${state.tenantId}. Check the scope's resource and the cloud.`,
    });
  }
  const audience = graph ? state.graphResources[0]! : state.keyVaultResource;
  const roles = graph ? state.app.graphRoles : [];
  const claims: Record<string, unknown> = {
    aud: audience,
    tid: state.tenantId,
    oid: state.app.servicePrincipalObjectId,
    sub: state.app.servicePrincipalObjectId,
    appid: state.app.clientId,
    azp: state.app.clientId,
    // 1: client secret, 2: certificate or assertion.
    appidacr: authenticatedWith === "secret" ? "1" : "2",
    idtyp: "app",
    app_displayname: state.app.displayName,
    ver: "1.0",
    uti: randomUUID().replace(/-/g, "").slice(0, 22),
  };
  if (roles.length > 0) claims.roles = roles;
  const issued = await state.tokens.issue(claims, ACCESS_TOKEN_LIFETIME_IN_SECONDS);
  return jsonResponse(
    200,
    { token_type: "Bearer", expires_in: ACCESS_TOKEN_LIFETIME_IN_SECONDS, ext_expires_in: ACCESS_TOKEN_LIFETIME_IN_SECONDS, access_token: issued.token },
    { "cache-control": "no-store, no-cache", pragma: "no-cache" },
  );
}

export function entraRoutes(state: TenantState): Route[] {
  const openIdConfiguration = (request: SimulatedRequest): SimulatedResponse => {
    const tenant = request.params[0] ?? "";
    if (!isThisTenant(state, tenant)) return entraErrorResponse(state, request, tenantNotFound(tenant));
    return jsonResponse(200, metadata(state));
  };
  return [
    { service: "metadata", method: "GET", path: /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration\/?$/, handler: openIdConfiguration },
    {
      service: "metadata",
      method: "GET",
      path: /^\/([^/]+)\/discovery\/v2\.0\/keys\/?$/,
      handler: async (request) => {
        const tenant = request.params[0] ?? "";
        if (!isThisTenant(state, tenant)) return entraErrorResponse(state, request, tenantNotFound(tenant));
        return jsonResponse(200, await state.tokens.jwks());
      },
    },
    { service: "token", method: "POST", path: /^\/([^/]+)\/oauth2\/v2\.0\/token\/?$/, handler: (request) => token(state, request) },
  ];
}

export function entraNotFound(state: TenantState) {
  return (request: SimulatedRequest): SimulatedResponse =>
    entraErrorResponse(state, request, {
      status: 404,
      error: "invalid_request",
      code: 900561,
      description: `The endpoint ${request.method} ${request.url.pathname} is not simulated.`,
    });
}

/** SHA-256 thumbprint in the base64url form of the x5t#S256 header. */
export function x5tS256(certificateDerBase64: string): string {
  return createHash("sha256").update(Buffer.from(certificateDerBase64, "base64")).digest("base64url");
}
