/**
 * `azd deploy` refuses a function app whose ignore file excludes node_modules while azure.yaml says
 * `remoteBuild: false` ("'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules").
 * The rule, as azd states it (github.com/Azure/azure-dev, cli/azd/pkg/project/service_target_functionapp.go,
 * resolveFunctionAppRemoteBuild): for a service of language js or ts hosted as `function`, read
 * `<service project path>/<host ignore file>` (service_target.go, ServiceTargetKind.IgnoreFile: `.funcignore`
 * for `function`); if it exists, parse it with go-gitignore and ask `Relative("node_modules", true)`; a match
 * that is not negated means "excludes node_modules". With `remoteBuild: false` that is an error.
 *
 * azd reads one more ignore file of the same name when it zips the package (project_utils.go,
 * createDeployableZip): `.funcignore` in the packaged folder, here the `dist` folder that
 * infra/scripts/stage-app.mjs stages. That file is written by the script with no rule at all (test/infra/
 * package.test.ts checks it in the staged folder), so it excludes nothing, node_modules included.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ignores, parseIgnoreFile } from "../support/azdIgnore.js";
import { ROOT } from "../support/scriptStubs.js";

type Service = { project: string; language: string; host: string; dist?: string; remoteBuild?: boolean };
const azd = parse(readFileSync(join(ROOT, "azure.yaml"), "utf8")) as { services: Record<string, Service> };

/** resolveFunctionAppRemoteBuild: whether the ignore file excludes node_modules. */
const excludesNodeModules = (text: string) => ignores(parseIgnoreFile(text), "node_modules", true);

describe("the ignore rule, ported from azd's library", () => {
  // azd's own cases (service_target_functionapp_test.go, TestResolveFunctionAppRemoteBuild and
  // TestResolveFunctionAppRemoteBuild_EdgeCases): what azd reads as "excludes node_modules".
  it.each([
    ["node_modules\n", true],
    ["dist\n", false],
    ["\n", false],
    ["node_modules/\n", true],
    ["# node_modules\n", false],
    ["dist\nnode_modules\n.env\n", true],
    ["dist\r\nnode_modules\r\n.env\r\n", true],
    ["node_modules/**\n", true],
    ["/node_modules\n", true],
    ["**/node_modules\n", true],
    ["\uFEFFnode_modules\n", true],
    ["\uFEFFdist\n", false],
  ])("%j excludes node_modules: %s", (text, expected) => {
    expect(excludesNodeModules(text)).toBe(expected);
  });

  it("lets the last matching pattern decide, as go-gitignore's Relative does", () => {
    expect(excludesNodeModules("*\n!dist/\n")).toBe(true);
    expect(excludesNodeModules("*\n!node_modules/\n")).toBe(false);
    expect(excludesNodeModules("!node_modules/\n*\n")).toBe(true);
    expect(excludesNodeModules("*\n!node_modules/\nnode_modules/*\n")).toBe(false);
    expect(excludesNodeModules("node_*\n")).toBe(true);
    expect(excludesNodeModules("node_modules/.bin\n")).toBe(false);
  });
});

describe("azd accepts this repository's function app", () => {
  const functionServices = Object.entries(azd.services).filter(([, s]) => s.host === "function" && ["js", "ts"].includes(s.language));

  it("has a JavaScript or TypeScript function app deployed without a remote build", () => {
    expect(functionServices.map(([name]) => name)).toEqual(["user-sync"]);
    for (const [, service] of functionServices) expect(service.remoteBuild).toBe(false);
  });

  it("no .funcignore that azd reads at a service's path excludes node_modules", () => {
    for (const [name, service] of functionServices) {
      const file = join(ROOT, service.project, ".funcignore");
      if (!existsSync(file)) continue;
      expect(excludesNodeModules(readFileSync(file, "utf8")), `${name}: ${file} excludes node_modules, so azd refuses 'remoteBuild: false'`).toBe(false);
    }
  });

  it("the .funcignore that infra/scripts/stage-app.mjs writes into the packaged folder excludes nothing", () => {
    const script = readFileSync(join(ROOT, "infra", "scripts", "stage-app.mjs"), "utf8");
    expect(script).toContain('writeFileSync(join(target, ".funcignore"), ignoreNothing);');
    const text = JSON.parse(/^const ignoreNothing = ("(?:[^"\\]|\\.)*");$/m.exec(script)![1]!) as string;
    const patterns = parseIgnoreFile(text);
    expect(patterns).toEqual([]);
    expect(ignores(patterns, "node_modules", true)).toBe(false);
  });
});
