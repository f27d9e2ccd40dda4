import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bicepFilesUnder, parameters, parseBicep, parseBicepFile, property, resolveString, resources, stringLiteral } from "../support/bicepSyntax.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra");

describe("Bicep files parse with the tree-sitter-bicep grammar", () => {
  const files = bicepFilesUnder(INFRA);

  it("finds the template, its parameters file and its modules", () => {
    expect(files).toEqual(
      expect.arrayContaining([
        "main.bicep",
        "main.bicepparam",
        "entra/main.bicep",
        "entra/main.bicepparam",
        "modules/certificate.bicep",
        "modules/function-app.bicep",
        "modules/keyvault.bicep",
        "modules/monitoring.bicep",
        "modules/network.bicep",
        "modules/private-endpoint.bicep",
        "modules/rbac.bicep",
        "modules/storage.bicep",
      ]),
    );
  });

  it.each(files)("%s parses without errors", async (file) => {
    const doc = await parseBicepFile(join(INFRA, file));
    expect(doc.root.type).toBe("infrastructure");
    expect(doc.root.namedChildCount).toBeGreaterThan(0);
  });

  it("declares the Graph extension only where Graph resources live", async () => {
    for (const file of files) {
      const doc = await parseBicepFile(join(INFRA, file));
      const usesGraph = resources(doc).some((r) => r.type.startsWith("Microsoft.Graph/"));
      expect({ file, extensions: doc.extensions }).toEqual({ file, extensions: usesGraph ? ["microsoftGraphV1"] : [] });
    }
  });
});

describe("the syntax helper is strict", () => {
  it("accepts `extension <name>` and reports it", async () => {
    const doc = await parseBicep("extension microsoftGraphV1\nparam a string = 'x'\n", "x.bicep");
    expect(doc.extensions).toEqual(["microsoftGraphV1"]);
  });

  it("rejects any other syntax error", async () => {
    await expect(parseBicep("param a string = {\n", "x.bicep")).rejects.toThrow(/x\.bicep:\d+:\d+/);
    await expect(parseBicep("extension microsoftGraphV1 with { }\n", "x.bicep")).rejects.toThrow(/Bicep syntax errors/);
    await expect(parseBicep("resource r 'A/b@1' = {\n  name: 'x'\n  ]\n}\n", "x.bicep")).rejects.toThrow(/Bicep syntax errors/);
  });

  it("accepts untyped params only in .bicepparam files", async () => {
    const doc = await parseBicep("using './main.bicep'\nparam a = 'x'\nparam b = bool(readEnvironmentVariable('B', 'false'))\n", "p.bicepparam");
    expect(parameters(doc).map((p) => p.name)).toEqual(["a", "b"]);
    await expect(parseBicep("param a = 'x'\n", "p.bicep")).rejects.toThrow(/Bicep syntax errors/);
    await expect(parseBicep("using './main.bicep'\nparam a = = 'x'\n", "p.bicepparam")).rejects.toThrow(/Bicep syntax errors/);
  });

  it("reads literals, nested properties and variable members", async () => {
    const doc = await parseBicep(
      "var roles = {\n  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'\n}\nresource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'it\\'s'\n  properties: {\n    role: roles.reader\n  }\n}\n",
      "x.bicep",
    );
    const [storage] = resources(doc);
    expect(storage).toMatchObject({ symbol: "s", type: "Microsoft.Storage/storageAccounts", apiVersion: "2023-05-01", existing: false });
    expect(stringLiteral(property(storage!.body, "name"))).toBe("it's");
    expect(resolveString(doc, property(storage!.body, "properties.role"))).toBe("acdd72a7-3385-48ef-bd42-f606fba81ae7");
  });
});
