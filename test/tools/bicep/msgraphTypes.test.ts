/**
 * The Microsoft Graph extension types vendored in tools/bicep/msgraph-types, from which
 * tools/infra-check.sh builds the extension that CI compiles infra/entra against: they are the
 * generated types of the version infra/entra/bicepconfig.json pins, they define every Graph resource
 * type the template declares, and they carry their licence and their source.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseBicepFile, resources } from "../../support/bicepSyntax.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const VENDORED = join(ROOT, "tools", "bicep", "msgraph-types");

interface TypesIndex {
  resources: Record<string, { $ref: string }>;
  settings: { name: string; version: string };
}

const config = readFileSync(join(ROOT, "infra", "entra", "bicepconfig.json"), "utf8");
const pin = /"microsoftGraphV1":\s*"br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/([^":]+):([^"]+)"/.exec(config);
const [apiVersion, extensionVersion] = [pin?.[1] ?? "", pin?.[2] ?? ""];
const folder = join(VENDORED, "microsoft.graph", apiVersion, extensionVersion);

describe("the vendored Microsoft Graph extension types", () => {
  it("are those of the extension version infra/entra/bicepconfig.json pins", () => {
    expect(pin, "infra/entra/bicepconfig.json pins microsoftGraphV1 from mcr.microsoft.com").not.toBeNull();
    expect(existsSync(join(folder, "index.json")) && existsSync(join(folder, "types.json")), `tools/bicep/msgraph-types/microsoft.graph/${apiVersion}/${extensionVersion}/{index,types}.json`).toBe(true);
    const index = JSON.parse(readFileSync(join(folder, "index.json"), "utf8")) as TypesIndex;
    expect(index.settings).toMatchObject({ name: "MicrosoftGraph", version: extensionVersion });
  });

  it("define every Microsoft Graph resource type infra/entra/main.bicep declares", async () => {
    const index = JSON.parse(readFileSync(join(folder, "index.json"), "utf8")) as TypesIndex;
    const types = JSON.parse(readFileSync(join(folder, "types.json"), "utf8")) as unknown[];
    const declared = resources(await parseBicepFile(join(ROOT, "infra", "entra", "main.bicep"))).filter((r) => r.type.startsWith("Microsoft.Graph/"));
    expect(declared.length).toBeGreaterThan(0);
    for (const r of declared) {
      const ref = index.resources[`${r.type}@${r.apiVersion}`]?.$ref;
      expect(ref, `${r.type}@${r.apiVersion} in index.json`).toMatch(/^types\.json#\/\d+$/);
      expect(types[Number(ref!.split("/").pop())], ref).toBeDefined();
    }
  });

  it("carry their licence and name their source and commit", () => {
    expect(readFileSync(join(VENDORED, "LICENSE"), "utf8")).toMatch(/MIT License[\s\S]*Copyright \(c\) Microsoft Corporation/);
    const readme = readFileSync(join(VENDORED, "README.md"), "utf8");
    expect(readme).toContain("https://github.com/microsoftgraph/msgraph-bicep-types");
    expect(readme).toContain(`generated/microsoftgraph/microsoft.graph/${apiVersion}/${extensionVersion}/`);
    expect(readme).toMatch(/commit\s+`[0-9a-f]{40}`/);
  });
});
