/**
 * The guard of function length (issue 28; docs/architecture.md, "Floors"): no function in src/ is
 * over 80 lines. A long function is split into small named steps. The only exception is a
 * declarative table (a function that is one literal: a catalogue, a list of commands' options),
 * and each is listed below by file and name, with the reason.
 */
import { describe, expect, it } from "vitest";
import { functionLengths, functionLengthsOf, type FunctionLength } from "../support/functionLengths.js";

const MAX_FUNCTION_LINES = 80;

/** Declarative tables over the limit: `file` and `name` as functionLengths reports them, and why. */
const DECLARATIVE_TABLES: readonly { file: string; name: string; reason: string }[] = [];

const exempt = (f: FunctionLength) => DECLARATIVE_TABLES.some((t) => t.file === f.file && t.name === f.name);
const describeFunction = (f: FunctionLength) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`;

describe("the length of functions in src/", () => {
  const all = functionLengths();

  it("reads every function of src/ (the list is not empty by mistake)", () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all.map((f) => `${f.file} ${f.name}`)).toContain("src/sync/userSyncService.ts UserSyncService.runDue");
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines, but the declarative tables listed here`, () => {
    expect(all.filter((f) => f.lines > MAX_FUNCTION_LINES && !exempt(f)).map(describeFunction)).toEqual([]);
  });

  it("lists only declarative tables that exist and are still over the limit", () => {
    for (const table of DECLARATIVE_TABLES) {
      expect(all.find((f) => f.file === table.file && f.name === table.name)?.lines ?? 0, `${table.file} ${table.name}`).toBeGreaterThan(MAX_FUNCTION_LINES);
    }
  });

  it("counts each kind of function, nested ones on their own, from its first line to its closing brace", () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const text = [
      `export function declared(): void {\n${body(3)}\n}`,
      `const arrow = async () => {\n${body(1)}\n};`,
      `class Service {\n  constructor() {}\n  get size(): number {\n    return 1;\n  }\n  async #run(): Promise<void> {\n    const inner = function () {\n${body(2)}\n    };\n  }\n}`,
      `interface Port {\n  read(): void;\n}`,
    ].join("\n");
    expect(functionLengthsOf(text, "x.ts").map((f) => `${f.name} ${f.line} ${f.lines}`)).toEqual([
      "declared 1 5",
      "arrow 6 3",
      "Service.constructor 10 1",
      "Service.size 11 3",
      "Service.#run 14 6",
      "inner 15 4",
    ]);
  });
});
