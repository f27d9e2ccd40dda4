/**
 * docs/architecture.md stays true: every path it names exists, and its table of floors is the one
 * the guard of the imports checks (test/support/floors.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FLOORS } from "../support/floors.js";
import { ROOT } from "../support/scriptStubs.js";

const PAGE = readFileSync(join(ROOT, "docs", "architecture.md"), "utf8");

/** Every repository path the page names: src/…, test/…, tools/…, infra/…, docs/…, package.json. */
function namedPaths(text: string): string[] {
  const paths = text.match(/\b(?:src|test|tools|infra|docs)\/[A-Za-z0-9_./<>-]*[A-Za-z0-9_/>]|\bpackage\.json\b/g) ?? [];
  return [...new Set(paths)];
}

/** A path with a placeholder (`src/cli/<name>Command.ts`) stands for its folder. */
const concrete = (path: string) => (path.includes("<") ? path.slice(0, path.lastIndexOf("/", path.indexOf("<")) + 1) : path);

describe("docs/architecture.md", () => {
  it("names only paths that exist", () => {
    const named = namedPaths(PAGE);
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((path) => !existsSync(join(ROOT, concrete(path))))).toEqual([]);
  });

  it("lists the floors the import guard checks, top first", () => {
    const section = PAGE.slice(PAGE.indexOf("## Floors"), PAGE.indexOf("## The path of a run"));
    const rows = section.split("\n").filter((line) => /^\| \d/.test(line));
    const listed = rows.map((row) => [...row.split("|")[2]!.matchAll(/`src\/([a-z]+)\/`/g)].map((m) => m[1]));
    expect(listed).toEqual(FLOORS.map((floor) => [...floor]));
  });

  it("is linked from README's \"How it works\"", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const howItWorks = readme.slice(readme.indexOf("## How it works"), readme.indexOf("## Command line"));
    expect(howItWorks).toContain("(docs/architecture.md)");
  });
});
