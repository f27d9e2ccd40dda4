/**
 * Exit codes in one place: src/shared/exitCodes.ts declares every one, and no other file of src/
 * declares an EXIT_ constant or ends the process with a number written out.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_CONFIGURATION, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_PAUSED, EXIT_RUN_IN_PROGRESS, EXIT_SUCCESS } from "../../src/shared/exitCodes.js";

const ROOT = join(import.meta.dirname, "..", "..");
const HOME = "src/shared/exitCodes.ts";

function sourceFiles(): string[] {
  return readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => relative(ROOT, join(ROOT, "src", name)).split("\\").join("/"));
}

describe("exit codes", () => {
  it("are the documented values", () => {
    expect([EXIT_SUCCESS, EXIT_FAILURE, EXIT_CONFIGURATION, EXIT_RUN_IN_PROGRESS, EXIT_PAUSED, EXIT_INTERRUPTED]).toEqual([0, 1, 2, 3, 4, 130]);
  });

  it(`are declared only in ${HOME}`, () => {
    const elsewhere: string[] = [];
    for (const file of sourceFiles()) {
      if (file === HOME) continue;
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const [line, n] of text.split("\n").map((l, i) => [l, i + 1] as const)) {
        if (/\bexport\s+const\s+EXIT_[A-Z_]+\s*=/.test(line) || /process\.exit\(\s*\d+\s*\)|process\.exitCode\s*=\s*\d+|new ExitCode\(\s*\d+\s*\)/.test(line)) elsewhere.push(`${file}:${n}: ${line.trim()}`);
      }
    }
    expect(elsewhere).toEqual([]);
  });
});
