import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminConsentUrlFor } from "../../src/credentials/consent.js";
import { assertGroupPermission, groupPermissionProblem, groupReadRoleOf, rolesOfAccessToken } from "../../src/graph/groupPermission.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { graphTokenFor, startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

const CONSENT = "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=abc&redirect_uri=https%3A%2F%2Fportal.azure.com%2F";

describe("groupReadRoleOf / groupPermissionProblem", () => {
  it("accepts GroupMember.Read.All and the broader roles that include it", () => {
    expect(groupReadRoleOf(["User.Read.All", "GroupMember.Read.All"])).toBe("GroupMember.Read.All");
    expect(groupReadRoleOf(["Group.Read.All"])).toBe("Group.Read.All");
    expect(groupReadRoleOf(["Directory.Read.All"])).toBe("Directory.Read.All");
    for (const roles of [["Group.Read.All", "User.Read.All"], ["Directory.Read.All"], ["GroupMember.Read.All"]]) expect(groupPermissionProblem(roles, CONSENT)).toBeUndefined();
  });

  it("refuses roles that do not cover members (User.Read.All, GroupMember.ReadWrite.OwnedBy-like names, none) naming the permission and the consent URL", () => {
    for (const roles of [["User.Read.All"], ["Group.Create", "GroupMember.Read"], [], undefined, "GroupMember.Read.All"]) {
      const problem = groupPermissionProblem(roles, CONSENT);
      expect(problem, JSON.stringify(roles)).toMatchObject({ code: "graph_permission_missing", details: { permission: "GroupMember.Read.All", adminConsentUrl: CONSENT } });
      expect(problem!.message).toContain("GroupMember.Read.All");
      expect(problem!.message).toContain(CONSENT);
      expect(problem!.message).toContain("groups=true");
    }
    expect(groupPermissionProblem(["User.Read.All"], CONSENT)!.message).toContain("its roles: User.Read.All");
  });
});

describe("assertGroupPermission with the simulated tenant's real tokens", () => {
  let granted: SimulatedTenant;
  let bare: SimulatedTenant;
  beforeAll(async () => {
    [granted, bare] = await Promise.all([
      startTrustedSimulatedTenant({ userCount: 5, groups: { count: 4 } }),
      startTrustedSimulatedTenant({ userCount: 5, groups: { count: 4 }, groupRole: false }),
    ]);
  });
  afterAll(async () => Promise.all([granted?.close(), bare?.close()]));

  const consentOf = (t: SimulatedTenant) => adminConsentUrlFor({ authorityHost: t.authorityHost, clientId: t.clientId, cloud: "AzurePublic" }, t.tenantId);

  it("lets the groups part run when the token carries GroupMember.Read.All", async () => {
    const token = await graphTokenFor(granted);
    expect(rolesOfAccessToken(token)).toEqual(["User.Read.All", "GroupMember.Read.All"]);
    await expect(assertGroupPermission({ getToken: async () => ({ token }) }, { adminConsentUrl: consentOf(granted) })).resolves.toBe("GroupMember.Read.All");
  });

  it("fails before any Graph request when it does not, naming the permission and the tenant's consent URL, never the token", async () => {
    const token = await graphTokenFor(bare);
    bare.requests.reset();
    const error = (await assertGroupPermission({ getToken: async () => ({ token }) }, { adminConsentUrl: consentOf(bare) }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe("graph_permission_missing");
    expect(error.message).toContain(`${bare.authorityHost}/${bare.tenantId}/adminconsent?client_id=${bare.clientId}&redirect_uri=`);
    expect(error.message).not.toContain(token.split(".")[1]!);
    expect(JSON.stringify((error as unknown as { details: unknown }).details)).not.toContain(token.split(".")[1]!);
    expect(bare.requests.count("graph")).toBe(0);
  });
});
