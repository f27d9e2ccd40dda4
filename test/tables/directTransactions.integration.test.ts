/**
 * On Azurite, what a direct transaction stores (src/tables/directTransactions.ts, the path every
 * client from createTableClient takes) is what the SDK's `submitTransaction` stores: the product's
 * user entities (snapshot and mirror), every value type, awkward keys, merges, deletes and the fence
 * row's conditional update, read back with their types and compared entity by entity. A refused
 * transaction fails as the SDK's does and changes nothing.
 */
import { randomUUID } from "node:crypto";
import { isRestError } from "@azure/core-rest-pipeline";
import { TableClient, type TransactionAction } from "@azure/data-tables";
import { describe, expect, it, vi } from "vitest";
import { createTableClient } from "../../src/tables/tableClient.js";
import { encodeUserEntity } from "../../src/tables/userEntity.js";
import { createSimulatedDirectory, SIMULATED_USER_PROPERTIES } from "../../tools/simulated-tenant/users.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile();

/** Two tables: one written by the SDK's own method, one by the product's client. */
async function tables(): Promise<{ sdk: TableClient; direct: TableClient }> {
  const name = `d${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const storage = azurite.tableStorage;
  if (storage.kind !== "connectionString") throw new Error("Azurite is a connection string");
  const sdk = TableClient.fromConnectionString(storage.connectionString, `${name}s`, { allowInsecureConnection: true });
  const direct = createTableClient({ storage, tableName: `${name}d`, owner: "test" });
  expect(direct.submitTransaction).not.toBe(sdk.submitTransaction);
  await Promise.all([sdk.createTable(), direct.createTable()]);
  return { sdk, direct };
}

/** Every entity of the table with its stored types (no conversion), without the service's timestamp and ETag. */
async function stored(table: TableClient): Promise<Array<Record<string, unknown>>> {
  const entities: Array<Record<string, unknown>> = [];
  for await (const entity of table.listEntities({ disableTypeConversion: true })) {
    const { etag: _etag, timestamp: _timestamp, ...rest } = entity as Record<string, unknown>;
    entities.push(rest);
  }
  return entities;
}

/** Sends `actions` through the product's client, checking that it did not hand them to the SDK's method. */
async function directly<T>(table: TableClient, send: (table: TableClient) => Promise<T>): Promise<T> {
  const sdkMethod = vi.spyOn(TableClient.prototype, "submitTransaction");
  try {
    return await send(table);
  } finally {
    expect(sdkMethod).not.toHaveBeenCalled();
    sdkMethod.mockRestore();
  }
}

async function submitBoth(both: { sdk: TableClient; direct: TableClient }, batches: TransactionAction[][]): Promise<void> {
  for (const actions of batches) {
    await both.sdk.submitTransaction(actions);
    await directly(both.direct, (table) => table.submitTransaction(actions));
  }
}

describe("direct transactions on Azurite", () => {
  it("store the product's user entities exactly as the SDK's transactions do", async () => {
    const both = await tables();
    const directory = createSimulatedDirectory({ userCount: 300, seed: 11, domain: "fabrikam.example" });
    const entities = Array.from({ length: 300 }, (_, i) => encodeUserEntity(directory.userAt(i, SIMULATED_USER_PROPERTIES), `snap-0${i % 3}`));
    const batches: TransactionAction[][] = [];
    for (const partition of ["snap-00", "snap-01", "snap-02"]) {
      const mine = entities.filter((e) => e.partitionKey === partition);
      batches.push(mine.slice(0, 99).map((e): TransactionAction => ["upsert", e, "Replace"]));
      batches.push(mine.slice(99).map((e): TransactionAction => ["upsert", e, "Replace"]));
    }
    await submitBoth(both, batches);
    const [sdk, direct] = await Promise.all([stored(both.sdk), stored(both.direct)]);
    expect(sdk).toHaveLength(300);
    expect(direct).toEqual(sdk);
  });

  it("store every value type, awkward keys, merges, deletes and a conditional update as the SDK's do", async () => {
    const both = await tables();
    const keys = ["it's", "a b", "100%", "é名😀", "(x)!*~.", "a+b=c&d"];
    const first: TransactionAction[] = keys.map((rowKey, i) => [
      "upsert",
      { partitionKey: "p q'", rowKey, text: `v${i}`, int: i, fraction: i + 0.5, yes: i % 2 === 0, double: { value: 2, type: "Double" }, big: { value: "9007199254740993", type: "Int64" }, when: new Date(Date.UTC(2026, 11, 7, i)), guid: { value: "a4a8b4d1-0000-0000-0000-000000000001", type: "Guid" } },
      "Replace",
    ]);
    first.push(["create", { partitionKey: "p q'", rowKey: "", kind: "fence", owner: "o", writeId: "w1", at: new Date("2026-12-07T10:00:00.123Z") }]);
    await submitBoth(both, [first]);
    const etags = await Promise.all([both.sdk.getEntity("p q'", ""), both.direct.getEntity("p q'", "")]);
    const second = (etag: string): TransactionAction[] => [
      ["upsert", { partitionKey: "p q'", rowKey: "it's", added: "merged" }, "Merge"],
      ["delete", { partitionKey: "p q'", rowKey: "a b" }],
      ["upsert", { partitionKey: "p q'", rowKey: "100%", only: "replaced" }, "Replace"],
      ["update", { partitionKey: "p q'", rowKey: "", kind: "fence", owner: "o", writeId: "w2", at: new Date("2026-12-07T11:00:00Z") }, "Replace", { etag }],
    ];
    await both.sdk.submitTransaction(second(etags[0].etag));
    await directly(both.direct, (table) => table.submitTransaction(second(etags[1].etag)));
    const [sdk, direct] = await Promise.all([stored(both.sdk), stored(both.direct)]);
    expect(sdk).toHaveLength(6);
    expect(direct).toEqual(sdk);
  });

  it("fail as the SDK's do when the service refuses an operation, and change nothing", async () => {
    const both = await tables();
    await submitBoth(both, [[["create", { partitionKey: "p", rowKey: "", owner: "o" }]]]);
    const stale: TransactionAction[] = [
      ["upsert", { partitionKey: "p", rowKey: "u1", a: 1 }, "Replace"],
      ["update", { partitionKey: "p", rowKey: "", owner: "late" }, "Replace", { etag: 'W/"datetime\'2000-01-01T00%3A00%3A00.0000000Z\'"' }],
    ];
    const failure = async (table: TableClient) => {
      const error = await table.submitTransaction(stale).then(() => undefined, (e: unknown) => e);
      if (!isRestError(error)) throw new Error(`expected a RestError, got ${String(error)}`);
      return { statusCode: error.statusCode, code: error.code, message: error.message.replace(/RequestId:[\w-]+/, "").replace(/Time:\S+/, "") };
    };
    const sdk = await failure(both.sdk);
    const direct = await directly(both.direct, failure);
    expect(direct).toEqual(sdk);
    expect(direct).toMatchObject({ statusCode: 412, message: expect.stringMatching(/^1:/) });
    expect((await stored(both.direct)).map((e) => e.rowKey)).toEqual([""]);
  });
});
