import { createServer } from "node:net";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { isUserSyncError, UserSyncError } from "../../src/shared/errors.js";
import { SnapshotStoreClient, type RunStats, type SnapshotStoreClientOptions } from "../../src/snapshots/snapshotStoreClient.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";
import { newSnapshotStore } from "../support/snapshotStores.js";

const azurite = azuriteForTestFile();

/** Records the operations of every entity group transaction that goes over the wire. */
function batchRecorder() {
  const batches: Array<{ partitionKeys: string[]; operations: number; bytes: number }> = [];
  const policy: PipelinePolicy = {
    name: "recordBatches",
    async sendRequest(request, next) {
      if (request.url.endsWith("$batch") && typeof request.body === "string") {
        const keys = [...request.body.matchAll(/\(PartitionKey='([^']*)',RowKey='[^']*'\)/g)].map((m) => m[1]!);
        batches.push({ partitionKeys: keys, operations: keys.length, bytes: Buffer.byteLength(request.body) });
      }
      return next(request);
    },
  };
  return { batches, policy };
}

const newStore = (options: Partial<SnapshotStoreClientOptions> = {}) => newSnapshotStore(azurite, "t", options);

function makeUser(i: number): GraphUser {
  const id = `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, "0")}`;
  return {
    id,
    userPrincipalName: `user${i}@contoso.onmicrosoft.com`,
    displayName: i % 3 === 0 ? `Ünïcødé 用户 ${i} 👩🏽‍💻` : `User ${i}`,
    givenName: i % 5 === 0 ? "" : `Given${i}`,
    surname: i % 4 === 0 ? null : `Sur${i}`,
    otherMails: i % 2 === 0 ? [] : [`alt${i}@example.com`],
    accountEnabled: i % 7 !== 0,
    employeeOrgData: i % 6 === 0 ? { division: "R&D", costCenter: null } : null,
    extension_count: i,
    ratio: i + 0.5,
    bigNumber: 3_000_000_000 + i,
  };
}

const pageOf = (from: number, count: number) => Array.from({ length: count }, (_, k) => makeUser(from + k));

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) items.push(item);
  return items;
}

async function writeRun(store: SnapshotStoreClient, pages: GraphUser[][]) {
  const run = await store.startRun({ trigger: "cli", select: ["id", "displayName"] });
  const stats: RunStats = { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0 };
  for (const page of pages) {
    const written = await store.upsertUsers(run.snapshotId, page);
    stats.pages += 1;
    stats.usersRead += page.length;
    stats.entitiesWritten += written.entitiesWritten;
    stats.transactions += written.transactions;
  }
  return { run, stats };
}

function expectSameUsers(actual: GraphUser[], expected: GraphUser[]) {
  const byId = new Map(actual.map((u) => [u.id, u]));
  expect(actual).toHaveLength(expected.length);
  for (const user of expected) {
    const read = byId.get(user.id);
    expect(read).toStrictEqual(user);
    expect(Object.keys(read!)).toEqual(Object.keys(user));
  }
}

async function expectUserSyncError(promise: Promise<unknown>, code: UserSyncError["code"]): Promise<UserSyncError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(isUserSyncError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return error as UserSyncError;
}

describe("SnapshotStoreClient against Azurite", () => {
  it("writes a run of several pages in single-partition transactions, completes it, and reads back exactly those users", async () => {
    const recorder = batchRecorder();
    const store = await newStore({ clientOptions: { additionalPolicies: [{ policy: recorder.policy, position: "perCall" }] } });
    await store.createTablesIfNotExist(); // idempotent
    const pages = [pageOf(0, 250), pageOf(250, 999), pageOf(1249, 37)];
    const { run, stats } = await writeRun(store, pages);

    expect(stats.entitiesWritten).toBe(1286);
    expect(recorder.batches).toHaveLength(stats.transactions);
    for (const batch of recorder.batches) {
      expect(batch.operations).toBeGreaterThan(0);
      expect(batch.operations).toBeLessThanOrEqual(100);
      expect(new Set(batch.partitionKeys).size).toBe(1);
      expect(batch.partitionKeys[0]!.startsWith(`${run.snapshotId}-`)).toBe(true);
    }
    // One snapshot spreads over all 16 partitions.
    expect(new Set(recorder.batches.map((b) => b.partitionKeys[0])).size).toBe(16);

    expect(await store.getLatestSnapshot()).toBeUndefined();
    const completed = await store.completeRun(run, { ...stats, counters: { throttles: 2, waitedInMs: 1500 } });
    expect(completed.status).toBe("succeeded");

    const latest = await store.getLatestSnapshot();
    expect(latest).toMatchObject({ snapshotId: run.snapshotId, runId: run.runId, userCount: 1286 });
    expect(latest!.completedAt).toBeInstanceOf(Date);

    expectSameUsers(await collect(store.listSnapshotUsers(run.snapshotId)), pages.flat());

    const record = await store.getRun(run.runId);
    expect(record).toMatchObject({
      runId: run.runId,
      snapshotId: run.snapshotId,
      status: "succeeded",
      trigger: "cli",
      select: ["id", "displayName"],
      partitionCount: 16,
      stats: { pages: 3, usersRead: 1286, entitiesWritten: 1286, transactions: stats.transactions, counters: { throttles: 2, waitedInMs: 1500 } },
    });
    expect(record!.startedAt.getTime()).toBe(run.startedAt.getTime());
    expect(record!.endedAt!.getTime()).toBeGreaterThanOrEqual(record!.startedAt.getTime());
    expect(record!.error).toBeUndefined();
  });

  it("keeps the previous snapshot as latest when a run fails, and records the error redacted and bounded", async () => {
    const store = await newStore();
    const first = await writeRun(store, [pageOf(0, 120)]);
    await store.completeRun(first.run, first.stats);

    const second = await writeRun(store, [pageOf(1000, 80)]);
    const secret = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0c2VjcmV0;EndpointSuffix=core.windows.net";
    const failed = await store.failRun(second.run, `Graph said no after ${secret} ${"x".repeat(5000)}`, second.stats);
    expect(failed.status).toBe("failed");

    const latest = await store.getLatestSnapshot();
    expect(latest?.snapshotId).toBe(first.run.snapshotId);
    const record = await store.getRun(second.run.runId);
    expect(record?.status).toBe("failed");
    expect(record!.error!.length).toBeLessThanOrEqual(2000);
    expect(record!.error).toContain("Graph said no");
    expect(record!.error).not.toContain("c2VjcmV0c2VjcmV0");
    expect(record!.stats.entitiesWritten).toBe(80);

    await expectUserSyncError(collect(store.listSnapshotUsers(second.run.snapshotId)), "snapshot_not_found");
    expectSameUsers(await collect(store.listSnapshotUsers(first.run.snapshotId)), pageOf(0, 120));
  });

  it("never shows a running run's snapshot as latest, and lists it only on request", async () => {
    const store = await newStore();
    const done = await writeRun(store, [pageOf(0, 30)]);
    await store.completeRun(done.run, done.stats);
    const running = await writeRun(store, [pageOf(500, 40), pageOf(540, 40)]);

    expect((await store.getLatestSnapshot())?.snapshotId).toBe(done.run.snapshotId);
    expect((await store.getRun(running.run.runId))?.status).toBe("running");
    const error = await expectUserSyncError(collect(store.listSnapshotUsers(running.run.snapshotId)), "snapshot_not_found");
    expect(error.message).toContain("running");
    expectSameUsers(await collect(store.listSnapshotUsers(running.run.snapshotId, { includeIncomplete: true })), pageOf(500, 80));
  });

  it("lists runs newest first with their stats, and honours maxResults", async () => {
    const store = await newStore();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { run, stats } = await writeRun(store, [pageOf(i * 10, 10 + i)]);
      ids.push(run.runId);
      if (i === 2) await store.failRun(run, "boom", stats);
      else if (i < 3) await store.completeRun(run, stats);
      // distinct millisecond timestamps, so that the expected order is fully determined
      await new Promise((r) => setTimeout(r, 3));
    }
    const runs = await collect(store.listRuns());
    expect(runs.map((r) => r.runId)).toEqual([...ids].reverse());
    expect(runs.map((r) => r.status)).toEqual(["running", "failed", "succeeded", "succeeded"]);
    // A running run's counts are recorded when it ends.
    expect(runs.map((r) => r.stats.usersRead)).toEqual([0, 12, 11, 10]);
    expect(runs.map((r) => r.stats.pages)).toEqual([0, 1, 1, 1]);
    expect(runs[1]!.error).toBe("boom");
    expect(runs.every((r) => r.trigger === "cli" && r.startedAt instanceof Date)).toBe(true);
    expect(runs.slice(1).every((r) => r.endedAt instanceof Date)).toBe(true);
    expect((await collect(store.listRuns({ maxResults: 2 }))).map((r) => r.runId)).toEqual([ids[3], ids[2]]);
    expect((await store.getLatestSnapshot())?.snapshotId).toBe(ids[1]);
  });

  it("does not move latest back to an older snapshot that completes after a newer one", async () => {
    const store = await newStore();
    const older = await writeRun(store, [pageOf(0, 5)]);
    await new Promise((r) => setTimeout(r, 3));
    const newer = await writeRun(store, [pageOf(100, 6)]);
    await store.completeRun(newer.run, newer.stats);
    const olderDone = await store.completeRun(older.run, older.stats);
    expect(olderDone.status).toBe("succeeded");
    expect(await store.getLatestSnapshot()).toMatchObject({ snapshotId: newer.run.snapshotId, userCount: 6 });
    expect((await store.getRun(older.run.runId))?.status).toBe("succeeded");
  });

  it("promotes the newest of runs that complete at the same time", async () => {
    const store = await newStore();
    const runs = [];
    for (let i = 0; i < 4; i++) {
      runs.push(await writeRun(store, [pageOf(i * 10, 3)]));
      await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(runs.map(({ run, stats }) => store.completeRun(run, stats)));
    expect((await store.getLatestSnapshot())?.snapshotId).toBe(runs[3]!.run.snapshotId);
    for (const { run } of runs) expect((await store.getRun(run.runId))?.status).toBe("succeeded");
  });

  it("replaces a user written twice: a value that became null loses its column", async () => {
    const store = await newStore();
    const run = await store.startRun({ trigger: "timer", select: ["id"] });
    const before: GraphUser = { id: "a1", displayName: "Before", mail: "a@contoso.com", otherMails: ["x@y.z"] };
    const after: GraphUser = { id: "a1", displayName: "After", mail: null, otherMails: [] };
    await store.upsertUsers(run.snapshotId, [before]);
    // The same id twice in one call is written once, the last one winning.
    const result = await store.upsertUsers(run.snapshotId, [before, after]);
    expect(result).toEqual({ entitiesWritten: 1, transactions: 1, skipped: [] });
    expect(await collect(store.listSnapshotUsers(run.snapshotId, { includeIncomplete: true }))).toStrictEqual([after]);
  });

  it("splits a partition's users over several transactions to stay under the 4 MiB request limit", async () => {
    const recorder = batchRecorder();
    const store = await newStore({ partitionCount: 1, clientOptions: { additionalPolicies: [{ policy: recorder.policy, position: "perCall" }] } });
    const run = await store.startRun({ trigger: "cli", select: ["id", "aboutMe"] });
    // 90 users of about 64 KB each: one partition, under 100 operations, but over 4 MiB together.
    const users: GraphUser[] = Array.from({ length: 90 }, (_, i) => ({ id: `big-${i}`, aboutMe: `${i}`.padEnd(32_000, "ä") }));
    const result = await store.upsertUsers(run.snapshotId, users);
    expect(result.entitiesWritten).toBe(90);
    expect(result.transactions).toBeGreaterThan(1);
    expect(recorder.batches).toHaveLength(result.transactions);
    for (const batch of recorder.batches) expect(batch.bytes).toBeLessThan(4 * 1024 * 1024);
    expectSameUsers(await collect(store.listSnapshotUsers(run.snapshotId, { includeIncomplete: true })), users);
  });

  it("skips only the users it cannot store at all, with their ids and reasons, and writes the rest of the page", async () => {
    const store = await newStore();
    const run = await store.startRun({ trigger: "cli", select: ["id"] });
    const odd = { id: "odd", "@odata.type": "#microsoft.graph.user" } as GraphUser;
    const page: GraphUser[] = [...pageOf(0, 50), odd, { id: "huge", aboutMe: "x".repeat(700_000) }, { id: "a/b", displayName: "slash" }];
    const result = await store.upsertUsers(run.snapshotId, page);
    expect(result.entitiesWritten).toBe(51);
    expect(result.skipped.map((s) => s.id)).toEqual(["huge", "a/b"]);
    expect(result.skipped[0]!.reason).toContain("1 MiB");
    expect(result.skipped[1]!.reason).toContain("table key");
    expectSameUsers(await collect(store.listSnapshotUsers(run.snapshotId, { includeIncomplete: true })), [...pageOf(0, 50), odd]);
  });

  it("reads as empty before any sync has created the tables", async () => {
    const store = new SnapshotStoreClient({ storage: azurite.tableStorage, tablePrefix: `never${process.pid}` });
    expect(await collect(store.listRuns())).toEqual([]);
    expect(await store.getLatestSnapshot()).toBeUndefined();
    expect(await store.getRun("20200101T000000000Z-abcdef")).toBeUndefined();
    await expectUserSyncError(collect(store.listSnapshotUsers("20200101T000000000Z-abcdef")), "snapshot_not_found");
    // Writing needs the tables: the error says so.
    const error = await expectUserSyncError(store.startRun({ trigger: "cli", select: ["id"] }), "storage_request_failed");
    expect(error.message).toContain("does not exist");
  });

  it("returns undefined for unknown runs and refuses unknown snapshots", async () => {
    const store = await newStore();
    expect(await store.getRun("20200101T000000000Z-abcdef")).toBeUndefined();
    expect(await store.getRun("not-a-run")).toBeUndefined();
    expect(await collect(store.listRuns())).toEqual([]);
    await expectUserSyncError(collect(store.listSnapshotUsers("20200101T000000000Z-abcdef")), "snapshot_not_found");
    await expectUserSyncError(collect(store.listSnapshotUsers("x' or 1 eq 1")), "snapshot_not_found");
  });

  it("explains a wrong account key without revealing the connection string", async () => {
    const badKey = Buffer.from("definitely-not-the-azurite-key-000000000000").toString("base64");
    const connectionString = azurite.instance.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${badKey}`);
    const store = new SnapshotStoreClient({
      storage: { kind: "connectionString", connectionString, tableEndpoint: azurite.instance.tableEndpoint, allowInsecureConnection: true },
      tablePrefix: "badKey",
    });
    const error = await expectUserSyncError(store.createTablesIfNotExist(), "storage_request_failed");
    expect(error.message).toContain("AccountKey");
    expect(error.details.statusCode).toBe(403);
    const everything = `${error.message} ${JSON.stringify(error.details)}`;
    expect(everything.includes(badKey)).toBe(false);
    expect(everything.includes(connectionString)).toBe(false);
  });

  it("explains an unreachable endpoint and suggests starting Azurite", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address() as { port: number };
        server.close(() => resolve(address.port));
      });
    });
    const tableEndpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
    const connectionString = azurite.instance.connectionString.replace(/TableEndpoint=[^;]+/, `TableEndpoint=${tableEndpoint}`);
    const store = new SnapshotStoreClient({
      storage: { kind: "connectionString", connectionString, tableEndpoint, allowInsecureConnection: true },
      clientOptions: { retryOptions: { maxRetries: 0 } },
    });
    const error = await expectUserSyncError(collect(store.listRuns()), "storage_request_failed");
    expect(error.message).toContain(`Cannot reach the table service at ${tableEndpoint}`);
    expect(error.message).toContain("Azurite");
    expect(error.message.includes(azurite.instance.connectionString)).toBe(false);
  });

  it("stops writing when aborted", async () => {
    const store = await newStore();
    const run = await store.startRun({ trigger: "cli", select: ["id"] });
    const controller = new AbortController();
    controller.abort();
    let error: unknown;
    try {
      await store.upsertUsers(run.snapshotId, pageOf(0, 300), { abortSignal: controller.signal });
    } catch (e) {
      error = e;
    }
    expect((error as Error).name).toBe("AbortError");
    expect(await collect(store.listSnapshotUsers(run.snapshotId, { includeIncomplete: true }))).toEqual([]);
  });
});
