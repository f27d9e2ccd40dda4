/**
 * The floors of src/, top first (docs/architecture.md, "Floors"): a folder may import only folders
 * on floors below its own. test/architecture/floors.test.ts checks the import statements against
 * it; test/architecture/architectureDoc.test.ts checks that the page lists the same floors.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { ROOT } from "./scriptStubs.js";

export const FLOORS: readonly (readonly string[])[] = [
  ["cli", "functions"],
  ["app"],
  ["report"],
  ["fanout"],
  ["telemetry"],
  ["sync", "tenants"],
  ["lane"],
  ["mirror", "snapshots"],
  ["kinds"],
  ["tables"],
  ["credentials", "graph"],
  ["configuration"],
  ["shared"],
];

export const SRC = join(ROOT, "src");

/** The floor of a folder of src/, 0 the top; undefined when the folder is on none. */
export function floorOf(folder: string): number | undefined {
  const index = FLOORS.findIndex((floor) => floor.includes(folder));
  return index === -1 ? undefined : index;
}

export interface FolderImport {
  from: string;
  to: string;
  /** The importing file, relative to the repository root. */
  file: string;
  specifier: string;
}

/** Every .ts file under `dir`, its sub-folders included. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** The folder of src/ a path is in ("" for a file at src/ itself, undefined outside src/). */
function folderOf(path: string): string | undefined {
  const inside = relative(SRC, path);
  if (inside.startsWith("..")) return undefined;
  const parts = inside.split(sep);
  return parts.length > 1 ? parts[0] : "";
}

/**
 * Every import (static, dynamic, `export … from`, `import type`) from one folder of src/ into
 * another, read from the source by the TypeScript compiler's own pre-processor.
 */
export function folderImports(root: string = SRC): FolderImport[] {
  const found: FolderImport[] = [];
  for (const file of sourceFiles(root)) {
    const from = folderOf(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith(".")) continue;
      const to = folderOf(resolve(dirname(file), specifier));
      if (from === undefined || to === undefined || to === from) continue;
      found.push({ from, to, file: relative(ROOT, file), specifier });
    }
  }
  return found;
}

/** The folders that import each other, directly or round a longer loop (Tarjan's strongly connected components). */
export function importCycles(imports: readonly FolderImport[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    if (!next.has(from)) next.set(from, new Set());
    next.get(from)!.add(to);
    if (!next.has(to)) next.set(to, new Set());
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}
