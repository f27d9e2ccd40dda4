/**
 * The mirror's delta state in the runs partition (issue 31), against Azurite: what a round starts
 * from (the state and the runs left running) in one query, its end (the state and the run's record)
 * in one transaction that is all or nothing, and a state kept where versions before issue 31 kept
 * it (`state`/`delta`) read from there and moved by the next save, with a second mover refused.
 */
import { TableClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { encodeDeltaState, LEGACY_STATE_PARTITION, RUNS_PARTITION, STATE_ROW, type MirrorDeltaState, type MirrorRunRecord } from "../../src/mirror/mirrorRecords.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { newRunId } from "../../src/tables/keys.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile();
let prefixCounter = 0;

async function newMirror(): Promise<{ mirror: UserMirrorClient; table: TableClient }> {
  const mirror = new UserMirrorClient({ storage: azurite.tableStorage, tablePrefix: `rr${++prefixCounter}x${process.pid}` });
  await mirror.createTablesIfNotExist();
  const table = TableClient.fromConnectionString(azurite.instance.connectionString, mirror.mirrorTableName, { allowInsecureConnection: true });
  return { mirror, table };
}

function guard() {
  const g = { lost: undefined as Error | undefined, owner: "me", signal: new AbortController().signal, assertHeld() {}, markLost(error: Error) { g.lost ??= error; } };
  return g;
}

const state = (runId: string, token: string): MirrorDeltaState => ({ deltaLink: `https://graph.microsoft.com/v1.0/users/delta?$deltatoken=${token}`, select: ["id", "displayName"], round: "r1", savedAt: new Date(), runId });

function newRun(at: Date): MirrorRunRecord {
  return { runId: newRunId(at), status: "running", mode: "incremental", reason: "deltaLink", startedAt: at, select: ["id", "displayName"], pages: 0, itemsRead: 0, usersWritten: 0, changes: { added: 0, updated: 0, restored: 0, removed: 0, unchanged: 0 }, swept: 0, counters: {} };
}

describe("the mirror's round records", () => {
  it("reads the state and the runs left running in one query, and ends a round with both in one transaction", async () => {
    const { mirror } = await newMirror();
    const lease = guard();
    expect(await mirror.readRoundStart()).toEqual({ saved: undefined, running: [] });
    const first = newRun(new Date(Date.now() - 60_000));
    await mirror.recordRun(first, { lease });
    first.status = "succeeded";
    await mirror.finishRound(state(first.runId, "one"), undefined, first, { lease });
    const stale = newRun(new Date(Date.now() - 30_000));
    await mirror.recordRun(stale, { lease });

    const requestsBefore = mirror.stats.requests;
    const start = await mirror.readRoundStart();
    expect(mirror.stats.requests - requestsBefore).toBe(2); // one query: its request and its one page
    expect(start.saved?.state).toMatchObject({ runId: first.runId, deltaLink: expect.stringContaining("one") });
    expect(start.saved?.legacy).toBeUndefined();
    expect(start.running.map((r) => r.runId)).toEqual([stale.runId]);
    // The state's row is not a run.
    expect((await Array.fromAsync(mirror.listRuns())).map((r) => r.runId)).toEqual([stale.runId, first.runId]);

    // The runs read with the state are marked failed without another query.
    const marked = await mirror.beginRound(lease as never, { running: start.running });
    expect(marked).toEqual([stale.runId]);
    expect((await mirror.getRun(stale.runId))?.status).toBe("failed");

    // A round whose record was marked failed by another run saves no state: all or nothing.
    const late = newRun(new Date());
    await mirror.recordRun(late, { lease });
    const markedBy = { ...late };
    markedBy.status = "failed";
    await mirror.recordRun(markedBy, { lease });
    late.status = "succeeded";
    const lost = guard();
    const error = await mirror.finishRound(state(late.runId, "late"), start.saved, late, { lease: lost }).catch((e: unknown) => e);
    expect(isUserSyncError(error, "lease_lost") && (error.details as { reason?: string }).reason).toBe("runMarkedFailed");
    expect(lost.lost).toBe(error);
    expect((await mirror.getDeltaState())?.etag).toBe(start.saved?.etag);

    // And a state saved by another run in between refuses the whole transaction too.
    const other = newRun(new Date(Date.now() + 1_000));
    await mirror.recordRun(other, { lease });
    await mirror.saveDeltaState(state("someone-else", "theirs"), start.saved);
    other.status = "succeeded";
    const refused = await mirror.finishRound(state(other.runId, "two"), start.saved, other, { lease: guard() }).catch((e: unknown) => e);
    expect(isUserSyncError(refused, "lease_lost") && (refused.details as { reason?: string }).reason).toBe("deltaStateSaved");
    expect((await mirror.getRun(other.runId))?.status).toBe("running");
  });

  it("reads a state kept in its old place, moves it with the next round's end (removing the old row), and refuses a second mover", async () => {
    const { mirror, table } = await newMirror();
    const lease = guard();
    await table.createEntity({ ...encodeDeltaState(state("old-run", "old")), partitionKey: LEGACY_STATE_PARTITION });
    const start = await mirror.readRoundStart();
    expect(start.saved?.state).toMatchObject({ runId: "old-run", deltaLink: expect.stringContaining("old") });
    expect(start.saved?.legacy).toBe(true);
    expect((await mirror.getDeltaState())?.legacy).toBe(true);

    const run = newRun(new Date());
    await mirror.recordRun(run, { lease });
    run.status = "succeeded";
    await mirror.finishRound(state(run.runId, "new"), start.saved, run, { lease });
    const moved = await mirror.getDeltaState();
    expect(moved?.state).toMatchObject({ runId: run.runId, deltaLink: expect.stringContaining("new") });
    expect(moved?.legacy).toBeUndefined();
    await expect(table.getEntity(LEGACY_STATE_PARTITION, STATE_ROW)).rejects.toMatchObject({ statusCode: 404 });
    await expect(table.getEntity(RUNS_PARTITION, STATE_ROW)).resolves.toMatchObject({ runId: run.runId });
    expect((await mirror.getRun(run.runId))?.status).toBe("succeeded");

    // Another run that read the old row too: its move is an insert, refused.
    const second = newRun(new Date(Date.now() + 1_000));
    await mirror.recordRun(second, { lease });
    second.status = "succeeded";
    const error = await mirror.finishRound(state(second.runId, "second"), start.saved, second, { lease: guard() }).catch((e: unknown) => e);
    expect(isUserSyncError(error, "lease_lost")).toBe(true);
    expect((await mirror.getDeltaState())?.state.runId).toBe(run.runId);
  });
});
