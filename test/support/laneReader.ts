/**
 * Reads the analytics lane back as a user would: the container's blobs downloaded to a folder, then
 * DuckDB (`@duckdb/node-api`) over the Parquet files with Hive partitioning. Values come back as
 * DuckDB's JSON rendering (lists as arrays, booleans as booleans) with timestamps as epoch
 * milliseconds, so a test compares them with `export` user by user.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ContainerClient } from "@azure/storage-blob";
import { setTimeout as sleep } from "node:timers/promises";
import type { LaneColumn } from "../../src/lane/laneColumns.js";
import type { WriterLease } from "../../src/snapshots/writerLease.js";
import type { ProxiedRequest, TableProxy } from "./tableProxy.js";

/** Every blob name in the container, in the service's (lexical) order. */
export async function listBlobNames(container: ContainerClient, prefix?: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat(prefix ? { prefix } : {})) names.push(blob.name);
  return names;
}

/** Downloads the container (or a prefix of it) to a new folder; returns the folder. */
export async function downloadContainer(container: ContainerClient, prefix?: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "lane-"));
  for (const name of await listBlobNames(container, prefix)) {
    const path = join(folder, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await container.getBlockBlobClient(name).downloadToBuffer());
  }
  return folder;
}

export interface DuckRead {
  /** Column name → DuckDB type, in file order. */
  types: Array<[string, string]>;
  rows: Array<Record<string, unknown>>;
}

/** Runs `read_parquet(glob, hive_partitioning = true)` and returns the columns' types and every row. */
export async function readParquetWithDuckDb(glob: string, columns: readonly LaneColumn[], orderBy = "id"): Promise<DuckRead> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const source = `read_parquet('${glob.replace(/'/g, "''")}', hive_partitioning = true)`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    const types = described.getRowObjectsJson().map((row) => [String(row.column_name), String(row.column_type)] as [string, string]);
    const select = columns.map(({ name, type }) => (type === "timestamp" ? `epoch_ms("${name}") AS "${name}"` : `"${name}"`)).join(", ");
    const result = await connection.runAndReadAll(`SELECT ${select} FROM ${source} ORDER BY "${orderBy}"`);
    const rows = result.getRowObjectsJson().map((row) => {
      const out: Record<string, unknown> = {};
      for (const { name, type } of columns) out[name] = type === "timestamp" && row[name] !== null ? Number(row[name]) : row[name];
      return out;
    });
    return { types, rows };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * What `export`'s value of a user should read back as (worked out here, not by the writer's code):
 * text as text, timestamps as epoch milliseconds, lists as arrays, JSON columns parsed back to the
 * value, missing and null as null.
 */
export function expectedCell(column: LaneColumn, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === "timestamp") return Date.parse(String(value));
  if (column.type === "string" && typeof value !== "string") return JSON.stringify(value);
  return value;
}

/** A read-back cell, comparable with expectedCell (JSON columns parsed). */
export function readBackCell(column: LaneColumn, value: unknown): unknown {
  return column.type === "json" && typeof value === "string" ? JSON.parse(value) : value;
}

/** The ```sql blocks of a section of docs/analytics.md (`heading`, up to the next `### `), as written. */
export function recipeSqlBlocks(heading: string): string[] {
  const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "analytics.md"), "utf8");
  const start = doc.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`docs/analytics.md has no section ${heading}`);
  const section = doc.slice(start, doc.indexOf("\n### ", start + heading.length + 2));
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs `sql` in DuckDB with `folder` (a copy of the container) as the working directory, as a recipe's reader would. */
export async function runSqlInFolder(folder: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const cwd = process.cwd();
  // The recipes' paths are relative to a copy of the container.
  process.chdir(folder);
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    process.chdir(cwd);
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * A lane write while its lease lapses: the first PUT to `containerName` (through `proxy`) is held
 * until `lease` is lost, then let through. Returns what `write` ended with (its error, or undefined)
 * and the PUTs it made to that container.
 */
export async function writeWhileLeaseLapses(proxy: TableProxy, containerName: string, lease: WriterLease, write: () => Promise<unknown>): Promise<{ error: unknown; puts: ProxiedRequest[] }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const inContainer = (request: ProxiedRequest) => request.method === "PUT" && request.path.includes(`/${containerName}/`);
  proxy.decide = (request) => {
    if (inContainer(request) && first) {
      first = false;
      return held;
    }
    return "pass";
  };
  const before = proxy.seen.length;
  const outcome = write().then(
    () => undefined,
    (error: unknown) => error,
  );
  try {
    const until = Date.now() + 15_000;
    while (lease.lost === undefined && Date.now() < until) {
      try {
        lease.assertHeld();
      } catch {
        break;
      }
      await sleep(100);
    }
  } finally {
    release();
    proxy.decide = () => "pass";
  }
  const error = await outcome;
  return { error, puts: proxy.seen.slice(before).filter(inContainer) };
}
