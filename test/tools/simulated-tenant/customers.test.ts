/**
 * The simulated cloud's customer tenants through the real MSAL client and raw HTTPS: the token
 * endpoint chooses the tenant from the authority path, each tenant signs its own tokens (`tid`,
 * `iss`), Graph serves the directory of the token's tenant only, and each consent state answers
 * as Entra and Graph do.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { msalClientFor, rawRequest, startTrustedSimulatedTenant } from "../../support/simulatedTenant.js";
import { decodeJwtParts } from "../../support/credentialModes.js";

const A = "f1f1f1f1-0000-4000-8000-000000000001";
const B = "f2f2f2f2-0000-4000-8000-000000000002";
const NONE = "f3f3f3f3-0000-4000-8000-000000000003";
const NO_GRANT = "f4f4f4f4-0000-4000-8000-000000000004";
const SMALL_PAGES = "f5f5f5f5-0000-4000-8000-000000000005";

let cloud: SimulatedTenant;

beforeAll(async () => {
  cloud = await startTrustedSimulatedTenant({
    userCount: 2,
    customerTenants: [
      { tenantId: A, userCount: 3 },
      { tenantId: B, userCount: 4 },
      { tenantId: NONE, userCount: 1, consent: "none" },
      { tenantId: NO_GRANT, userCount: 1, consent: "withoutUserReadAll" },
      { tenantId: SMALL_PAGES, userCount: 7, graphPageSize: 3 },
    ],
  });
});
afterAll(async () => cloud?.close());

async function tokenFor(tenant: string): Promise<string> {
  const result = await msalClientFor(cloud, { tenant }).acquireTokenByClientCredential({ scopes: [`${cloud.graphResource}/.default`] });
  return result!.accessToken;
}

async function usersWith(token: string): Promise<{ status: number; ids: string[]; body: unknown }> {
  const response = await rawRequest("GET", `${cloud.graphEndpoint}/v1.0/users?$select=id`, { headers: { authorization: `Bearer ${token}` } });
  const value = (response.body as { value?: Array<{ id: string }> }).value ?? [];
  return { status: response.status, ids: value.map((u) => u.id), body: response.body };
}

describe("customer tenants", () => {
  it("return pages of at most graphPageSize users, whatever $top asks, and every user once", async () => {
    const token = await tokenFor(SMALL_PAGES);
    const sizes: number[] = [];
    const ids: string[] = [];
    let link: string | undefined = `${cloud.graphEndpoint}/v1.0/users?$select=id&$top=999`;
    while (link) {
      const response = await rawRequest("GET", link, { headers: { authorization: `Bearer ${token}` } });
      const body = response.body as { value: Array<{ id: string }>; "@odata.nextLink"?: string };
      sizes.push(body.value.length);
      ids.push(...body.value.map((u) => u.id));
      link = body["@odata.nextLink"];
    }
    expect(sizes).toEqual([3, 3, 1]);
    expect(new Set(ids).size).toBe(7);
  });

  it("issue each tenant's own tokens, and Graph serves only that tenant's directory", async () => {
    for (const [tenantId, size] of [[A, 3], [B, 4]] as const) {
      const token = await tokenFor(tenantId);
      expect(decodeJwtParts(token).claims).toMatchObject({ tid: tenantId, iss: `${cloud.authorityHost}/${tenantId}/v2.0`, roles: ["User.Read.All"] });
      const { status, ids } = await usersWith(token);
      expect(status).toBe(200);
      expect(ids.sort()).toEqual([...cloud.customers.get(tenantId)!.directory.users(["id"])].map((u) => u.id).sort());
      expect(ids).toHaveLength(size);
    }
    // The home tenant is untouched.
    expect((await usersWith(await tokenFor(cloud.tenantId))).ids).toHaveLength(2);
    expect(cloud.customers.get(A)!.graphRequestCount()).toBe(1);
  });

  it("accept a verified domain in the authority path, and publish OpenID metadata naming the GUID", async () => {
    const domain = cloud.customers.get(B)!.tenantDomain;
    expect(decodeJwtParts(await tokenFor(domain)).claims.tid).toBe(B);
    const metadata = await rawRequest("GET", `${cloud.authorityHost}/${domain}/v2.0/.well-known/openid-configuration`);
    expect((metadata.body as { issuer: string }).issuer).toBe(`${cloud.authorityHost}/${B}/v2.0`);
  });

  it("without consent: the token request fails with AADSTS7000229; consent fixes it", async () => {
    await expect(tokenFor(NONE)).rejects.toThrow(/AADSTS7000229/);
    cloud.customers.get(NONE)!.setConsent("consented");
    expect(decodeJwtParts(await tokenFor(NONE)).claims.tid).toBe(NONE);
    cloud.customers.get(NONE)!.setConsent("none");
  });

  it("consented without User.Read.All: a token without the role, and Graph answers 403 Authorization_RequestDenied", async () => {
    const token = await tokenFor(NO_GRANT);
    expect(decodeJwtParts(token).claims.roles).toBeUndefined();
    const { status, body } = await usersWith(token);
    expect(status).toBe(403);
    expect(JSON.stringify(body)).toContain("Authorization_RequestDenied");
  });

  it("throttle one tenant through its own interceptor, leaving the others alone", async () => {
    const remove = cloud.customers.get(A)!.interceptGraph(() => ({ status: 429, headers: { "retry-after": "1" }, body: { error: { code: "TooManyRequests", message: "throttled" } } }));
    try {
      expect((await usersWith(await tokenFor(A))).status).toBe(429);
      expect((await usersWith(await tokenFor(B))).status).toBe(200);
    } finally {
      remove();
    }
  });
});
