/**
 * The guard of the floors (docs/architecture.md): the folder-level import graph of src/, computed
 * from the import statements, has no arrow running up a floor and no cycle.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FLOORS, SRC, floorOf, folderImports, importCycles, type FolderImport } from "../support/floors.js";

const imports = folderImports();
const describeImport = (i: FolderImport) => `${i.file} (${i.from}) imports ${i.specifier} (${i.to})`;

describe("the floors of src/", () => {
  it("reads the imports of every folder (the graph is not empty by mistake)", () => {
    const pairs = new Set(imports.map((i) => `${i.from}->${i.to}`));
    // Known arrows of each kind: the composition over the run, the run over its stores.
    expect(pairs).toContain("app->sync");
    expect(pairs).toContain("sync->snapshots");
    expect(pairs).toContain("cli->app");
  });

  it("places every folder of src/ on exactly one floor, and names no folder that does not exist", () => {
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory()).sort();
    const placed = FLOORS.flat();
    expect(new Set(placed).size).toBe(placed.length);
    expect([...placed].sort()).toEqual(folders);
  });

  it("has no arrow running up, or across one floor: a folder imports only folders on floors below its own", () => {
    const upward = imports.filter((i) => !(floorOf(i.from)! < floorOf(i.to)!)).map(describeImport);
    expect(upward).toEqual([]);
  });

  it("has no cycle between folders", () => {
    expect(importCycles(imports)).toEqual([]);
  });

  it("finds a cycle when there is one", () => {
    const loop = (from: string, to: string): FolderImport => ({ from, to, file: `src/${from}/x.ts`, specifier: `../${to}/y.js` });
    expect(importCycles([loop("app", "sync"), loop("sync", "snapshots"), loop("snapshots", "app"), loop("cli", "app")])).toEqual([["app", "snapshots", "sync"]]);
  });
});
