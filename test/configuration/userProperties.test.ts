import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/configuration/settings.js";
import { deltaSelectOf, extraPermissionsOf, GRAPH_USER_PROPERTIES, maxUsersPageSize, nearestUserProperty, selectProblems, snapshotOnlyProperties, unknownPropertyProblems, USER_PROPERTY_RULES } from "../../src/configuration/userProperties.js";
import { DEFAULT_SELECT } from "../../src/configuration/defaults.js";
import { SIMULATED_USER_PROPERTIES } from "../../tools/simulated-tenant/index.js";

const valid = {
  GRAPH_TENANT_ID: "5f1c2e6a-7b3d-4c8e-9a0f-1d2e3f4a5b6c",
  GRAPH_CLIENT_ID: "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
  KEY_VAULT_URL: "https://contoso-sync.vault.azure.net",
  KEY_VAULT_CERTIFICATE_NAME: "graph-client",
  SNAPSHOT_STORAGE: "UseDevelopmentStorage=true",
};

describe("the user property catalogue", () => {
  it("refuses properties /users cannot list, and manager, naming the reason", () => {
    for (const name of ["aboutMe", "SKILLS", "mailboxSettings", "hireDate", "birthday", "manager"]) {
      const [problem, ...rest] = selectProblems(["id", name]);
      expect(rest).toEqual([]);
      expect(problem).toContain(`"${name}"`);
      expect(problem).toMatch(/501|relationship/);
      expect(problem).toContain("Remove it from USER_SYNC_SELECT");
    }
    expect(selectProblems(["id", "displayName", "signInActivity", "extension_abc_costCenter"])).toEqual([]);
  });

  it("leaves snapshot-only properties out of the delta $select, and says why", () => {
    const select = ["id", "displayName", "signInActivity", "licenseAssignmentStates"];
    expect(deltaSelectOf(select)).toEqual(["id", "displayName"]);
    expect(snapshotOnlyProperties(select).map((p) => p.name)).toEqual(["signInActivity", "licenseAssignmentStates"]);
    expect(snapshotOnlyProperties(["id", "signinactivity"])[0]!.reason).toContain("AuditLog.Read.All");
  });

  it("lowers the /users page size to 500 for signInActivity and names AuditLog.Read.All", () => {
    expect(maxUsersPageSize(["id", "displayName"])).toBe(999);
    expect(maxUsersPageSize(["id", "signInActivity"])).toBe(500);
    expect(extraPermissionsOf(["id", "signInActivity"])).toEqual([{ property: "signInActivity", permission: "AuditLog.Read.All" }]);
  });

  it("lists each property once, every rule with a reason", () => {
    const names = USER_PROPERTY_RULES.map((r) => r.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    for (const rule of USER_PROPERTY_RULES) expect(rule.reason.length).toBeGreaterThan(40);
  });
});

describe("USER_SYNC_SELECT at start-up", () => {
  it("fails before any request when a property cannot be listed, with the reason", () => {
    expect(() => loadSettings({ ...valid, USER_SYNC_SELECT: "id,displayName,aboutMe" })).toThrow(/USER_SYNC_SELECT "aboutMe" cannot be synchronized: .*501/);
    expect(() => loadSettings({ ...valid, USER_SYNC_SELECT: "id,manager" })).toThrow(/manager@delta/);
  });

  it("accepts signInActivity (read by snapshots only)", () => {
    expect(loadSettings({ ...valid, USER_SYNC_SELECT: "id,displayName,signInActivity" }).select).toEqual(["id", "displayName", "signInActivity"]);
  });
});

describe("the property catalogue (USER_SYNC_SELECT names Graph knows)", () => {
  it("knows every default, every rule's property and every property the simulated tenant serves", () => {
    const known = new Set(GRAPH_USER_PROPERTIES);
    for (const name of [...DEFAULT_SELECT, ...USER_PROPERTY_RULES.map((r) => r.name), ...SIMULATED_USER_PROPERTIES]) expect(known.has(name), name).toBe(true);
  });

  it("names the nearest known property for a typo, a wrong case first", () => {
    expect(nearestUserProperty("displayname")).toBe("displayName");
    expect(nearestUserProperty("surnme")).toBe("surname");
    expect(nearestUserProperty("userPrincipleName")).toBe("userPrincipalName");
    expect(nearestUserProperty("foo")).toBeUndefined();
  });

  it("passes id in any case and extension properties through, and refuses other unknown names at start-up", () => {
    expect(unknownPropertyProblems(["ID", "extension_0123456789abcdef0123456789abcdef_costCenter", "ext8kq2mz1a_course", "displayName"])).toEqual([]);
    expect(() => loadSettings({ ...valid, USER_SYNC_SELECT: "id,displayname,foo" })).toThrowError(/USER_SYNC_SELECT "displayname" is not a Microsoft Graph user property: did you mean "displayName"\?[\s\S]*"foo" is not a Microsoft Graph user property\./);
  });
});
