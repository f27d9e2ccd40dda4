import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT, run } from "../support/scriptStubs.js";

/** Every file under a folder, relative, sorted: what a zip of the folder holds. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split("\\").join("/"))
    .sort();
}

type Hook = { run: string };
const azd = parse(readFileSync(join(ROOT, "azure.yaml"), "utf8")) as {
  services: Record<string, { dist: string; remoteBuild: boolean; hooks: { prepackage: { posix: Hook; windows: Hook } } }>;
};
const pipeline = readFileSync(join(ROOT, "azure-pipelines.yml"), "utf8");

/**
 * Stages the package the two ways it ships. azd: its prepackage hook's command, then azd copies the
 * `dist` folder, honouring an ignore file there. The pipeline: its staging step, then ArchiveFiles
 * zips the folder whole. Both run from the compiled dist/src that `npm run build` left (npm test
 * builds first), so the test does not rebuild under the other test files' feet.
 */
let azdFiles: string[];
let pipelineFiles: string[];
beforeAll(() => {
  const [service] = Object.values(azd.services);
  const hook = service!.hooks.prepackage.posix.run.split(" ");
  expect(hook).toEqual(["node", "infra/scripts/stage-app.mjs"]);
  const staged = (args: string[]) => {
    const folder = join(mkdtempSync(join(tmpdir(), "package-")), "app");
    const result = run("node", [...args, folder], { env: process.env, timeoutInMs: 240_000 });
    expect(result.code, result.stderr).toBe(0);
    return folder;
  };
  const azdFolder = staged([hook[1]!, "--no-build"]);
  // azd's copy: everything, unless the folder's ignore file says otherwise (ours ignores nothing).
  expect(readFileSync(join(azdFolder, ".funcignore"), "utf8").split("\n").filter((line) => line && !line.startsWith("#"))).toEqual([]);
  azdFiles = filesUnder(azdFolder);
  const step = /^\s+- script: (node infra\/scripts\/stage-app\.mjs --no-build)$/m.exec(pipeline)![1]!.split(" ");
  pipelineFiles = filesUnder(staged(step.slice(1)));
}, 600_000);

describe("one package, whichever way it ships", () => {
  it("azd and the pipeline stage the same folder with the same script", () => {
    const [service] = Object.values(azd.services);
    expect(service!.dist).toBe("dist/package");
    expect(service!.remoteBuild).toBe(false);
    expect(service!.hooks.prepackage.windows.run).toBe(service!.hooks.prepackage.posix.run);
    expect(pipeline).toMatch(/rootFolderOrFile: dist\/package\n/);
  });

  it("the azd package and the pipeline package hold the same files", () => {
    expect(azdFiles.length).toBeGreaterThan(100);
    expect(azdFiles).toEqual(pipelineFiles);
  });

  it("holds the compiled app, host.json, the manifests and production dependencies, nothing else", () => {
    const top = new Set(azdFiles.map((f) => (f.startsWith("dist/src/") ? "dist/src/" : f.startsWith("node_modules/") ? "node_modules/" : f)));
    expect([...top].sort()).toEqual([".funcignore", "dist/src/", "host.json", "node_modules/", "package-lock.json", "package.json"]);
    expect(azdFiles).toContain("dist/src/functions/userSync.js");
    expect(azdFiles.filter((f) => f.startsWith("dist/src/") && !/\.js(\.map)?$/.test(f))).toEqual([]);
    const packages = new Set(azdFiles.filter((f) => f.startsWith("node_modules/")).map((f) => f.split("/").slice(1, f.split("/")[1]!.startsWith("@") ? 3 : 2).join("/")));
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const dependency of Object.keys(manifest.dependencies)) expect(packages, dependency).toContain(dependency);
    // Dev dependencies that a production dependency needs too ship anyway; each with what pulls it in.
    const alsoProduction: Record<string, string> = {
      "@types/node": "@azure/monitor-opentelemetry (its instrumentations' @types packages, protobufjs)",
      yaml: "@azure/monitor-opentelemetry (@opentelemetry/sdk-node's configuration)",
      "@opentelemetry/sdk-logs": "@azure/monitor-opentelemetry (its logger provider)",
    };
    for (const dev of Object.keys(manifest.devDependencies)) if (!(dev in alsoProduction)) expect(packages, dev).not.toContain(dev);
  });

  it("the root .funcignore keeps the same selection for tools that deploy the repository root", () => {
    const lines = readFileSync(join(ROOT, ".funcignore"), "utf8").split("\n").filter((line) => line && !line.startsWith("#"));
    expect(lines).toEqual(["*", "!dist/", "dist/*", "!dist/src/", "!host.json", "!package.json", "!package-lock.json", "!node_modules/"]);
  });
});
