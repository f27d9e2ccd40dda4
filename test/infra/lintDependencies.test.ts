/**
 * `npm run lint` (part of `npm test`) refuses an import of a package that package.json does not
 * declare, and, in src/ (what ships: infra/scripts/stage-app.mjs installs `dependencies` only), of a
 * dev dependency. Linted through the project's own eslint.config.js; the type-aware rules are turned
 * off here only to keep the test quick (they do not bear on imports).
 */
import { join } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/scriptStubs.js";

const RULE = "import-x/no-extraneous-dependencies";
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: [
    {
      files: ["**/*.ts"],
      languageOptions: { parserOptions: { project: false } },
      rules: { "@typescript-eslint/no-floating-promises": "off", "@typescript-eslint/no-misused-promises": "off", "@typescript-eslint/await-thenable": "off" },
    },
  ],
});

async function importProblems(file: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import * as imported from "${specifier}";\nexport const used = imported;\n`, { filePath: join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe("imports of undeclared packages fail lint", () => {
  it("src/: a package that is only installed (another package's dependency), as @azure/opentelemetry-instrumentation-azure-sdk was", async () => {
    // @azure/core-auth resolves (the Azure SDK brings it) but package.json does not declare it.
    expect(await importProblems("src/telemetry/undeclared.ts", "@azure/core-auth")).toEqual([expect.stringMatching(/'@azure\/core-auth' should be listed in the project's dependencies/)]);
  });

  it("src/: a dev dependency, which the deployed package does not have", async () => {
    expect(await importProblems("src/shared/devOnly.ts", "yaml")).toEqual([expect.stringMatching(/'yaml' should be listed in the project's dependencies, not devDependencies/)]);
  });

  it("src/: a declared dependency is fine", async () => {
    expect(await importProblems("src/shared/declared.ts", "zod")).toEqual([]);
  });

  it("test/ and tools/: dev dependencies are fine, undeclared packages are not", async () => {
    expect(await importProblems("test/shared/devOnly.test.ts", "yaml")).toEqual([]);
    expect(await importProblems("tools/devOnly.ts", "yaml")).toEqual([]);
    expect(await importProblems("tools/undeclared.ts", "@azure/core-auth")).toHaveLength(1);
  });
});
