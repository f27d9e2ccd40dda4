/**
 * The compiled `npm run bench:groups` entry (tools/bench/groupsBench.ts): its usage, and its option
 * errors, which end with exit 2 and a line naming the option, never a stack trace.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runToExit, type ChildResult } from "../../support/childRun.js";

const BENCH = join(import.meta.dirname, "..", "..", "..", "dist", "tools", "bench", "groupsBench.js");
const groupsBench = (...args: string[]): Promise<ChildResult> => runToExit(process.execPath, [BENCH, ...args]);

beforeAll(() => {
  if (!existsSync(BENCH)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
});

describe("npm run bench:groups -- <options>", () => {
  it("--help prints its usage and runs nothing; a bad option is a usage error (exit 2) naming it, never a stack trace", async () => {
    const help = await groupsBench("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: npm run bench:groups -- [options]");
    expect(help.stdout).toContain("--store azurite|indexed");
    expect(help.stderr).toBe("");
    for (const [args, named] of [
      [["--bogus"], "--bogus"],
      [["--users"], "--users"],
      [["--users", "ten"], "--users"],
      [["--store", "cosmos"], "--store"],
    ] as const) {
      const bad = await groupsBench(...args);
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.stderr).toMatch(/^groupsBench: /);
      expect(bad.stderr).toContain(named);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
