import { describe, expect, it } from "vitest";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import { LeaseFencedTable } from "../../src/tables/leaseFencedTable.js";

/** A table that records what is sent to it and answers every write with a fresh ETag. */
function recordingTable() {
  const sent: string[] = [];
  let etag = 0;
  const table = {
    tableName: "fenced",
    upsertEntity: async (entity: { partitionKey: string; rowKey: string }, mode: string) => {
      sent.push(`claim (${mode}) ${entity.partitionKey}`);
      return { etag: `e${++etag}` };
    },
    submitTransaction: async (actions: TransactionAction[]) => {
      const last = actions.at(-1)!;
      const fence = (last[1] as { rowKey: string }).rowKey === "" ? ` + fence ${last[0]}${last[3] ? ` if-match ${(last[3] as { etag: string }).etag}` : ""}` : "";
      sent.push(`transaction ${(actions[0]![1] as { partitionKey: string }).partitionKey}${fence}`);
      return { subResponses: actions.map(() => ({ etag: `e${++etag}` })) };
    },
  };
  return { sent, table: table as unknown as TableClient };
}

const guard = () => ({ assertHeld() {}, markLost() {}, owner: "me", signal: new AbortController().signal });
const storage = { kind: "connectionString" as const, connectionString: "", tableEndpoint: "http://127.0.0.1:1/devstoreaccount1", allowInsecureConnection: true };
/** Runs each task at once (the store's p-limit, unbounded). */
const inline = ((task: () => Promise<unknown>) => task()) as unknown as LimitFunction;
const upsert = (partitionKey: string): TransactionAction[] => [["upsert", { partitionKey, rowKey: "a" }, "Replace"]];

describe("a table's transactions under the writer lease", () => {
  it("claims each partition once per lease, before that lease's first transaction there; a new lease claims again", async () => {
    const { sent, table } = recordingTable();
    const writer = new LeaseFencedTable({ table, storage, limit: inline });
    const first = guard();
    await writer.submit("p1", upsert("p1"), "writing", { lease: first });
    await writer.submit("p1", upsert("p1"), "writing", { lease: first });
    await writer.submit("p2", upsert("p2"), "writing", { lease: first });
    await writer.submit("p1", upsert("p1"), "writing", { lease: guard() });
    expect(sent).toEqual([
      "claim (Replace) p1",
      "transaction p1 + fence update if-match e1",
      "transaction p1 + fence update if-match e3",
      "claim (Replace) p2",
      "transaction p2 + fence update if-match e6",
      "claim (Replace) p1",
      "transaction p1 + fence update if-match e9",
    ]);
  });

  it("sends a plain transaction without a lease (tests that own the tables)", async () => {
    const { sent, table } = recordingTable();
    const writer = new LeaseFencedTable({ table, storage, limit: inline });
    await writer.submit("p1", upsert("p1"), "writing");
    expect(sent).toEqual(["transaction p1"]);
  });
});
