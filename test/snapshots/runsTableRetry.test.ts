/**
 * A runs-partition transaction (a record plus the lease entity's update) that the SDK retried after
 * its first attempt was applied: the retry fails on the record's create (409, operation 0) before it
 * reaches the lease's update. The lease entity carries the write's id: it is the run's own write.
 */
import { RestError } from "@azure/core-rest-pipeline";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { LeaseStore } from "../../src/snapshots/leaseStore.js";
import { RunsTable } from "../../src/snapshots/runsTable.js";
import { WriterLease } from "../../src/snapshots/writerLease.js";
import { isUserSyncError } from "../../src/shared/errors.js";

function runsPartition() {
  const rows = new Map<string, Record<string, unknown> & { etag: string }>();
  const state = { version: 0, retried: false };
  const table = {
    tableName: "runs",
    submitTransaction: async (actions: TransactionAction[]) => {
      const lease = actions.at(-1)!;
      const current = rows.get("lease");
      if (current?.etag !== (lease[3] as { etag: string }).etag) throw new RestError(`${actions.length - 1}:The update condition specified in the request was not satisfied.`, { statusCode: 412 });
      for (const action of actions.slice(0, -1)) {
        const entity = action[1] as { rowKey: string };
        if (action[0] === "create" && rows.has(entity.rowKey)) throw new RestError("0:The specified entity already exists.", { statusCode: 409 });
      }
      for (const action of actions) rows.set(action === lease ? "lease" : (action[1] as { rowKey: string }).rowKey, { ...(action[1] as object), etag: `e${++state.version}` });
      // The retry of this applied transaction: the record's create conflicts first.
      if (state.retried) throw new RestError("0:The specified entity already exists.", { statusCode: 409 });
      return { status: 202, subResponses: actions.map(() => ({ status: 204, etag: `e${state.version}` })), getResponseForEntity: () => undefined };
    },
    getEntity: async (_p: string, rowKey: string) => {
      const row = rows.get(rowKey === "" || rowKey.includes("lease") ? "lease" : rowKey);
      if (!row) throw new RestError("Not found", { statusCode: 404 });
      return { ...row };
    },
  };
  return { rows, state, table: table as unknown as TableClient };
}

const storage = { kind: "connectionString" as const, connectionString: "", tableEndpoint: "http://127.0.0.1:1/devstoreaccount1", allowInsecureConnection: true };

async function heldLease(rows: Map<string, Record<string, unknown> & { etag: string }>): Promise<WriterLease> {
  const lease = new WriterLease({ owner: "me", trigger: "cli", durationInMs: 300_000, acquiredAt: new Date() });
  rows.set("lease", { owner: "me", writeId: "acquired", etag: "e0" });
  lease.renewed("e0", new Date(Date.now() + 300_000), performance.now());
  return lease;
}

describe("a runs-partition write retried after its first attempt was applied", () => {
  it("is the run's own write even when the retry fails on the record's create, not the lease's update", async () => {
    const { rows, state, table } = runsPartition();
    const runs = new RunsTable(table, storage, new LeaseStore(table, storage));
    const lease = await heldLease(rows);
    state.retried = true;
    await runs.write([["create", { partitionKey: "runs", rowKey: "run-1" }]], "recording run 1", { lease });
    expect(lease.lost).toBeUndefined();
    expect(lease.etag).toBe(rows.get("lease")!.etag);
  });

  it("still reports a record that exists (a transaction that was not applied) as that conflict, and a lease another run took as lost", async () => {
    const { rows, table } = runsPartition();
    const runs = new RunsTable(table, storage, new LeaseStore(table, storage));
    const lease = await heldLease(rows);
    rows.set("run-1", { etag: "x" });
    const conflict = await runs.write([["create", { partitionKey: "runs", rowKey: "run-1" }]], "recording run 1", { lease }).catch((e: unknown) => e);
    expect(isUserSyncError(conflict, "storage_request_failed")).toBe(true);
    expect(lease.lost).toBeUndefined();
    rows.set("lease", { owner: "them", writeId: "theirs", etag: "other" });
    const lost = await runs.write([["create", { partitionKey: "runs", rowKey: "run-2" }]], "recording run 2", { lease }).catch((e: unknown) => e);
    expect(isUserSyncError(lost, "lease_lost")).toBe(true);
  });
});
