/**
 * Every entry point on an unsupported Node.js (here Node 20, faked with a preload that changes
 * `process.versions.node` before the entry point loads) says which version it needs and how to get
 * it, and exits with code 2, before any of its other modules runs (on a real Node 20 they would
 * fail with `Array.fromAsync is not a function` and the like).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isSupportedNode, MINIMUM_NODE_VERSION, unsupportedNodeMessage } from "../../src/shared/nodeVersion.js";
import { assertCliBuilt } from "../support/cli.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const NODE_20 = `data:text/javascript,Object.defineProperty(process.versions, "node", { value: "20.20.2" })`;

async function onNode20(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", NODE_20, ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return error as { code: number; stdout: string; stderr: string };
  }
}

describe("the supported Node.js version", () => {
  it("is the floor of engines in package.json, and the launcher's", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } };
    expect(`>=${MINIMUM_NODE_VERSION}`).toMatch(new RegExp(`^${pkg.engines.node.replace(/\./g, "\\.")}(\\.0)?$`));
    const launcher = readFileSync(join(root, "bin", "entra-user-sync.js"), "utf8");
    expect(launcher).toContain(`const MINIMUM = [${MINIMUM_NODE_VERSION.split(".").join(", ")}];`);
  });

  it("compares versions part by part", () => {
    expect(isSupportedNode("v22.19.0")).toBe(true);
    expect(isSupportedNode("22.23.3")).toBe(true);
    expect(isSupportedNode("24.0.0")).toBe(true);
    expect(isSupportedNode("22.18.9")).toBe(false);
    expect(isSupportedNode("20.20.2")).toBe(false);
    expect(isSupportedNode("3.99.0")).toBe(false);
  });

  it.each([
    ["dist/src/cli/main.js", "npx node dist/src/cli/main.js"],
    ["dist/tools/demo.js", "npx node dist/tools/demo.js"],
    ["dist/tools/sandbox.js", "npx node dist/tools/sandbox.js"],
    ["dist/tools/bench/main.js", "npx node dist/tools/bench/main.js"],
    ["dist/tools/bench/tenantsBench.js", "npx node dist/tools/bench/tenantsBench.js"],
    ["bin/entra-user-sync.js", "npx entra-user-sync <command>"],
  ])("%s on Node 20 says the version it needs and %s, exit 2", async (entry, fix) => {
    assertCliBuilt();
    const result = await onNode20([entry, "--version"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`entra-user-sync needs Node.js ${MINIMUM_NODE_VERSION} or later; this is Node.js 20.20.2`);
    expect(result.stderr).toContain("`npm install`");
    expect(result.stderr).toContain(fix);
    expect(result.stderr).not.toMatch(/ at |Error/);
  });

  it.each(["userSync", "tenantSync"])("the %s function fails to load on Node 20 with the same message, which the Functions host shows", async (name) => {
    assertCliBuilt();
    const script = `import(${JSON.stringify(`./dist/src/functions/${name}.js`)}).then(() => console.log("loaded"), (error) => console.log(error.message))`;
    const result = await onNode20(["-e", script]);
    expect(result.stdout).toBe(unsupportedNodeMessage("20.20.2", process.execPath));
  });
});
