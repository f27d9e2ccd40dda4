/**
 * The project brings its own Node 22 (the `node` dev dependency): npm scripts put
 * node_modules/.bin first on PATH, so vitest, its workers and the compiled CLI it spawns run on it,
 * whatever the machine's default `node` is. The floor in `engines` is the first Node with every API
 * the product and its tests use.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string }; devDependencies: Record<string, string> };
const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];

describe("the Node the project runs on", () => {
  it("engines states a floor, and the pinned node package satisfies it", () => {
    expect(floor, `engines.node is "${pkg.engines.node}"`).not.toBeNull();
    expect(pkg.devDependencies.node).toMatch(new RegExp(`^\\^${floor![1]}\\.${floor![2]}\\.`));
  });

  it("the tests run on the project's Node 22 at or above the floor, with the APIs that set the floor", () => {
    expect(major).toBe(22);
    expect(minor).toBeGreaterThanOrEqual(Number(floor![2]));
    // tls.setDefaultCACertificates (22.19) is the newest API in use: the simulator's CA is trusted in-process with it.
    expect(typeof tls.setDefaultCACertificates).toBe("function");
    expect(typeof Map.groupBy).toBe("function");
  });

  it("process.execPath, which the tests spawn the compiled CLI with, is that same Node", () => {
    const version = execFileSync(process.execPath, ["-p", "process.version"], { encoding: "utf8" }).trim();
    expect(version).toBe(process.version);
    // Run from npm scripts, `node` on PATH is the project's own (node_modules/.bin) when it is installed.
    if (process.env.npm_lifecycle_event === "test") {
      const onPath = execFileSync("node", ["-p", "process.version"], { encoding: "utf8" }).trim();
      expect(onPath).toBe(process.version);
    }
  });
});
