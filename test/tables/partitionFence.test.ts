import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { failedOperationIndex, FENCE_ROW_KEY, isFenceRow, PartitionFence } from "../../src/tables/partitionFence.js";

describe("partition fences", () => {
  it("reads which operation of a transaction the service refused", () => {
    expect(failedOperationIndex(new RestError("3:The update condition specified in the request was not satisfied.\nRequestId:x", { statusCode: 412 }))).toBe(3);
    expect(failedOperationIndex(new RestError("The specified resource does not exist.", { statusCode: 404 }))).toBeUndefined();
  });

  it("keeps its fence row out of every user listing: its RowKey is one no user can have", () => {
    expect(FENCE_ROW_KEY).toBe("");
    expect(isFenceRow({ rowKey: "" })).toBe(true);
    expect(isFenceRow({ rowKey: "00000000-0000-0000-0000-000000000000" })).toBe(false);
  });
});

/** A table that records what is sent to it and answers every write with a fresh ETag. */
function recordingTable() {
  const sent: string[] = [];
  let etag = 0;
  const table = {
    tableName: "fenced",
    upsertEntity: async (entity: { partitionKey: string; rowKey: string }, mode: string) => {
      sent.push(`upsert ${mode} ${entity.partitionKey}/${entity.rowKey}`);
      return { etag: `e${++etag}` };
    },
    submitTransaction: async (actions: TransactionAction[]) => {
      const fence = actions.at(-1)!;
      sent.push(`transaction ${actions.length} (fence: ${fence[0]}${fence[3] ? ` if-match ${(fence[3] as { etag: string }).etag}` : ""})`);
      return { subResponses: actions.map(() => ({ etag: `e${++etag}` })) };
    },
    getEntity: async () => {
      throw new Error("not read in these cases");
    },
  };
  return { sent, table: table as unknown as TableClient };
}

function fenceOver(table: TableClient): PartitionFence {
  const guard = { assertHeld() {}, markLost() {}, owner: "me", signal: new AbortController().signal };
  return new PartitionFence({ table, guard, limit: (task) => task(), translate: (error) => error as Error });
}

describe("claiming partitions", () => {
  const write: TransactionAction = ["upsert", { partitionKey: "u-01", rowKey: "a" }, "Replace"];

  it("claims every partition at once (a lease taken over): each fence row rewritten before any write", async () => {
    const { sent, table } = recordingTable();
    const fence = fenceOver(table);
    await fence.claim(["u-00", "u-01"]);
    expect(sent).toEqual(["upsert Replace u-00/", "upsert Replace u-01/"]);
    await fence.submit("u-01", [write], "writing");
    expect(sent[2]).toBe("transaction 2 (fence: update if-match e2)");
  });

  it("claims a partition at its first write when asked to (a lease created after a release): nothing for a partition never written", async () => {
    const { sent, table } = recordingTable();
    const fence = fenceOver(table);
    fence.claimOnFirstWrite(["u-00", "u-01"]);
    expect(sent).toEqual([]);
    await fence.submit("u-01", [write], "writing");
    await fence.submit("u-01", [write], "writing");
    // The claim goes first, in the partition's slot; the transactions follow it with its ETag, then their own.
    expect(sent).toEqual(["upsert Replace u-01/", "transaction 2 (fence: update if-match e1)", "transaction 2 (fence: update if-match e3)"]);
  });

  it("creates the fence row of a partition nobody claimed (a brand-new partition), as before", async () => {
    const { sent, table } = recordingTable();
    await fenceOver(table).submit("s-07", [write], "writing");
    expect(sent).toEqual(["transaction 2 (fence: create)"]);
  });
});
