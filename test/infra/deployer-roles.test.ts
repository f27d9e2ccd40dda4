/**
 * The pipeline's Azure identity may assign only the roles that the role-assignment condition in
 * docs/deploy.md (step 3) lists ("Role Based Access Control Administrator" with a condition). A role
 * that a template assigns but the condition does not allow fails the Azure stage with
 * AuthorizationFailed; a role the condition allows but no template assigns is privilege for nothing.
 * This test holds the two together: every role assignment in infra/ against every condition written
 * in the docs or in a script.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { bicepFilesUnder, call, parseBicepFile, property, resolveString, resources, stringLiteral } from "../support/bicepSyntax.js";
import { ROOT } from "../support/scriptStubs.js";

const INFRA = join(ROOT, "infra");
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The role definition GUIDs the templates assign, by file. */
let assigned: Array<{ file: string; symbol: string; role: string | undefined }>;
let roleDefinitionIdProperties: number;

beforeAll(async () => {
  assigned = [];
  roleDefinitionIdProperties = 0;
  for (const file of bicepFilesUnder(INFRA)) {
    const doc = await parseBicepFile(join(INFRA, file));
    roleDefinitionIdProperties += [...doc.source.matchAll(/^\s*roleDefinitionId\s*:/gm)].length;
    for (const r of resources(doc).filter((x) => x.type === "Microsoft.Authorization/roleAssignments" && !x.existing)) {
      const roleCall = call(property(r.body, "properties.roleDefinitionId"));
      const isRoleDefinition = roleCall?.name === "subscriptionResourceId" && stringLiteral(roleCall.args[0]) === "Microsoft.Authorization/roleDefinitions";
      assigned.push({ file, symbol: r.symbol, role: isRoleDefinition ? resolveString(doc, roleCall.args[1])?.toLowerCase() : undefined });
    }
  }
});

/** Files that may write the condition: the docs, the delivery scripts, the pipeline, CI. */
function candidateFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (name === "node_modules" || name.startsWith(".git")) return [];
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return [join(ROOT, "README.md"), join(ROOT, "azure-pipelines.yml"), ...["docs", "infra", "tools", ".ci"].flatMap((dir) => walk(join(ROOT, dir)))].filter(
    (path) => !path.endsWith(".bicep") && !path.endsWith(".json"),
  );
}

/**
 * Every role list of a role-assignment condition in a file: `GuidEquals {…}` either lists the GUIDs
 * or names a shell variable (`{$roles}`) assigned in the same file (`roles='…'`).
 */
function conditionRoleLists(text: string): string[][] {
  return [...text.matchAll(/RoleDefinitionId\]\s+ForAnyOfAnyValues:GuidEquals\s+\{([^}]*)\}/g)].map((m) => {
    let list = m[1]!.trim();
    const variable = /^\$\{?(\w+)\}?$/.exec(list)?.[1];
    if (variable) {
      const assignment = new RegExp(`^\\s*(?:\\$)?${variable}\\s*=\\s*(['"])([^'"]*)\\1`, "m").exec(text);
      expect(assignment, `the condition's $${variable} is assigned in the same file`).not.toBeNull();
      list = assignment![2]!;
    }
    return list.split(",").map((g) => g.trim().toLowerCase()).filter(Boolean);
  });
}

describe("roles the templates assign are the roles the deploying identity may assign", () => {
  it("reads every role assignment's role definition GUID", () => {
    expect(assigned.length).toBeGreaterThan(0);
    for (const a of assigned) expect(a.role, `${a.file}: ${a.symbol} assigns a role through subscriptionResourceId('Microsoft.Authorization/roleDefinitions', <a GUID this test can resolve>)`).toMatch(GUID);
    // No role assignment in a form this test does not read (a module, a loop over a parameter...).
    expect(roleDefinitionIdProperties, "roleDefinitionId properties in infra/**/*.bicep").toBe(assigned.length);
  });

  it("the documented condition, and any script that writes one, allows exactly those roles", () => {
    const roles = [...new Set(assigned.map((a) => a.role!))].sort();
    const conditions = candidateFiles().flatMap((path) => conditionRoleLists(readFileSync(path, "utf8")).map((list) => ({ file: relative(ROOT, path), list })));
    expect(conditions.map((c) => c.file), "docs/deploy.md writes the Azure identity's condition").toContain("docs/deploy.md");
    for (const { file, list } of conditions) {
      for (const guid of list) expect(guid, `${file}: ${guid}`).toMatch(GUID);
      const allowed = [...new Set(list)].sort();
      expect(roles.filter((r) => !allowed.includes(r)), `${file}: roles the templates assign that the condition does not allow (the Azure stage fails with AuthorizationFailed)`).toEqual([]);
      expect(allowed.filter((r) => !roles.includes(r)), `${file}: roles the condition allows that no template assigns`).toEqual([]);
    }
  });
});
