import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { decodeJwt, importPKCS8, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate } from "../../../tools/simulated-tenant/pki.js";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { msalClientFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let tenant: SimulatedTenant;
let noConsentTenant: SimulatedTenant;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 5, seed: 7 });
  noConsentTenant = await startTrustedSimulatedTenant({ userCount: 5, grantUserReadAll: false, cloud: "AzureUSGovernment" });
});
afterAll(async () => {
  await tenant?.close();
  await noConsentTenant?.close();
});

function graphScope(t: SimulatedTenant): string[] {
  return [`${t.graphResource}/.default`];
}

async function msalError(promise: Promise<unknown>): Promise<{ errorCode: string; errorMessage: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { errorCode: string; errorMessage: string };
  }
  throw new Error("expected MSAL to fail");
}

/** A client assertion signed by hand, for the cases MSAL never produces. */
async function assertion(t: SimulatedTenant, claims: Record<string, unknown>): Promise<string> {
  const key = await importPKCS8(t.appCertificate.privateKeyPem, "PS256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: `${t.authorityHost}/${t.tenantId}/oauth2/v2.0/token`, iss: t.clientId, sub: t.clientId, jti: randomUUID(), nbf: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: "PS256", typ: "JWT", "x5t#S256": Buffer.from(t.appCertificate.thumbprintSha256Hex, "hex").toString("base64url") })
    .sign(key);
}

async function postToken(t: SimulatedTenant, form: Record<string, string>, tenantSegment = t.tenantId) {
  return rawRequest("POST", `${t.authorityHost}/${tenantSegment}/oauth2/v2.0/token`, {
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}

describe("simulated Entra token endpoint, through msal-node", () => {
  it("issues an RS256 Graph token for the registered certificate (PS256, x5t#S256) and counts the request", async () => {
    tenant.requests.reset();
    const msal = msalClientFor(tenant);
    const result = await msal.acquireTokenByClientCredential({ scopes: graphScope(tenant) });
    expect(result?.fromCache).toBe(false);
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ aud: "https://graph.microsoft.com", tid: tenant.tenantId, appid: tenant.clientId, roles: ["User.Read.All"], idtyp: "app" });
    expect(claims.iss).toBe(`${tenant.authorityHost}/${tenant.tenantId}/v2.0`);
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(3000);
    expect(tenant.requests.count("token")).toBe(1);
    expect(tenant.requests.count("metadata")).toBe(1);

    const again = await msal.acquireTokenByClientCredential({ scopes: graphScope(tenant) });
    expect(again?.fromCache).toBe(true);
    expect(tenant.requests.count("token")).toBe(1);
    // The log never shows the assertion.
    expect(JSON.stringify(tenant.requests.entries())).not.toMatch(/eyJ/);
  });

  it("accepts the deprecated SHA-1 thumbprint (RS256, x5t) and a verified domain as the tenant", async () => {
    const msal = msalClientFor(tenant, {
      tenant: tenant.tenantDomain,
      certificate: { privateKeyPem: tenant.appCertificate.privateKeyPem, thumbprintSha1Hex: tenant.appCertificate.thumbprintSha1Hex },
    });
    const result = await msal.acquireTokenByClientCredential({ scopes: graphScope(tenant) });
    expect(decodeJwt(result!.accessToken).tid).toBe(tenant.tenantId);
  });

  it("accepts the loopback Graph endpoint as the scope's resource", async () => {
    const result = await msalClientFor(tenant).acquireTokenByClientCredential({ scopes: [`${tenant.graphEndpoint}/.default`] });
    expect(decodeJwt(result!.accessToken).aud).toBe("https://graph.microsoft.com");
  });

  it("refuses a certificate that is not registered on the app with AADSTS700027", async () => {
    const stranger = issueCertificate({ commonName: "not registered", issuer: tenant.appIssuerCertificate });
    const error = await msalError(
      msalClientFor(tenant, { certificate: { privateKeyPem: stranger.privateKeyPem, thumbprintSha256Hex: stranger.thumbprintSha256Hex } }).acquireTokenByClientCredential({
        scopes: graphScope(tenant),
      }),
    );
    expect(error.errorCode).toBe("invalid_client");
    expect(error.errorMessage).toContain("AADSTS700027");
    expect(error.errorMessage).toContain(stranger.thumbprintSha256Hex.toUpperCase());
  });

  it("refuses an assertion signed by another key than the registered certificate's with AADSTS700027", async () => {
    const stranger = issueCertificate({ commonName: "other key", issuer: tenant.appIssuerCertificate });
    const error = await msalError(
      msalClientFor(tenant, {
        certificate: { privateKeyPem: stranger.privateKeyPem, thumbprintSha256Hex: tenant.appCertificate.thumbprintSha256Hex },
      }).acquireTokenByClientCredential({ scopes: graphScope(tenant) }),
    );
    expect(error.errorCode).toBe("invalid_client");
    expect(error.errorMessage).toMatch(/AADSTS700027: Client assertion failed signature validation/);
  });

  it("refuses a scope without /.default (AADSTS1002012) and an unknown resource (AADSTS500011)", async () => {
    const msal = msalClientFor(tenant);
    const notDefault = await msalError(msal.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/User.Read.All"] }));
    expect(notDefault.errorCode).toBe("invalid_scope");
    expect(notDefault.errorMessage).toContain("AADSTS1002012");
    const unknown = await msalError(msal.acquireTokenByClientCredential({ scopes: ["https://unknown.example/.default"] }));
    expect(unknown.errorCode).toBe("invalid_resource");
    expect(unknown.errorMessage).toContain("AADSTS500011");
  });

  it("refuses an unknown client id with AADSTS700016", async () => {
    const error = await msalError(msalClientFor(tenant, { clientId: randomUUID() }).acquireTokenByClientCredential({ scopes: graphScope(tenant) }));
    expect(error.errorCode).toBe("unauthorized_client");
    expect(error.errorMessage).toContain("AADSTS700016");
  });

  it("answers an unknown tenant with AADSTS90002 in Entra's error shape, and MSAL cannot resolve its endpoints", async () => {
    const other = randomUUID();
    const metadata = await rawRequest("GET", `${tenant.authorityHost}/${other}/v2.0/.well-known/openid-configuration`);
    expect(metadata.status).toBe(400);
    const token = await postToken(tenant, { grant_type: "client_credentials", client_id: tenant.clientId, scope: "https://graph.microsoft.com/.default" }, other);
    expect(token.status).toBe(400);
    expect(token.body).toMatchObject({ error: "invalid_request", error_codes: [90002] });
    expect(token.body.error_description).toMatch(/^AADSTS90002: Tenant '[^']+' not found/);
    for (const field of ["timestamp", "trace_id", "correlation_id"]) expect(typeof token.body[field]).toBe("string");

    const error = await msalError(msalClientFor(tenant, { tenant: other }).acquireTokenByClientCredential({ scopes: graphScope(tenant) }));
    expect(error.errorCode).toBe("endpoints_resolution_error");
  });

  it("serves OpenID metadata whose endpoints name the tenant id, and the keys that verify its tokens", async () => {
    const metadata = await rawRequest("GET", `${tenant.authorityHost}/${tenant.tenantDomain}/v2.0/.well-known/openid-configuration`);
    expect(metadata.status).toBe(200);
    expect(metadata.body.token_endpoint).toBe(`${tenant.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`);
    const keys = await rawRequest("GET", metadata.body.jwks_uri);
    expect(keys.body.keys).toHaveLength(1);
    expect(keys.body.keys[0]).toMatchObject({ kty: "RSA", use: "sig" });
    expect(keys.body.keys[0].d).toBeUndefined();
  });

  it("checks the assertion's audience, subject, lifetime and type (AADSTS50013, 700016, 700024, 50027)", async () => {
    const base = { grant_type: "client_credentials", client_id: tenant.clientId, scope: "https://graph.microsoft.com/.default", client_assertion_type: JWT_BEARER };
    const wrongAudience = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { aud: "https://login.microsoftonline.com/x/oauth2/v2.0/token" }) });
    expect(wrongAudience.body.error_codes).toEqual([50013]);
    const otherSubject = randomUUID();
    const wrongSubject = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { iss: otherSubject, sub: otherSubject }) });
    expect(wrongSubject.body.error_codes).toEqual([700016]);
    const issuerNotSubject = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { iss: randomUUID() }) });
    expect(issuerNotSubject.body.error_codes).toEqual([50013]);
    const now = Math.floor(Date.now() / 1000);
    const expired = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { nbf: now - 7200, exp: now - 3600 }) });
    expect(expired.body.error_codes).toEqual([700024]);
    const tooLong = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { exp: now + 7 * 24 * 3600 }) });
    expect(tooLong.body.error_codes).toEqual([700024]);
    const notYet = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, { nbf: now + 1800, exp: now + 2400 }) });
    expect(notYet.body.error_codes).toEqual([700024]);
    const badType = await postToken(tenant, { ...base, client_assertion_type: "jwt", client_assertion: await assertion(tenant, {}) });
    expect(badType.body.error_codes).toEqual([50027]);
    const good = await postToken(tenant, { ...base, client_assertion: await assertion(tenant, {}) });
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599 });
  });

  it("leaves roles out of the token when User.Read.All is not granted, with the cloud's Graph audience", async () => {
    const result = await msalClientFor(noConsentTenant).acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.us/.default"] });
    const claims = decodeJwt(result!.accessToken);
    expect(claims.aud).toBe("https://graph.microsoft.us");
    expect(claims.roles).toBeUndefined();
  });

  it("is trusted by a child process through NODE_EXTRA_CA_CERTS, and only through it", async () => {
    const url = `${tenant.authorityHost}/${tenant.tenantId}/v2.0/.well-known/openid-configuration`;
    const script = `require("node:https").get(process.argv[1], (r) => { console.log(r.statusCode); r.resume(); }).on("error", (e) => console.log(e.code));`;
    const run = (env: NodeJS.ProcessEnv) => promisify(execFile)(process.execPath, ["-e", script, url], { env });
    const { NODE_EXTRA_CA_CERTS: _ignored, ...baseEnv } = process.env;
    expect((await run({ ...baseEnv, NODE_EXTRA_CA_CERTS: tenant.caCertificatePath })).stdout.trim()).toBe("200");
    expect((await run(baseEnv)).stdout.trim()).toMatch(/CERT|SIGNATURE|ISSUER/);
  });
});
