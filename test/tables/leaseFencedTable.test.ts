import { describe, expect, it } from "vitest";
import type { TransactionAction } from "@azure/data-tables";
import type { LimitFunction } from "p-limit";
import { LeaseFencedTable } from "../../src/tables/leaseFencedTable.js";
import { recordingTable } from "../support/recordingTable.js";

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
      "upsert Replace p1/",
      "transaction 2 (fence: update if-match e1)",
      "transaction 2 (fence: update if-match e3)",
      "upsert Replace p2/",
      "transaction 2 (fence: update if-match e6)",
      "upsert Replace p1/",
      "transaction 2 (fence: update if-match e9)",
    ]);
  });

  it("claims a partition once when its first transactions are sent together, and claims again after a claim that failed", async () => {
    const { sent, table } = recordingTable();
    const writer = new LeaseFencedTable({ table, storage, limit: inline });
    const lease = guard();
    await Promise.all([writer.submit("p1", upsert("p1"), "writing", { lease }), writer.submit("p1", upsert("p1"), "writing", { lease })]);
    expect(sent).toEqual(["upsert Replace p1/", "transaction 2 (fence: update if-match e1)", "transaction 2 (fence: update if-match e3)"]);

    const flaky = table as unknown as { upsertEntity: (...args: unknown[]) => Promise<unknown> };
    const upsertEntity = flaky.upsertEntity;
    flaky.upsertEntity = async () => {
      throw new Error("the service is unavailable");
    };
    await expect(writer.submit("p2", upsert("p2"), "writing", { lease })).rejects.toThrow("taking partition p2 of fenced over");
    flaky.upsertEntity = upsertEntity;
    await writer.submit("p2", upsert("p2"), "writing", { lease });
    expect(sent.slice(3)).toEqual(["upsert Replace p2/", "transaction 2 (fence: update if-match e6)"]);
  });

  it("sends a plain transaction without a lease (tests that own the tables)", async () => {
    const { sent, table } = recordingTable();
    const writer = new LeaseFencedTable({ table, storage, limit: inline });
    await writer.submit("p1", upsert("p1"), "writing");
    expect(sent).toEqual(["transaction 1"]);
  });
});
