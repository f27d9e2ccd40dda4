/**
 * The heap growth as the compiled entry points set it, read from V8 itself: with `--trace-gc-verbose`
 * V8 prints the factor it applied to the heap's limit after each full collection
 * (`[HeapController] Limit: old size: …, new limit: … (<factor>)`); the child forces one at exit.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const DIST = join(import.meta.dirname, "..", "..", "dist", "src");
const CLI = join(DIST, "cli", "main.js");
const BOOTSTRAP = join(DIST, "telemetry", "bootstrap.js");
/** Forces a full collection as the process exits (needs --expose-gc). */
const GC_AT_EXIT = `data:text/javascript,${encodeURIComponent('process.on("exit", () => globalThis.gc());')}`;
const run = promisify(execFile);

async function heapFactors(nodeArgs: string[], entry: string, args: string[] = []): Promise<string[]> {
  const { stdout } = await run(process.execPath, ["--expose-gc", "--trace-gc-verbose", "--import", GC_AT_EXIT, ...nodeArgs, entry, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    maxBuffer: 16 * 1024 * 1024,
  });
  return [...stdout.matchAll(/\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/g)].map((m) => m[1]!);
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
});

describe("the entry points' heap growth", () => {
  it("the command line grows the heap by half of what is live, not V8's default", async () => {
    const factors = await heapFactors([], CLI, ["--version"]);
    expect(factors.length).toBeGreaterThan(0);
    expect(factors.at(-1)).toBe("1.5");
  });

  it("the Functions app's first entry does the same", async () => {
    const factors = await heapFactors([], BOOTSTRAP);
    expect(factors.at(-1)).toBe("1.5");
  });

  it("a growth given to Node on its command line is kept", async () => {
    const factors = await heapFactors(["--heap-growing-percent=100"], CLI, ["--version"]);
    expect(factors.at(-1)).toBe("2.0");
  });
});
