/**
 * What is due reads the latest snapshot's pointer and the newest unfinished run in one query of the
 * runs partition (RunsTable.readDueRecords): the same answers as the pointer's read and the query of
 * unfinished runs, with one request instead of two, and right when more runs are left unfinished
 * than a page holds.
 */
import { describe, expect, it } from "vitest";
import { SnapshotStoreClient, type RunStats } from "../../src/snapshots/snapshotStoreClient.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";
import { newSnapshotStore, tableRequestsOf } from "../support/snapshotStores.js";

const azurite = azuriteForTestFile();
const stats = (n: number): RunStats => ({ pages: 1, usersRead: n, entitiesWritten: n, transactions: 1 });

const newStore = () => newSnapshotStore(azurite, "due");
/** The requests to the table endpoint while `work` runs. */
const requestsOf = <T>(work: () => Promise<T>) => tableRequestsOf(azurite.instance.tableEndpoint, work);

async function firstUnfinished(store: SnapshotStoreClient) {
  for await (const run of store.listUnfinishedRuns({ maxResults: 1 })) return run;
  return undefined;
}

describe("readDueRecords", () => {
  it("finds nothing in a store without runs (or without its tables)", async () => {
    const store = await newStore();
    expect(await store.readDueRecords()).toEqual({ latest: undefined, unfinished: undefined });
    const missing = new SnapshotStoreClient({ storage: azurite.tableStorage, tablePrefix: `dueMissing${process.pid}` });
    expect(await missing.readDueRecords()).toEqual({ latest: undefined, unfinished: undefined });
  });

  it("reads the pointer and the newest unfinished run in one request, as the two reads it replaces find them", async () => {
    const store = await newStore();
    const done = await store.startRun({ trigger: "cli", select: ["id"] });
    await store.completeRun(done, stats(0));
    const { result, requests } = await requestsOf(() => store.readDueRecords());
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatch(/^GET .*Runs\(\)\?/);
    expect(result.latest).toEqual(await store.getLatestSnapshot());
    expect(result.latest?.runId).toBe(done.runId);
    expect(result.unfinished).toBeUndefined();

    const open = await store.startRun({ trigger: "timer", select: ["id"] });
    const again = await requestsOf(() => store.readDueRecords());
    expect(again.requests).toHaveLength(1);
    expect(again.result.unfinished).toEqual(await firstUnfinished(store));
    expect(again.result.unfinished?.runId).toBe(open.runId);
    expect(again.result.latest).toEqual(result.latest);
  });

  it("finds the newest unfinished run and the pointer when more runs are unfinished than a page holds", async () => {
    const store = await newStore();
    const done = await store.startRun({ trigger: "cli", select: ["id"] });
    await store.completeRun(done, stats(0));
    for (let i = 0; i < 12; i++) await store.startRun({ trigger: "timer", select: ["id"] });
    const newest = await firstUnfinished(store);
    const { result } = await requestsOf(() => store.readDueRecords());
    expect(result.unfinished).toEqual(newest);
    expect(result.latest?.runId).toBe(done.runId);
    // A paused run is unfinished too; a finished one is not.
    const paused = await store.pauseRun(newest!);
    expect((await store.readDueRecords()).unfinished?.runId).toBe(paused.runId);
  });
});
