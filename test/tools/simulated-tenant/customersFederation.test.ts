/**
 * The simulated cloud's customer tenants and the managed identity as a federated credential of the
 * multi-tenant app, over raw HTTPS: the home tenant's managed identity token is accepted as the
 * client assertion by every tenant where the app has a service principal, verified with the home
 * tenant's key and matched against the app's one federated identity credential; a wrong subject,
 * audience or issuer is refused with the same AADSTS code in a customer tenant as in the home
 * tenant; a tenant without consent answers AADSTS7000229.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FederatedIdentityCredential, SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { decodeJwtParts } from "../../support/credentialModes.js";
import { rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";

const A = "a7a7a7a7-0000-4000-8000-000000000001";
const B = "a8a8a8a8-0000-4000-8000-000000000002";
const NONE = "a9a9a9a9-0000-4000-8000-000000000003";
const EXCHANGE = "api://AzureADTokenExchange";

let cloud: SimulatedTenant;
let assertion: string;
let registered: FederatedIdentityCredential;

beforeAll(async () => {
  cloud = await startTrustedSimulatedTenant({
    userCount: 2,
    federatedManagedIdentity: true,
    customerTenants: [
      { tenantId: A, userCount: 3 },
      { tenantId: B, userCount: 4 },
      { tenantId: NONE, userCount: 1, consent: "none" },
    ],
  });
  const identity = await rawRequest("GET", `${cloud.identityEndpoint}?resource=${encodeURIComponent(EXCHANGE)}&api-version=2019-08-01`, {
    headers: { "x-identity-header": cloud.identityHeader },
  });
  expect(identity.status).toBe(200);
  assertion = (identity.body as { access_token: string }).access_token;
  registered = { name: "function-managed-identity", issuer: `${cloud.authorityHost}/${cloud.tenantId}/v2.0`, subject: cloud.managedIdentityObjectId, audiences: [EXCHANGE] };
});
afterAll(async () => cloud?.close());

/** A client-credentials request with the managed identity's token as the client assertion. */
async function exchange(tenant: string, clientAssertion = assertion) {
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: cloud.clientId,
    scope: `${cloud.graphResource}/.default`,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: clientAssertion,
  }).toString();
  const response = await rawRequest("POST", `${cloud.authorityHost}/${tenant}/oauth2/v2.0/token`, { headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const json = response.body as { access_token?: string; error_codes?: number[]; error_description?: string };
  return { status: response.status, code: json.error_codes?.[0], description: json.error_description ?? "", claims: json.access_token ? decodeJwtParts(json.access_token).claims : undefined };
}

describe("customer tenants with the managed identity as a federated credential", () => {
  it("the assertion is the home tenant's managed identity token: home issuer, the identity's object id, the exchange audience", () => {
    expect(decodeJwtParts(assertion).claims).toMatchObject({ iss: `${cloud.authorityHost}/${cloud.tenantId}/v2.0`, sub: cloud.managedIdentityObjectId, aud: EXCHANGE, tid: cloud.tenantId });
  });

  it("one assertion is accepted by every consented tenant, each issuing its own Graph token", async () => {
    for (const tenant of [A, B, cloud.tenantId, cloud.customers.get(B)!.tenantDomain]) {
      const answer = await exchange(tenant);
      expect(answer.status).toBe(200);
      const tid = tenant === cloud.customers.get(B)!.tenantDomain ? B : tenant;
      expect(answer.claims).toMatchObject({ tid, iss: `${cloud.authorityHost}/${tid}/v2.0`, appid: cloud.clientId, appidacr: "2", roles: ["User.Read.All"] });
    }
  });

  it("a tenant without the app's service principal answers AADSTS7000229, whatever the assertion", async () => {
    expect(await exchange(NONE)).toMatchObject({ status: 400, code: 7000229 });
    cloud.customers.get(NONE)!.setConsent("consented");
    try {
      expect((await exchange(NONE)).claims?.tid).toBe(NONE);
    } finally {
      cloud.customers.get(NONE)!.setConsent("none");
    }
  });

  const mismatches: Array<[string, Partial<FederatedIdentityCredential>, number]> = [
    // The identity's client id in place of its object id: the usual mistake.
    ["subject", { subject: "the-client-id-instead-of-the-object-id" }, 700213],
    ["audience", { audiences: ["api://AzureADTokenExchangeUSGov"] }, 700212],
    // The customer's issuer in place of the home tenant's.
    ["issuer", { issuer: "https://login.microsoftonline.com/a7a7a7a7-0000-4000-8000-000000000001/v2.0" }, 700211],
  ];
  for (const [what, change, code] of mismatches) {
    it(`a federated credential with the wrong ${what} is refused with AADSTS${code} in every tenant alike`, async () => {
      cloud.setFederatedIdentityCredentials([{ ...registered, ...change }]);
      try {
        for (const tenant of [cloud.tenantId, A, B]) {
          const answer = await exchange(tenant);
          expect({ tenant, status: answer.status, code: answer.code }).toEqual({ tenant, status: 400, code });
          expect(answer.claims).toBeUndefined();
        }
      } finally {
        cloud.setFederatedIdentityCredentials([registered]);
      }
      expect((await exchange(A)).status).toBe(200);
    });
  }

  it("a tampered assertion fails signature validation in a customer tenant as in the home tenant", async () => {
    const [header = "", payload = "", signature = ""] = assertion.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const tampered = [header, Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url"), signature].join(".");
    const [home, customer] = [await exchange(cloud.tenantId, tampered), await exchange(A, tampered)];
    expect(customer.code).toBe(home.code);
    expect(customer.status).toBe(home.status);
    expect(customer.claims).toBeUndefined();
    expect(customer.description).toContain("signature");
  });
});
