/**
 * The mirror's records under SDK retries: a write whose first attempt was applied but not answered
 * (a request timeout) is retried by the SDK, and the retry fails with 409 (create) or 412 (update).
 * That is the run's own write, not a later run's: the run goes on. A record another run wrote is
 * still a lost lease.
 */
import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { MirrorRuns } from "../../src/mirror/mirrorRuns.js";
import { noMirrorRunCounts, type MirrorRunRecord } from "../../src/mirror/mirrorRecords.js";
import type { MirrorTables } from "../../src/mirror/mirrorTables.js";
import { isUserSyncError } from "../../src/shared/errors.js";

type Row = Record<string, unknown> & { partitionKey: string; rowKey: string; etag: string };

/** A table whose writes are applied, then answered as the SDK's retry of them would be (409/412) when `retried` is set. */
function retryingTable() {
  const rows = new Map<string, Row>();
  let version = 0;
  const key = (p: string, r: string) => `${p}/${r}`;
  const state = { retried: false };
  const table = {
    tableName: "mirror",
    async createEntity(entity: Row) {
      if (rows.has(key(entity.partitionKey, entity.rowKey))) throw new RestError("The specified entity already exists.", { statusCode: 409 });
      rows.set(key(entity.partitionKey, entity.rowKey), { ...entity, etag: `e${++version}` });
      if (state.retried) throw new RestError("The specified entity already exists.", { statusCode: 409 });
      return { etag: `e${version}` };
    },
    async updateEntity(entity: Row, _mode: string, options: { etag: string }) {
      const current = rows.get(key(entity.partitionKey, entity.rowKey));
      if (!current || current.etag !== options.etag) throw new RestError("The update condition specified in the request was not satisfied.", { statusCode: 412 });
      rows.set(key(entity.partitionKey, entity.rowKey), { ...entity, etag: `e${++version}` });
      if (state.retried) throw new RestError("The update condition specified in the request was not satisfied.", { statusCode: 412 });
      return { etag: `e${version}` };
    },
    /** All or nothing, as the service applies a transaction; answered as a retry would be when `retried` is set. */
    async submitTransaction(actions: Array<[string, Row, string?, { etag: string }?]>) {
      const next = new Map(rows);
      for (const [index, [kind, entity, , options]] of actions.entries()) {
        const current = next.get(key(entity.partitionKey, entity.rowKey));
        if (kind === "create" && current) throw new RestError(`${index}:The specified entity already exists.`, { statusCode: 409 });
        if (kind === "update" && (!current || current.etag !== options?.etag)) throw new RestError(`${index}:The update condition specified in the request was not satisfied.`, { statusCode: 412 });
        next.set(key(entity.partitionKey, entity.rowKey), { ...entity, etag: `e${++version}` });
      }
      for (const [k, row] of next) rows.set(k, row);
      if (state.retried) throw new RestError("0:The update condition specified in the request was not satisfied.", { statusCode: 412 });
      return { subResponses: actions.map(([, entity]) => ({ etag: rows.get(key(entity.partitionKey, entity.rowKey))!.etag })) };
    },
    async getEntity(partitionKey: string, rowKey: string) {
      const row = rows.get(key(partitionKey, rowKey));
      if (!row) throw new RestError("Not found", { statusCode: 404 });
      return { ...row };
    },
  };
  const tables = { table: () => table, stats: { requests: 0 }, storage: { kind: "connectionString", connectionString: "", tableEndpoint: "http://127.0.0.1:1/devstoreaccount1" } } as unknown as MirrorTables;
  return { runs: new MirrorRuns(tables), rows, state, version: () => version };
}

function guard() {
  const g = { lost: undefined as Error | undefined, owner: "me", signal: new AbortController().signal, assertHeld() {}, markLost(error: Error) { g.lost ??= error; } };
  return g;
}

const RUN: MirrorRunRecord = {
  runId: "20261207T120000000Z-abcdef",
  status: "running",
  mode: "full",
  reason: "firstRound",
  trigger: "cli",
  startedAt: new Date("2026-12-07T12:00:00Z"),
  select: ["id"],
  ...noMirrorRunCounts(),
};

describe("mirror records written again by an SDK retry", () => {
  it("a run record created and then updated, each retried after its first attempt was applied, is the run's own write", async () => {
    const { runs, state } = retryingTable();
    const lease = guard();
    const run = { ...RUN };
    state.retried = true;
    await runs.recordRun(run, { lease });
    expect(run.etag).toBe("e1");
    run.pages = 1;
    await runs.recordRun(run, { lease });
    expect(run.etag).toBe("e2");
    run.pages = 2;
    await runs.recordRun(run, { lease });
    expect(run.etag).toBe("e3");
    expect(lease.lost).toBeUndefined();
  });

  it("a delta state saved by a retried write is the run's own save", async () => {
    const { runs, state } = retryingTable();
    const lease = guard();
    state.retried = true;
    const saved = { deltaLink: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x", select: ["id"], round: "r", savedAt: new Date(), runId: RUN.runId };
    const first = await runs.saveDeltaState(saved, undefined, { lease });
    expect(first).toBe("e1");
    expect(await runs.saveDeltaState(saved, { etag: first }, { lease })).toBe("e2");
    expect(lease.lost).toBeUndefined();
  });

  it("a round's end (the state and the run's record in one transaction) retried after its first attempt was applied is the run's own, with both ETags", async () => {
    const { runs, rows, state } = retryingTable();
    const lease = guard();
    const run = { ...RUN };
    await runs.recordRun(run, { lease });
    const saved = { deltaLink: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x", select: ["id"], round: "r", savedAt: new Date(), runId: RUN.runId };
    state.retried = true;
    run.status = "succeeded";
    const etag = await runs.finishRound(saved, undefined, run, { lease });
    expect(lease.lost).toBeUndefined();
    expect(etag).toBe(rows.get("runs/delta")!.etag);
    expect(run.etag).toBe([...rows.values()].find((row) => row.runId === RUN.runId && row.rowKey !== "delta")!.etag);
    // Someone else's state in between: lost, and nothing of ours written.
    state.retried = false;
    rows.set("runs/delta", { ...rows.get("runs/delta")!, writeId: "theirs", etag: "other" });
    const before = run.etag;
    const lost = await runs.finishRound(saved, { etag }, run, { lease: guard() }).catch((e: unknown) => e);
    expect(isUserSyncError(lost, "lease_lost") && (lost.details as { reason?: string }).reason).toBe("deltaStateSaved");
    expect(run.etag).toBe(before);
  });

  it("a run record another run replaced is still a lost lease (runMarkedFailed), and so is a delta state it saved", async () => {
    const { runs, rows } = retryingTable();
    const lease = guard();
    const run = { ...RUN };
    await runs.recordRun(run, { lease });
    const key = [...rows.keys()][0]!;
    rows.set(key, { ...rows.get(key)!, status: "failed", writeId: "theirs", etag: "other" });
    const error = await runs.recordRun(run, { lease }).catch((e: unknown) => e);
    expect(isUserSyncError(error, "lease_lost") && (error.details as { reason?: string }).reason).toBe("runMarkedFailed");
    expect(lease.lost).toBe(error);

    const saved = { deltaLink: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x", select: ["id"], round: "r", savedAt: new Date(), runId: RUN.runId };
    const again = retryingTable();
    await again.runs.saveDeltaState(saved, undefined, {});
    const stateKey = [...again.rows.keys()][0]!;
    again.rows.set(stateKey, { ...again.rows.get(stateKey)!, writeId: "theirs", etag: "other" });
    const lost = await again.runs.saveDeltaState(saved, { etag: "e1" }, { lease: guard() }).catch((e: unknown) => e);
    expect(isUserSyncError(lost, "lease_lost") && (lost.details as { reason?: string }).reason).toBe("deltaStateSaved");
  });
});
