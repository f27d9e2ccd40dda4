/**
 * The snapshot store's lifecycle against Azurite through the real Tables client: lossless oversize
 * and odd-name users, checkpoints, the writer lease (contention, expiry, takeover), retention, and
 * diffs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { odata, TableClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { SnapshotStoreClient, type RunStats, type SnapshotChange, type SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { MAX_STRING_LENGTH } from "../../src/tables/userEntity.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";
import { newSnapshotStore, recordTableRequests, uniqueTablePrefix } from "../support/snapshotStores.js";

const azurite = azuriteForTestFile();
const newStore = (options: { partitionCount?: number; tablePrefix?: string } = {}) => newSnapshotStore(azurite, "life", options);

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUserSyncError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error;
}

const stats = (n: number): RunStats => ({ pages: 1, usersRead: n, entitiesWritten: n, transactions: 1 });

/** Writes a complete snapshot of these users and returns its run. */
async function completeSnapshot(store: SnapshotStoreClient, users: GraphUser[]): Promise<SyncRunRecord> {
  const run = await store.startRun({ trigger: "cli", select: ["id", "displayName"] });
  await store.upsertUsers(run.snapshotId, users);
  return store.completeRun(run, stats(users.length));
}

const userId = (i: number) => `${i.toString(16).padStart(8, "0")}-aaaa-4000-8000-000000000000`;

async function countEntities(store: SnapshotStoreClient, snapshotId: string): Promise<number> {
  const table = TableClient.fromConnectionString(azurite.instance.connectionString, store.snapshotsTableName, { allowInsecureConnection: true });
  let count = 0;
  for await (const _ of table.listEntities({ queryOptions: { filter: odata`PartitionKey gt ${`${snapshotId}-`} and PartitionKey lt ${`${snapshotId}.`}`, select: ["RowKey"] } })) count += 1;
  return count;
}

describe("lossless users through Azurite", () => {
  it("reads back every oversize and odd-name user identically, key order included", async () => {
    const store = await newStore();
    const surrogateAtBoundary = `${"a".repeat(MAX_STRING_LENGTH - 1)}😀${"b".repeat(MAX_STRING_LENGTH)}`;
    const users: GraphUser[] = [
      { id: userId(1), displayName: "Mailbox", proxyAddresses: Array.from({ length: 6000 }, (_, i) => `smtp:alias${i}@contoso.com`) },
      { id: userId(2), aboutMe: "ü".repeat(MAX_STRING_LENGTH * 3 + 7), mail: null },
      { id: userId(3), displayName: surrogateAtBoundary },
      { "@odata.type": "#microsoft.graph.user", id: userId(4), "extension-attr.x": { nested: ["a", 1, null] }, _meta: "mine", Timestamp: "t", etag: 1 } as GraphUser,
      { id: userId(5), mail: "lower@contoso.com", Mail: "UPPER@contoso.com", ["n".repeat(300)]: true } as GraphUser,
      { id: userId(6), "big-and-odd": "z".repeat(MAX_STRING_LENGTH + 1), ratio: 0.5, big: 2 ** 40 } as GraphUser,
      { id: userId(7), displayName: "Plain", accountEnabled: true },
    ];
    const run = await store.startRun({ trigger: "cli", select: ["id"] });
    const written = await store.upsertUsers(run.snapshotId, users);
    expect(written).toMatchObject({ entitiesWritten: users.length, skipped: [] });
    await store.completeRun(run, stats(users.length));
    const read = new Map((await collect(store.listSnapshotUsers(run.snapshotId))).map((u) => [u.id, u]));
    expect(read.size).toBe(users.length);
    for (const user of users) {
      const back = read.get(user.id);
      expect(back).toStrictEqual(user);
      expect(Object.keys(back!)).toEqual(Object.keys(user));
    }
  });

  it("records users that cannot fit in an entity in the run (count and ids), never failing it", async () => {
    const store = await newStore();
    const run = await store.startRun({ trigger: "timer", select: ["id"] });
    const result = await store.upsertUsers(run.snapshotId, [{ id: userId(1), displayName: "ok" }, { id: userId(2), aboutMe: "x".repeat(800_000) }]);
    expect(result.skipped.map((s) => s.id)).toEqual([userId(2)]);
    await store.completeRun(run, { ...stats(1), counters: { skippedUsers: 1 }, skipped: result.skipped });
    const recorded = await store.getRun(run.runId);
    expect(recorded).toMatchObject({ status: "succeeded", stats: { counters: { skippedUsers: 1 } } });
    expect(recorded!.stats.skipped).toHaveLength(1);
    expect(recorded!.stats.skipped[0]).toMatchObject({ id: userId(2) });
    expect(recorded!.stats.skipped[0]!.reason).toContain("1 MiB");
  });
});

describe("checkpoints", () => {
  it("saves the next link and counts with the run, renews the lease in the same transaction, and lists the run as unfinished", async () => {
    const store = await newStore();
    const lease = await store.acquireLease({ trigger: "timer" });
    const run = await store.startRun({ trigger: "timer", select: ["id", "mail"] });
    const expiresBefore = lease.expiresAt.getTime();
    await sleep(5);
    await store.checkpointRun(run, "https://graph.microsoft.com/v1.0/users?$skiptoken=abc", stats(999), { lease });
    expect(lease.expiresAt.getTime()).toBeGreaterThan(expiresBefore);
    expect((await store.getLease())?.runId).toBe(run.runId);
    const [unfinished] = await collect(store.listUnfinishedRuns());
    expect(unfinished).toMatchObject({ runId: run.runId, status: "running", select: ["id", "mail"], checkpoint: { nextLink: "https://graph.microsoft.com/v1.0/users?$skiptoken=abc" } });
    expect(unfinished!.stats).toMatchObject({ pages: 1, usersRead: 999 });
    const paused = await store.pauseRun(unfinished!);
    expect((await store.getRun(run.runId))?.status).toBe("paused");
    await store.abandonRun(paused, "Abandoned: too old.");
    expect(await collect(store.listUnfinishedRuns())).toEqual([]);
    expect((await store.getRun(run.runId))?.error).toBe("Abandoned: too old.");
    await store.releaseLease(lease);
  });
});

describe("the writer lease", () => {
  it("lets one holder at a time write: a second sees run_in_progress, naming the holder", async () => {
    const store = await newStore();
    const first = await store.acquireLease({ trigger: "timer" });
    first.runId = "20260101T000000000Z-abcdef";
    await store.renewLease(first);
    const error = await expectCode(store.acquireLease({ trigger: "cli" }), "run_in_progress");
    expect(error.message).toContain("timer run (run 20260101T000000000Z-abcdef)");
    expect(error.message).toContain("read and wrote nothing");
    await store.releaseLease(first);
    const second = await store.acquireLease({ trigger: "cli" });
    expect(second.tookOverFrom).toBeUndefined();
    await store.releaseLease(second);
  });

  it("is taken with one request when free (an insert, no read first); of two contenders for a free lease exactly one wins", async () => {
    const store = await newStore();
    const recording = recordTableRequests(azurite.instance.tableEndpoint);
    const requests = recording.requests;
    try {
      const lease = await store.acquireLease({ trigger: "timer" });
      expect(requests).toEqual([`POST /devstoreaccount1/${store.runsTableName}`]);
      await store.releaseLease(lease);
      requests.length = 0;
      const contenders = await Promise.allSettled([store.acquireLease({ trigger: "cli" }), store.acquireLease({ trigger: "timer" })]);
      expect(contenders.filter((c) => c.status === "fulfilled")).toHaveLength(1);
      const loser = contenders.find((c) => c.status === "rejected") as PromiseRejectedResult;
      expect(isUserSyncError(loser.reason, "run_in_progress"), String(loser.reason)).toBe(true);
      // The loser's insert met the winner's entity (409), and it read the holder to name it.
      expect(requests.filter((r) => r.startsWith("GET "))).toHaveLength(1);
      await store.releaseLease((contenders.find((c) => c.status === "fulfilled") as PromiseFulfilledResult<Awaited<ReturnType<SnapshotStoreClient["acquireLease"]>>>).value);
    } finally {
      recording.stop();
    }
  });

  it("expires when its holder stops renewing it; exactly one of two contenders takes it over; the old holder learns it lost it", async () => {
    const store = await newStore();
    const dead = await store.acquireLease({ trigger: "timer", leaseDurationInMs: 1000 });
    const run = await store.startRun({ trigger: "timer", select: ["id"] });
    await expectCode(store.acquireLease({ trigger: "cli" }), "run_in_progress");
    while (await store.getLease()) await sleep(100);
    const contenders = await Promise.allSettled([store.acquireLease({ trigger: "cli" }), store.acquireLease({ trigger: "timer" })]);
    const winners = contenders.filter((c) => c.status === "fulfilled");
    const losers = contenders.filter((c) => c.status === "rejected");
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(isUserSyncError((losers[0] as PromiseRejectedResult).reason, "run_in_progress")).toBe(true);
    const winner = (winners[0] as PromiseFulfilledResult<Awaited<ReturnType<SnapshotStoreClient["acquireLease"]>>>).value;
    expect(winner.tookOverFrom?.owner).toBe(dead.owner);
    // The old holder can neither renew nor checkpoint, nor release the new holder's lease.
    await expectCode(store.renewLease(dead), "lease_lost");
    await expectCode(store.checkpointRun(run, "https://graph.microsoft.com/v1.0/users?$skiptoken=x", stats(1), { lease: dead }), "lease_lost");
    expect((await store.getRun(run.runId))?.checkpoint).toBeUndefined();
    await store.releaseLease(dead);
    expect((await store.getLease())?.owner).toBe(winner.owner);
    await store.releaseLease(winner);
    expect(await store.getLease()).toBeUndefined();
  });
});

describe("retention", () => {
  it("keeps the newest N complete snapshots and the young ones, deletes older snapshots and partial data in batches, and keeps run records", async () => {
    const store = await newStore({ partitionCount: 4 });
    const users = Array.from({ length: 250 }, (_, i) => ({ id: userId(i), displayName: `U${i}` }));
    const complete: SyncRunRecord[] = [];
    for (let i = 0; i < 4; i++) {
      complete.push(await completeSnapshot(store, users));
      await sleep(2); // distinct ids
    }
    const failedRun = await store.startRun({ trigger: "timer", select: ["id"] });
    await store.upsertUsers(failedRun.snapshotId, users.slice(0, 120));
    await store.failRun(failedRun, "Graph answered 503", stats(120));
    const abandonedRun = await store.startRun({ trigger: "timer", select: ["id"] });
    await store.upsertUsers(abandonedRun.snapshotId, users.slice(0, 30));
    await store.abandonRun(abandonedRun, "Abandoned: too old.");
    const current = await store.startRun({ trigger: "timer", select: ["id"] });
    await store.upsertUsers(current.snapshotId, users.slice(0, 10));

    // Age keeps nothing here (all are seconds old and the window is 0): only the newest 2 stay.
    const result = await store.deleteExpiredSnapshots({ keepCount: 2, keepWithinInMs: 0 });
    expect(new Set(result.deletedSnapshotIds)).toEqual(new Set([complete[0]!.snapshotId, complete[1]!.snapshotId, failedRun.snapshotId, abandonedRun.snapshotId]));
    expect(result.deletedEntities).toBe(250 * 2 + 120 + 30);
    for (const id of result.deletedSnapshotIds) expect(await countEntities(store, id)).toBe(0);
    expect(await countEntities(store, complete[2]!.snapshotId)).toBe(250);
    expect(await countEntities(store, complete[3]!.snapshotId)).toBe(250);
    expect(await countEntities(store, current.snapshotId)).toBe(10); // a running run is never touched
    expect((await store.getLatestSnapshot())?.snapshotId).toBe(complete[3]!.snapshotId);
    // Records stay, marked; a deleted snapshot cannot be exported.
    expect((await store.getRun(complete[0]!.runId))?.snapshotDeletedAt).toBeInstanceOf(Date);
    const error = await expectCode(collect(store.listSnapshotUsers(complete[0]!.snapshotId)), "snapshot_not_found");
    expect(error.message).toContain("retention");
    // Nothing more to do: running it again deletes nothing.
    expect(await store.deleteExpiredSnapshots({ keepCount: 2, keepWithinInMs: 0 })).toEqual({ deletedSnapshotIds: [], deletedEntities: 0 });
  });

  it("keeps snapshots younger than D days even beyond N, and always the latest", async () => {
    const store = await newStore({ partitionCount: 2 });
    const users = [{ id: userId(1), displayName: "x" }];
    const runs = [await completeSnapshot(store, users), await completeSnapshot(store, users), await completeSnapshot(store, users)];
    const day = 86_400_000;
    expect(await store.deleteExpiredSnapshots({ keepCount: 1, keepWithinInMs: day })).toEqual({ deletedSnapshotIds: [], deletedEntities: 0 });
    // Two days later, only the newest one is within N, and none is young.
    const later = await store.deleteExpiredSnapshots({ keepCount: 1, keepWithinInMs: day, now: new Date(Date.now() + 2 * day) });
    expect(new Set(later.deletedSnapshotIds)).toEqual(new Set([runs[0]!.snapshotId, runs[1]!.snapshotId]));
    expect(await countEntities(store, runs[2]!.snapshotId)).toBe(1);
  });
});

describe("diffSnapshots", () => {
  it("reports users added, removed and changed (only the changed properties), merge-joining partition by partition", async () => {
    const store = await newStore({ partitionCount: 4 });
    const before: GraphUser[] = Array.from({ length: 300 }, (_, i) => ({ id: userId(i), displayName: `U${i}`, proxyAddresses: [`smtp:u${i}@c.com`], accountEnabled: true }));
    const after: GraphUser[] = before
      .filter((_, i) => i % 50 !== 7) // 6 removed
      .map((u, i) => (i % 40 === 3 ? { ...u, displayName: `${String(u.displayName)} (renamed)`, accountEnabled: false } : u));
    after.push({ id: userId(1000), displayName: "New", proxyAddresses: [], accountEnabled: true });
    after.push({ id: userId(1001), displayName: "Newer", proxyAddresses: ["smtp:x".padEnd(70_000, "x")], accountEnabled: true });
    // Same values, different key order: not a change.
    after[0] = { accountEnabled: true, id: before[0]!.id, proxyAddresses: before[0]!.proxyAddresses, displayName: before[0]!.displayName };
    const a = await completeSnapshot(store, before);
    const b = await completeSnapshot(store, after);
    const changes = await collect(store.diffSnapshots(a.snapshotId, b.snapshotId));
    const of = (kind: SnapshotChange["change"]) => changes.filter((c) => c.change === kind);
    expect(of("removed").map((c) => c.id).sort()).toEqual(before.filter((_, i) => i % 50 === 7).map((u) => u.id).sort());
    expect(of("added").map((c) => c.id).sort()).toEqual([userId(1000), userId(1001)]);
    const renamed = after.filter((u) => String(u.displayName).endsWith("(renamed)"));
    expect(of("changed").map((c) => c.id).sort()).toEqual(renamed.map((u) => u.id).sort());
    const one = of("changed").find((c) => c.id === renamed[0]!.id) as Extract<SnapshotChange, { change: "changed" }>;
    expect(one.properties).toEqual({
      displayName: { from: before.find((u) => u.id === one.id)!.displayName, to: renamed[0]!.displayName },
      accountEnabled: { from: true, to: false },
    });
    expect((of("added").find((c) => c.id === userId(1001)) as Extract<SnapshotChange, { change: "added" }>).user).toStrictEqual(after.at(-1));
    expect(await collect(store.diffSnapshots(b.snapshotId, b.snapshotId))).toEqual([]);
  });

  it("refuses incomplete snapshots and snapshots spread over different partition counts", async () => {
    const tablePrefix = uniqueTablePrefix("life");
    const store = await newStore({ partitionCount: 4, tablePrefix });
    const a = await completeSnapshot(store, [{ id: userId(1) }]);
    const running = await store.startRun({ trigger: "cli", select: ["id"] });
    await expectCode(collect(store.diffSnapshots(a.snapshotId, running.snapshotId)), "snapshot_not_found");
    const other = new SnapshotStoreClient({ storage: azurite.tableStorage, tablePrefix, partitionCount: 8 });
    const b = await completeSnapshot(other, [{ id: userId(1) }]);
    const error = await expectCode(collect(store.diffSnapshots(a.snapshotId, b.snapshotId)), "snapshot_not_found");
    expect(error.message).toContain("partition counts");
  });
});
