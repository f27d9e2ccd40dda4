/**
 * The benchmark's indexed table service (tools/bench/indexedTableService.ts), driven through the
 * real `@azure/data-tables` clients and the product's own table client (its direct `$batch` path,
 * src/tables/directTransactions.ts), with the same assertions run against Azurite: what the
 * product relies on answers alike on both (codes, statuses, ETags, typed values, paging,
 * transactions all or nothing). A filter the service cannot evaluate is refused (501), never guessed.
 */
import { TableClient, TableServiceClient, odata, type TableEntity, type TransactionAction } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite } from "../../../tools/azurite.js";
import { startIndexedTableServer, startIndexedTableService, type IndexedTableService } from "../../../tools/bench/indexedTableService.js";
import { createTableClient } from "../../../src/tables/tableClient.js";
import { storageErrorCode } from "../../../src/tables/storageErrors.js";

interface Store {
  connectionString: string;
  tableEndpoint: string;
  close(): Promise<void>;
}

const STORES: Array<[string, () => Promise<Store>]> = [
  ["the indexed table service", startIndexedTableServer],
  ["Azurite", () => startAzurite()],
];

async function failure(promise: Promise<unknown>): Promise<{ status: number | undefined; code: string | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { status: (error as { statusCode?: number }).statusCode, code: storageErrorCode(error), message: (error as Error).message };
  }
  throw new Error("expected a failure");
}

let tableCount = 0;
const tableName = () => `t${Date.now().toString(36)}x${(tableCount += 1)}`;

describe.each(STORES)("through the SDK, on %s", (_name, start) => {
  let store: Store;
  const client = (name: string) => TableClient.fromConnectionString(store.connectionString, name, { allowInsecureConnection: true });
  /** The product's client: transactions sent as one body through its pipeline (directTransactions.ts). */
  const productClient = (name: string) =>
    createTableClient({ storage: { kind: "connectionString", connectionString: store.connectionString, tableEndpoint: store.tableEndpoint, allowInsecureConnection: true }, tableName: name, owner: "the test" });
  beforeAll(async () => void (store = await start()), 60_000);
  afterAll(async () => store?.close());

  it("creates and deletes tables (creating twice is no error; a deleted table answers 404 TableNotFound)", async () => {
    const name = tableName();
    const table = client(name);
    await table.createTable();
    await table.createTable();
    const service = TableServiceClient.fromConnectionString(store.connectionString, { allowInsecureConnection: true });
    const names: string[] = [];
    for await (const t of service.listTables()) names.push(t.name!);
    expect(names).toContain(name);
    await table.deleteTable();
    expect(await failure(table.getEntity("p", "r"))).toMatchObject({ status: 404, code: "TableNotFound" });
    expect(await failure(table.createEntity({ partitionKey: "p", rowKey: "r" }))).toMatchObject({ status: 404, code: "TableNotFound" });
  });

  it("inserts, reads typed values back as written, and refuses a second insert with 409 EntityAlreadyExists", async () => {
    const table = client(tableName());
    await table.createTable();
    const when = new Date("2026-12-07T10:11:12.345Z");
    const entity = {
      partitionKey: "p'1",
      rowKey: "r 1é",
      text: "x",
      int32: 42,
      double: 1.5,
      flag: true,
      big: BigInt("9007199254740993"),
      when,
      guid: { value: "0a1b2c3d-0000-4000-8000-00000000000a", type: "Guid" as const },
      bytes: new Uint8Array([1, 2, 255]),
      nothing: null,
    };
    const created = await table.createEntity(entity);
    const read = await table.getEntity<Record<string, unknown>>("p'1", "r 1é");
    expect(read.etag).toBe(created.etag);
    expect(read).toMatchObject({ partitionKey: "p'1", rowKey: "r 1é", text: "x", int32: 42, double: 1.5, flag: true, big: BigInt("9007199254740993"), when, guid: { value: "0a1b2c3d-0000-4000-8000-00000000000a", type: "Guid" } });
    expect([...(read.bytes as Uint8Array)]).toEqual([1, 2, 255]);
    expect(read.nothing).toBeUndefined();
    expect(typeof read.timestamp).toBe("string");
    expect(await failure(table.createEntity(entity))).toMatchObject({ status: 409, code: "EntityAlreadyExists" });
    expect(await failure(table.getEntity("p'1", "missing"))).toMatchObject({ status: 404, code: "ResourceNotFound" });
  });

  it("upserts with merge and replace, updates with and without an ETag (412 when stale, 404 when absent), deletes", async () => {
    const table = client(tableName());
    await table.createTable();
    await table.upsertEntity({ partitionKey: "p", rowKey: "r", a: "1", b: "2" }, "Merge");
    await table.upsertEntity({ partitionKey: "p", rowKey: "r", b: "3", c: 4 }, "Merge");
    expect(await table.getEntity("p", "r")).toMatchObject({ a: "1", b: "3", c: 4 });
    const replaced = await table.upsertEntity({ partitionKey: "p", rowKey: "r", d: "5" }, "Replace");
    const afterReplace = await table.getEntity<Record<string, unknown>>("p", "r");
    expect(afterReplace.a).toBeUndefined();
    expect(afterReplace).toMatchObject({ d: "5" });
    expect(afterReplace.etag).toBe(replaced.etag);
    const updated = await table.updateEntity({ partitionKey: "p", rowKey: "r", e: "6" }, "Replace", { etag: replaced.etag });
    expect(updated.etag).not.toBe(replaced.etag);
    expect(await failure(table.updateEntity({ partitionKey: "p", rowKey: "r", e: "7" }, "Replace", { etag: replaced.etag }))).toMatchObject({ status: 412, code: "UpdateConditionNotSatisfied" });
    expect(await failure(table.updateEntity({ partitionKey: "p", rowKey: "r", e: "7" }, "Merge", { etag: replaced.etag }))).toMatchObject({ status: 412, code: "UpdateConditionNotSatisfied" });
    await table.updateEntity({ partitionKey: "p", rowKey: "r", f: "8" }, "Merge");
    expect(await table.getEntity("p", "r")).toMatchObject({ e: "6", f: "8" });
    expect(await failure(table.updateEntity({ partitionKey: "p", rowKey: "absent", e: "7" }, "Replace"))).toMatchObject({ status: 404, code: "ResourceNotFound" });
    expect(await failure(table.deleteEntity("p", "r", { etag: replaced.etag }))).toMatchObject({ status: 412, code: "UpdateConditionNotSatisfied" });
    await table.deleteEntity("p", "r", { etag: (await table.getEntity("p", "r")).etag });
    expect(await failure(table.getEntity("p", "r"))).toMatchObject({ status: 404, code: "ResourceNotFound" });
    expect(await failure(table.deleteEntity("p", "r"))).toMatchObject({ status: 404, code: "ResourceNotFound" });
  });

  it("answers the product's filters, on keys and other properties, page by page across $top and partitions", async () => {
    const table = productClient(tableName());
    await table.createTable();
    const rows: TableEntity[] = [];
    for (let p = 0; p < 12; p += 1) {
      for (let r = 0; r < 250; r += 1) rows.push({ partitionKey: `s1-${String(p).padStart(2, "0")}`, rowKey: `r${String(r).padStart(3, "0")}`, _state: r % 3 === 0 ? "removed" : "present", _round: r % 2 === 0 ? "a" : "b", n: { value: String(r), type: "Int64" }, ...(r % 5 === 0 ? {} : { odd: "y" }) });
    }
    rows.push({ partitionKey: "s0-x", rowKey: "r000" }, { partitionKey: "s1.", rowKey: "r000" }, { partitionKey: "s2-00", rowKey: "r000" });
    const byPartition = Map.groupBy(rows, (row) => row.partitionKey);
    for (const [, list] of byPartition) for (let at = 0; at < list.length; at += 100) await table.submitTransaction(list.slice(at, at + 100).map((row): TransactionAction => ["create", row]));
    const keysOf = async (filter: string, pageSize = 1000) => {
      const keys: string[] = [];
      const sizes: number[] = [];
      for await (const page of table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: pageSize })) {
        sizes.push(page.length);
        for (const e of page) keys.push(`${e.partitionKey}/${e.rowKey}`);
      }
      return { keys, sizes };
    };
    const expected = (accept: (row: TableEntity) => boolean) => rows.filter(accept).map((row) => `${row.partitionKey}/${row.rowKey}`).sort();
    const range = odata`PartitionKey gt ${"s1-"} and PartitionKey lt ${"s1."}`;
    const all = await keysOf(range);
    expect(all.keys).toEqual(expected((row) => row.partitionKey > "s1-" && row.partitionKey < "s1."));
    expect(all.keys).toHaveLength(3000);
    expect(all.sizes.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(all.sizes.every((size) => size <= 1000)).toBe(true);
    const small = await keysOf(range, 7);
    expect(small.keys).toEqual(all.keys);
    expect(Math.max(...small.sizes)).toBe(7);
    expect((await keysOf(odata`PartitionKey eq ${"s1-03"}`)).keys).toEqual(expected((row) => row.partitionKey === "s1-03"));
    const ids = ["r007", "r100", "r249", "r999"];
    expect((await keysOf(`${odata`PartitionKey eq ${"s1-04"}`} and (${ids.map((id) => odata`RowKey eq ${id}`).join(" or ")})`)).keys).toEqual(["s1-04/r007", "s1-04/r100", "s1-04/r249"]);
    expect((await keysOf(odata`PartitionKey eq ${"s1-05"} and RowKey le ${"r010"} and (RowKey eq ${"r010"} or _state eq ${"removed"})`)).keys).toEqual(["s1-05/r000", "s1-05/r003", "s1-05/r006", "s1-05/r009", "s1-05/r010"]);
    expect((await keysOf(odata`PartitionKey eq ${"s1-06"} and RowKey lt ${"r005"}`)).keys).toEqual(expected((row) => row.partitionKey === "s1-06" && (row.rowKey as string) < "r005"));
    expect((await keysOf(`${range} and RowKey eq 'r123'`)).keys).toEqual(expected((row) => row.partitionKey > "s1-" && row.partitionKey < "s1." && row.rowKey === "r123"));
    const sweep = `${range} and _state eq 'present' and _round ne 'a'`;
    expect((await keysOf(sweep, 100)).keys).toEqual(expected((row) => row.partitionKey > "s1-" && row.partitionKey < "s1." && row._state === "present" && row._round !== "a"));
    // A property an entity lacks makes even `ne` false.
    expect((await keysOf(`PartitionKey eq 's1-07' and odd ne 'z'`)).keys).toEqual(expected((row) => row.partitionKey === "s1-07" && row.odd !== undefined));
    expect((await keysOf(`PartitionKey eq 's1-08' and n ge 240L`)).keys).toEqual(expected((row) => row.partitionKey === "s1-08" && Number((row.n as { value: string }).value) >= 240));
    expect((await keysOf(`PartitionKey eq 's1-08' and not (RowKey lt 'r248')`)).keys).toEqual(["s1-08/r248", "s1-08/r249"]);
    const select = [];
    for await (const e of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${"s1-09"} and RowKey eq ${"r001"}`, select: ["PartitionKey", "RowKey", "_state"] } })) select.push(e);
    expect(select).toHaveLength(1);
    expect(select[0]).toMatchObject({ partitionKey: "s1-09", rowKey: "r001", _state: "present" });
    expect(select[0]!._round).toBeUndefined();
    // No table yet: the product's "nothing written yet" read.
    expect(await failure(client(tableName()).listEntities().next())).toMatchObject({ status: 404, code: "TableNotFound" });
  });

  it("runs entity group transactions all or nothing, by the product's direct $batch and by the SDK's own", async () => {
    for (const table of [productClient(tableName()), client(tableName())]) {
      await table.createTable();
      const created = await table.submitTransaction(Array.from({ length: 100 }, (_, i): TransactionAction => ["create", { partitionKey: "p", rowKey: `r${String(i).padStart(3, "0")}`, i }]));
      expect(created.status).toBe(202);
      expect(created.subResponses).toHaveLength(100);
      expect(created.subResponses.every((r) => r.status === 204 && typeof r.etag === "string")).toBe(true);
      const r000 = await table.getEntity("p", "r000");
      expect(r000.etag).toBe(created.getResponseForEntity("r000")?.etag);
      // The third operation fails: the first two are undone, the answer names it.
      const conflict = await failure(
        table.submitTransaction([
          ["upsert", { partitionKey: "p", rowKey: "r000", i: -1 }, "Replace"],
          ["delete", { partitionKey: "p", rowKey: "r001" }],
          ["create", { partitionKey: "p", rowKey: "r002" }],
        ]),
      );
      expect(conflict).toMatchObject({ status: 409, code: "EntityAlreadyExists" });
      expect(conflict.message).toMatch(/^2:/);
      expect(await table.getEntity("p", "r000")).toMatchObject({ i: 0, etag: r000.etag });
      expect(await table.getEntity("p", "r001")).toMatchObject({ i: 1 });
      const stale = await failure(
        table.submitTransaction([
          ["create", { partitionKey: "p", rowKey: "new" }],
          ["update", { partitionKey: "p", rowKey: "r000", i: 9 }, "Merge", { etag: `W/"datetime'2020-01-01T00%3A00%3A00.0000000Z'"` }],
        ]),
      );
      expect(stale).toMatchObject({ status: 412, code: "UpdateConditionNotSatisfied" });
      expect(stale.message).toMatch(/^1:/);
      expect(await failure(table.getEntity("p", "new"))).toMatchObject({ status: 404 });
      const merged = await table.submitTransaction([
        ["update", { partitionKey: "p", rowKey: "r000", j: 1 }, "Merge", { etag: r000.etag }],
        ["upsert", { partitionKey: "p", rowKey: "r003", k: 2 }, "Merge"],
        ["delete", { partitionKey: "p", rowKey: "r004" }],
      ]);
      expect(merged.subResponses.map((r) => r.status)).toEqual([204, 204, 204]);
      expect(await table.getEntity("p", "r000")).toMatchObject({ i: 0, j: 1 });
      expect(await table.getEntity("p", "r003")).toMatchObject({ i: 3, k: 2 });
      expect(await failure(table.getEntity("p", "r004"))).toMatchObject({ status: 404 });
      const tooMany = await failure(table.submitTransaction(Array.from({ length: 101 }, (_, i): TransactionAction => ["create", { partitionKey: "p", rowKey: `x${i}` }])));
      expect(tooMany.status).toBe(400);
      expect(await failure(table.getEntity("p", "x0"))).toMatchObject({ status: 404 });
    }
  });
});

describe("the indexed table service alone", () => {
  let service: IndexedTableService;
  beforeAll(async () => void (service = await startIndexedTableService()), 30_000);
  afterAll(async () => service?.close());

  it("runs as its own process, and refuses a filter it cannot evaluate with 501 rather than guess", async () => {
    expect(service.pid).not.toBe(process.pid);
    const table = TableClient.fromConnectionString(service.connectionString, tableName(), { allowInsecureConnection: true });
    await table.createTable();
    await table.createEntity({ partitionKey: "p", rowKey: "r", n: { value: "5", type: "Int64" } });
    const list = (filter: string) => table.listEntities({ queryOptions: { filter } }).next();
    for (const filter of ["startswith(RowKey, 'r')", "n eq 5", "RowKey eq PartitionKey", "RowKey add 1 eq 2", "bytes eq X'00'"]) {
      const refused = await failure(list(filter));
      expect(refused, filter).toMatchObject({ status: 501, code: "NotImplemented" });
      expect(refused.message).toMatch(/cannot evaluate the \$filter/);
    }
    expect((await list("n eq 5L")).value).toMatchObject({ rowKey: "r" });
  });
});
