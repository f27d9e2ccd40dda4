import { ClientAuthError, ConfidentialClientApplication, ServerError, type INetworkModule } from "@azure/msal-node";
import { describe, expect, it } from "vitest";
import { translateTokenError, type TokenErrorContext } from "../../src/credentials/tokenErrors.js";
import { adminConsentUrl } from "../../src/credentials/consent.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { issueCertificate } from "../../tools/simulated-tenant/pki.js";

const TENANT = "11111111-2222-3333-4444-555555555555";
const CLIENT = "66666666-7777-8888-9999-000000000000";
const AUTHORITY_HOST = "https://login.example.test";
const REDIRECT = "https://portal.azure.us/";
const certificate = issueCertificate({ commonName: "entra-user-sync" });

const context: TokenErrorContext = {
  tenantId: TENANT,
  clientId: CLIENT,
  authorityHost: AUTHORITY_HOST,
  graphEndpoint: "https://graph.microsoft.us",
  consentRedirectUri: REDIRECT,
  thumbprintSha256: certificate.thumbprintSha256Hex,
};

/**
 * Lets the real msal-node parse an Entra error response and throw its real error object: the network
 * is the only fake (OpenID configuration, then the token endpoint's JSON error).
 */
async function msalErrorFor(body: Record<string, unknown>, status = 400): Promise<unknown> {
  const requests: string[] = [];
  const networkClient: INetworkModule = {
    async sendGetRequestAsync<T>(url: string) {
      requests.push(`GET ${url}`);
      const base = `${AUTHORITY_HOST}/${TENANT}`;
      const metadata = {
        issuer: `${base}/v2.0`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        jwks_uri: `${AUTHORITY_HOST}/${TENANT}/discovery/v2.0/keys`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      };
      return { headers: {}, body: metadata as T, status: 200 };
    },
    async sendPostRequestAsync<T>(url: string) {
      requests.push(`POST ${url}`);
      return { headers: {}, body: body as T, status };
    },
  };
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: CLIENT,
      authority: `${AUTHORITY_HOST}/${TENANT}`,
      knownAuthorities: ["login.example.test"],
      clientCertificate: { thumbprintSha256: certificate.thumbprintSha256Hex, privateKey: certificate.privateKeyPem },
    },
    system: { networkClient },
  });
  try {
    await app.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.us/.default"] });
  } catch (error) {
    // The authority is only ever contacted on its own host: no public-cloud instance discovery.
    expect(requests.every((r) => r.includes("login.example.test"))).toBe(true);
    return error;
  }
  throw new Error("expected MSAL to throw");
}

function entraError(code: number, error: string, description: string) {
  return {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: 0a0a Correlation ID: c0ffee00-0000-0000-0000-000000000001 Timestamp: 2026-01-01 00:00:00Z`,
    error_codes: [code],
    timestamp: "2026-01-01 00:00:00Z",
    trace_id: "0a0a0a0a-0000-0000-0000-000000000000",
    correlation_id: "c0ffee00-0000-0000-0000-000000000001",
  };
}

async function translated(code: number, error: string, description: string): Promise<UserSyncError> {
  const msalError = await msalErrorFor(entraError(code, error, description));
  expect(msalError).toBeInstanceOf(ServerError);
  const result = translateTokenError(msalError, context);
  expect(result.code).toBe("token_request_failed");
  expect(result.details.aadsts).toBe(code);
  expect(result.details.correlationId).toBe("c0ffee00-0000-0000-0000-000000000001");
  expect(result.message).toContain(`AADSTS${code}`);
  expect(result.message).toContain("c0ffee00-0000-0000-0000-000000000001");
  expect(result.message).not.toMatch(/BEGIN|PRIVATE KEY/);
  return result;
}

describe("translateTokenError (AADSTS table)", () => {
  it("700027: shows the SHA-256 thumbprint the app sent and how to register it", async () => {
    const error = await translated(700027, "invalid_client", "Client assertion contains an invalid signature.");
    expect(error.message).toContain(certificate.thumbprintSha256Hex);
    expect(error.message).toContain("Certificates & secrets");
    expect(error.details.thumbprintSha256).toBe(certificate.thumbprintSha256Hex);
  });

  it("700016: app not found in tenant: GRAPH_CLIENT_ID, tenant or cloud", async () => {
    const error = await translated(700016, "unauthorized_client", `Application with identifier '${CLIENT}' was not found in the directory.`);
    expect(error.message).toContain("GRAPH_CLIENT_ID");
    expect(error.message).toContain("GRAPH_CLOUD");
    expect(error.message).toContain(adminConsentUrl(AUTHORITY_HOST, TENANT, CLIENT, REDIRECT));
    expect(error.message).toContain(`&redirect_uri=${encodeURIComponent(REDIRECT)}`);
  });

  it("700236: a managed identity of another tenant: one multi-tenant app in the identity's tenant, GRAPH_CLIENT_ID", async () => {
    const issuer = "https://login.example.test/99999999-0000-0000-0000-000000000000/v2.0";
    const msalError = await msalErrorFor(
      entraError(700236, "invalid_client", `Entra ID tokens issued by issuer '${issuer}' may not be used for federated identity credential flows for applications or managed identities registered in this tenant.`),
    );
    const error = translateTokenError(msalError, { ...context, mode: "managedIdentityFederation", federated: { federatedIssuer: issuer } });
    expect(error.details.aadsts).toBe(700236);
    expect(error.message).toContain(`issuer ${issuer}`);
    expect(error.message).toContain("managed identity's tenant");
    expect(error.message).toContain("GRAPH_CLIENT_ID");
  });

  it("90002: tenant not found: GRAPH_TENANT_ID and GRAPH_CLOUD", async () => {
    const error = await translated(90002, "invalid_request", `Tenant '${TENANT}' not found.`);
    expect(error.message).toContain("GRAPH_TENANT_ID");
    expect(error.message).toContain("GRAPH_CLOUD");
  });

  it("70011 and 1002012: the scope, pointing at GRAPH_ENDPOINT", async () => {
    for (const code of [70011, 1002012]) {
      const error = await translated(code, "invalid_scope", "The provided value for the input parameter 'scope' is not valid.");
      expect(error.message).toContain("GRAPH_ENDPOINT");
      expect(error.message).toContain("https://graph.microsoft.us/.default");
    }
  });

  it("50013: invalid assertion, mentioning the clock", async () => {
    const error = await translated(50013, "invalid_client", "Assertion failed signature validation.");
    expect(error.message).toContain("clock");
  });

  it("7000215: a secret where a certificate is used", async () => {
    const error = await translated(7000215, "invalid_client", "Invalid client secret provided.");
    expect(error.message).toContain("certificate");
    expect(error.message).toContain("GRAPH_CLIENT_ID");
  });

  it("unknown codes keep the AADSTS code, the correlation ID and Entra's description", async () => {
    const error = await translated(53003, "access_denied", "Access has been blocked by Conditional Access policies.");
    expect(error.message).toContain("Conditional Access");
    expect(error.message).toContain("code=53003");
  });

  it("network failures become token_endpoint_unreachable naming the host and the cloud settings", () => {
    const error = translateTokenError(new ClientAuthError("network_error", "", "Network request failed: ECONNREFUSED"), context);
    expect(error.code).toBe("token_endpoint_unreachable");
    expect(error.message).toContain("login.example.test");
    expect(error.message).toContain("GRAPH_CLOUD");
    expect(error.message).toContain("GRAPH_AUTHORITY_HOST");
    const discovery = translateTokenError(new ClientAuthError("endpoints_resolution_error", ""), context);
    expect(discovery.code).toBe("token_endpoint_unreachable");
  });

  it("never echoes a token or key that appears in an error text", () => {
    const leaked = new ClientAuthError("something_odd", "", `saw ${certificate.privateKeyPem} and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`);
    const error = translateTokenError(leaked, context);
    expect(error.message).not.toContain("PRIVATE KEY");
    expect(error.message).not.toContain("eyJhbGciOiJSUzI1NiJ9");
  });

  it("passes a UserSyncError through unchanged", () => {
    const original = new UserSyncError("certificate_expired", "expired");
    expect(translateTokenError(original, context)).toBe(original);
  });
});

describe("adminConsentUrl", () => {
  it("builds the tenant's admin consent URL", () => {
    expect(adminConsentUrl("https://login.microsoftonline.us/", "contoso.onmicrosoft.us", CLIENT, "https://portal.azure.us/")).toBe(
      `https://login.microsoftonline.us/contoso.onmicrosoft.us/adminconsent?client_id=${CLIENT}&redirect_uri=https%3A%2F%2Fportal.azure.us%2F`,
    );
  });
});
