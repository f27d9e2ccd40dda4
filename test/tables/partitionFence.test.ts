import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { failedOperationIndex, FENCE_ROW_KEY, isFenceRow, PartitionFence } from "../../src/tables/partitionFence.js";
import { recordingTable } from "../support/recordingTable.js";

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

/** A fence row kept in memory; each transaction is applied, then answered as the SDK's retry of it would be when `retried` is set. */
function retriedTable(failAt: "data" | "fence") {
  const state = { row: undefined as { writeId?: string; etag: string } | undefined, version: 0, retried: false };
  const table = {
    tableName: "fenced",
    upsertEntity: async (entity: { writeId: string }) => {
      state.row = { writeId: entity.writeId, etag: `e${++state.version}` };
      return { etag: state.row.etag };
    },
    submitTransaction: async (actions: TransactionAction[]) => {
      const fence = actions.at(-1)!;
      if (fence[0] === "update" && (fence[3] as { etag: string }).etag !== state.row?.etag) throw new RestError(`${actions.length - 1}:The update condition specified in the request was not satisfied.`, { statusCode: 412 });
      state.row = { writeId: (fence[1] as unknown as { writeId: string }).writeId, etag: `e${++state.version}` };
      if (!state.retried) return { subResponses: actions.map(() => ({ etag: state.row!.etag })) };
      // The retry of an applied transaction: a data row's create conflicts first, or the fence's update.
      if (failAt === "data") throw new RestError("0:The specified entity already exists.", { statusCode: 409 });
      throw new RestError(`${actions.length - 1}:The update condition specified in the request was not satisfied.`, { statusCode: 412 });
    },
    getEntity: async () => {
      if (!state.row) throw new RestError("Not found", { statusCode: 404 });
      return { ...state.row };
    },
  };
  return { state, table: table as unknown as TableClient };
}

describe("a transaction the SDK retried after its first attempt was applied", () => {
  const create: TransactionAction = ["create", { partitionKey: "s-01", rowKey: "a" }];

  for (const failAt of ["data", "fence"] as const) {
    it(`is the run's own write when the retry fails on the ${failAt === "data" ? "data row's create (409, index 0)" : "fence row's update (412)"}: no takeover, the next write follows its ETag`, async () => {
      const { state, table } = retriedTable(failAt);
      const lost: Error[] = [];
      const guard = { assertHeld() {}, markLost: (e: Error) => void lost.push(e), owner: "me", signal: new AbortController().signal };
      const fence = new PartitionFence({ table, guard, limit: (task) => task(), translate: (error) => error as Error });
      await fence.claim(["s-01"]);
      state.retried = true;
      await fence.submit("s-01", [create], "writing");
      state.retried = false;
      await fence.submit("s-01", [create], "writing");
      expect(lost).toEqual([]);
      expect(state.version).toBe(3);
    });
  }

  it("still reads a row another run claimed as a takeover, and a data conflict of a transaction that was not applied as that conflict", async () => {
    const { state, table } = retriedTable("data");
    const lost: Error[] = [];
    const guard = { assertHeld() {}, markLost: (e: Error) => void lost.push(e), owner: "me", signal: new AbortController().signal };
    const fence = new PartitionFence({ table, guard, limit: (task) => task(), translate: (error) => new Error(`translated: ${(error as Error).message}`) });
    await fence.claim(["s-01"]);
    state.row = { writeId: "theirs", etag: "other" };
    const takeover = await fence.submit("s-01", [create], "writing").catch((e: unknown) => e);
    expect((takeover as { details?: { reason?: string } }).details?.reason).toBe("partitionTakenOver");
    expect(lost).toHaveLength(1);

    const other = retriedTable("data");
    const fence2 = new PartitionFence({ table: other.table, guard: { ...guard, markLost: (e: Error) => void lost.push(e) }, limit: (task) => task(), translate: (error) => new Error(`translated: ${(error as Error).message}`) });
    await fence2.claim(["s-01"]);
    const conflictTable = other.table as unknown as { submitTransaction: () => Promise<never> };
    conflictTable.submitTransaction = async () => {
      throw new RestError("0:The specified entity already exists.", { statusCode: 409 });
    };
    await expect(fence2.submit("s-01", [create], "writing")).rejects.toThrow("translated: 0:The specified entity already exists.");
    expect(lost).toHaveLength(1);
  });
});

describe("what a fence keeps per partition", () => {
  const writeTo = (partitionKey: string): TransactionAction => ["upsert", { partitionKey, rowKey: "a" }, "Replace"];

  it("keeps only the ETag of a partition it left idle, however many partitions a run writes, and still follows each one", async () => {
    const { sent, table } = recordingTable();
    const fence = fenceOver(table);
    const keys = Array.from({ length: 500 }, (_, i) => `s-${i}`);
    await Promise.all(keys.map((key) => fence.submit(key, [writeTo(key)], "writing")));
    expect(fence.stats).toEqual({ partitions: 500, active: 0 });
    await fence.submit("s-7", [writeTo("s-7")], "writing");
    // s-7's first transaction was the 8th answered: its fence row's ETag is the 8th transaction's second one.
    expect(sent.at(-1)).toBe("transaction 2 (fence: update if-match e16)");
    expect(fence.stats).toEqual({ partitions: 500, active: 0 });
  });

  it("keeps a partition's queue while it has work queued: transactions sent together go one after another, each with the ETag before it", async () => {
    const { sent, table } = recordingTable();
    const fence = fenceOver(table);
    const writes = [fence.submit("s-1", [writeTo("s-1")], "writing"), fence.submit("s-1", [writeTo("s-1")], "writing"), fence.submit("s-1", [writeTo("s-1")], "writing")];
    expect(fence.stats).toEqual({ partitions: 1, active: 1 });
    await Promise.all(writes);
    expect(sent).toEqual(["transaction 2 (fence: create)", "transaction 2 (fence: update if-match e2)", "transaction 2 (fence: update if-match e4)"]);
    expect(fence.stats).toEqual({ partitions: 1, active: 0 });
  });

  it("keeps a partition waiting for its claim at first write, and forgets one whose first write failed (the next write starts over)", async () => {
    const { sent, table } = recordingTable();
    const fence = fenceOver(table);
    fence.claimOnFirstWrite(["u-00", "u-01"]);
    expect(fence.stats).toEqual({ partitions: 2, active: 2 });
    await fence.submit("u-00", [writeTo("u-00")], "writing");
    expect(fence.stats).toEqual({ partitions: 2, active: 1 });
    // A partition it wrote already is not claimed again.
    fence.claimOnFirstWrite(["u-00"]);
    await fence.submit("u-00", [writeTo("u-00")], "writing");
    expect(sent).toEqual(["upsert Replace u-00/", "transaction 2 (fence: update if-match e1)", "transaction 2 (fence: update if-match e3)"]);

    const failing = table as unknown as { submitTransaction: () => Promise<never> };
    failing.submitTransaction = async () => {
      throw new Error("the service is unavailable");
    };
    await expect(fence.submit("s-9", [writeTo("s-9")], "writing")).rejects.toThrow("unavailable");
    expect(fence.stats).toEqual({ partitions: 2, active: 1 });
  });

  it("still fails the write of a partition another run took over after this fence left it idle", async () => {
    const { state, table } = retriedTable("data");
    const lost: Error[] = [];
    const guard = { assertHeld() {}, markLost: (e: Error) => void lost.push(e), owner: "me", signal: new AbortController().signal };
    const fence = new PartitionFence({ table, guard, limit: (task) => task(), translate: (error) => error as Error });
    await fence.claim(["s-01"]);
    await fence.submit("s-01", [writeTo("s-01")], "writing");
    expect(fence.stats).toEqual({ partitions: 1, active: 0 });
    state.row = { writeId: "theirs", etag: "other" };
    const error = await fence.submit("s-01", [writeTo("s-01")], "writing").catch((e: unknown) => e);
    expect((error as { details?: { reason?: string } }).details?.reason).toBe("partitionTakenOver");
    expect(lost).toHaveLength(1);
  });
});
