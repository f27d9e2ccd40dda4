/**
 * The Parquet writer over a column list and a row stream: row groups are handed to the sink as the
 * rows arrive (bounded memory), parts split at groupsPerPart, the same rows give the same bytes, and
 * DuckDB reads every type back (src/lane/parquetParts.ts, src/lane/laneColumns.ts).
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { laneCell, userLaneColumns, userPropertyType, type LaneColumn, type LaneRow } from "../../src/lane/laneColumns.js";
import { partName, writeParquetParts, type PartSink } from "../../src/lane/parquetParts.js";

/** A sink that keeps each part's blocks in memory, and notes how many rows had been pulled at each block. */
function memorySinks(pulled: () => number) {
  const parts = new Map<string, { blocks: Uint8Array[]; pulledAtBlock: number[]; committed: boolean }>();
  const openPart = (name: string): PartSink => {
    const part = { blocks: [] as Uint8Array[], pulledAtBlock: [] as number[], committed: false };
    parts.set(name, part);
    return {
      writeBlock: async (bytes) => {
        part.blocks.push(bytes);
        part.pulledAtBlock.push(pulled());
      },
      commit: async () => {
        part.committed = true;
      },
    };
  };
  const bytesOf = (name: string) => Buffer.concat(parts.get(name)!.blocks);
  return { parts, openPart, bytesOf };
}

const COLUMNS: LaneColumn[] = userLaneColumns(["id", "displayName", "accountEnabled", "createdDateTime", "businessPhones", "employeeOrgData", "employeeId"]);

function* rows(count: number, counter: { pulled: number }): Generator<LaneRow> {
  for (let i = 0; i < count; i++) {
    counter.pulled += 1;
    yield {
      id: `id-${String(i).padStart(6, "0")}`,
      displayname: i % 3 === 0 ? `Zoë 東京 ${i}` : `User ${i}`, // Graph's spelling differs in case: still found
      accountEnabled: i % 4 === 0 ? null : i % 2 === 0,
      createdDateTime: i % 5 === 0 ? "not a date" : new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString(),
      businessPhones: i % 2 === 0 ? [] : [`+1 ${i}`, null],
      employeeOrgData: i % 2 === 0 ? null : { division: "Nord", costCenter: i },
      employeeId: i % 7 === 0 ? 42 : `E${i}`,
      _snapshotTime: new Date(Date.UTC(2026, 11, 7)),
      _tenantId: "t",
      _runId: "r",
    };
  }
}

describe("writeParquetParts", () => {
  it("hands each row group to the sink as soon as it is full: rows are never read far ahead of the writes", async () => {
    const counter = { pulled: 0 };
    const sinks = memorySinks(() => counter.pulled);
    const written = await writeParquetParts({ columns: COLUMNS, rows: rows(2_500, counter), openPart: sinks.openPart, rowsPerGroup: 100, groupsPerPart: 10 });
    expect(written.map((p) => [p.name, p.rows])).toEqual([
      ["part-00000.parquet", 1000],
      ["part-00001.parquet", 1000],
      ["part-00002.parquet", 500],
    ]);
    const first = sinks.parts.get("part-00000.parquet")!;
    // One block per row group (the first carries the file's magic), then the footer.
    expect(first.blocks).toHaveLength(11);
    expect(first.pulledAtBlock.slice(0, 10)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect([...sinks.parts.values()].every((p) => p.committed)).toBe(true);
    expect(written[0]!.bytes).toBe(sinks.bytesOf("part-00000.parquet").byteLength);
  });

  it("the same rows give the same bytes; no rows still give one part with the columns", async () => {
    const a = memorySinks(() => 0);
    const b = memorySinks(() => 0);
    await writeParquetParts({ columns: COLUMNS, rows: rows(300, { pulled: 0 }), openPart: a.openPart, rowsPerGroup: 64, groupsPerPart: 100 });
    await writeParquetParts({ columns: COLUMNS, rows: rows(300, { pulled: 0 }), openPart: b.openPart, rowsPerGroup: 64, groupsPerPart: 100 });
    expect(a.bytesOf(partName(0)).equals(b.bytesOf(partName(0)))).toBe(true);
    const empty = memorySinks(() => 0);
    expect(await writeParquetParts({ columns: COLUMNS, rows: [], openPart: empty.openPart, rowsPerGroup: 10, groupsPerPart: 1 })).toEqual([{ name: "part-00000.parquet", rows: 0, bytes: empty.bytesOf(partName(0)).byteLength }]);
  });

  it("DuckDB reads every type back: text, booleans, UTC timestamps, lists, JSON, NULLs", async () => {
    const sinks = memorySinks(() => 0);
    await writeParquetParts({ columns: COLUMNS, rows: rows(10, { pulled: 0 }), openPart: sinks.openPart, rowsPerGroup: 4, groupsPerPart: 100 });
    const file = join(await mkdtemp(join(tmpdir(), "parquet-parts-")), "part.parquet");
    await writeFile(file, sinks.bytesOf(partName(0)));
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const types = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJson().map((r) => `${String(r.column_name)} ${String(r.column_type)}`);
      expect(types).toEqual([
        "id VARCHAR",
        "displayName VARCHAR",
        "accountEnabled BOOLEAN",
        "createdDateTime TIMESTAMP WITH TIME ZONE",
        "businessPhones VARCHAR[]",
        "employeeOrgData VARCHAR",
        "employeeId VARCHAR",
        "_snapshotTime TIMESTAMP WITH TIME ZONE",
        "_tenantId VARCHAR",
        "_runId VARCHAR",
      ]);
      const read = (await connection.runAndReadAll(`SELECT id, displayName, accountEnabled, epoch_ms(createdDateTime) AS created, businessPhones, employeeOrgData, employeeId FROM read_parquet('${file}') ORDER BY id`)).getRowObjectsJson();
      expect(read[0]).toEqual({ id: "id-000000", displayName: "Zoë 東京 0", accountEnabled: null, created: null, businessPhones: [], employeeOrgData: null, employeeId: "42" });
      expect(read[1]).toEqual({ id: "id-000001", displayName: "User 1", accountEnabled: false, created: String(Date.UTC(2020, 0, 1) + 1000), businessPhones: ["+1 1", null], employeeOrgData: '{"division":"Nord","costCenter":1}', employeeId: "E1" });
      expect(read[2]).toMatchObject({ accountEnabled: true });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

describe("lane columns", () => {
  it("types Graph's user properties, whatever their case, and everything else as text", () => {
    expect(["accountEnabled", "CREATEDDATETIME", "proxyAddresses", "signInActivity", "extension_abc_costCenter", "department"].map(userPropertyType)).toEqual([
      "boolean",
      "timestamp",
      "stringList",
      "json",
      "string",
      "string",
    ]);
    expect(userLaneColumns(["id", "mail"]).map((c) => c.name)).toEqual(["id", "mail", "_snapshotTime", "_tenantId", "_runId"]);
  });

  it("a value that does not fit its column's type is NULL, except text, which takes any value as JSON", () => {
    expect(laneCell("boolean", "true")).toBeNull();
    expect(laneCell("timestamp", 5)).toBeNull();
    expect(laneCell("stringList", "a")).toBeNull();
    expect(laneCell("string", { a: 1 })).toBe('{"a":1}');
    expect(laneCell("json", "text")).toBe('"text"');
    expect(laneCell("string", undefined)).toBeNull();
  });
});
