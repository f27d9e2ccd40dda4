import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputFileArgument, writeOutputFile } from "../../src/cli/outputFile.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "output-file-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("--out <file>", () => {
  it("takes standard output and a file in a directory that exists, as typed", () => {
    expect(outputFileArgument("-")).toBe("-");
    expect(outputFileArgument(join(dir, "report.html"))).toBe(join(dir, "report.html"));
  });

  it("refuses a file under a file, naming it", async () => {
    await writeFile(join(dir, "plain"), "x");
    expect(() => outputFileArgument(join(dir, "plain", "report.html"))).toThrow(`${join(dir, "plain")} is a file, not a directory`);
  });

  it("names the path and the fix when the write fails (the directory removed since the check)", async () => {
    const path = join(dir, "gone", "report.html");
    await expect(writeOutputFile(path, "<html>")).rejects.toThrow(`Could not write ${path} (ENOENT): check that its directory exists`);
  });
});
