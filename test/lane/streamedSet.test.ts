/**
 * The users' set written as the round's pages arrive (src/lane/streamedSet.ts, SnapshotLane's
 * stream), over port fakes: a block per row group is staged during the round and nothing is
 * committed before promotion; after it, the parts, then the manifest and _SUCCESS, with no read of
 * the snapshot (the store's listSnapshotUsers is never called); DuckDB reads the set equal to the
 * snapshot; whenever the stream cannot vouch for its rows (a user twice, a resumed run, a failed
 * block, pages missing) the lane reads the snapshot back and the set is still the snapshot's; a run
 * that lost its lease stages and commits nothing more; memory holds a row group and a page.
 */
import { RestError } from "@azure/core-rest-pipeline";
import type { ContainerClient } from "@azure/storage-blob";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readExportLane } from "../../src/configuration/exportSettings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { userLaneColumns } from "../../src/lane/laneColumns.js";
import { SnapshotLane, type LaneSnapshotSource } from "../../src/lane/snapshotLane.js";
import { isUserSyncError, UserSyncError } from "../../src/shared/errors.js";
import type { SkippedUser, SyncRunRecord } from "../../src/snapshots/runRecords.js";
import type { WriterLease } from "../../src/snapshots/writerLease.js";
import { expectedCell, readBackCell, readParquetWithDuckDb } from "../support/laneReader.js";
import { capturingLogger } from "../support/syncEnvironment.js";

const SELECT = ["id", "displayName", "accountEnabled", "createdDateTime", "businessPhones", "employeeOrgData"];
const settings = readExportLane({ USER_SYNC_EXPORT_STORAGE: "UseDevelopmentStorage=true", USER_SYNC_EXPORT_CONTAINER: "lane" }).lane!;

/** A container that keeps staged blocks and committed blobs in memory, and logs every request. */
function memoryContainer(options: { failStage?: (name: string, index: number) => boolean; stageGate?: Promise<void> } = {}) {
  const staged = new Map<string, Map<string, Uint8Array>>();
  const committed = new Map<string, Buffer>();
  const requests: string[] = [];
  let stages = 0;
  const blob = (name: string) => ({
    async stageBlock(id: string, bytes: Uint8Array) {
      requests.push(`stage ${name}`);
      if (options.failStage?.(name, stages++)) throw new RestError("the server failed", { statusCode: 500 });
      await options.stageGate;
      if (!staged.has(name)) staged.set(name, new Map());
      staged.get(name)!.set(id, bytes);
    },
    async commitBlockList(ids: string[]) {
      requests.push(`commit ${name}`);
      committed.set(name, Buffer.concat(ids.map((id) => staged.get(name)!.get(id)!)));
      staged.delete(name);
    },
    async upload(body: Buffer, _length: number, upload: { conditions?: { ifNoneMatch?: string } }) {
      requests.push(`upload ${name}`);
      if (upload.conditions?.ifNoneMatch === "*" && committed.has(name)) throw new RestError("exists", { statusCode: 409 });
      committed.set(name, Buffer.from(body));
    },
    async exists() {
      requests.push(`exists ${name}`);
      return committed.has(name);
    },
    async downloadToBuffer() {
      return committed.get(name)!;
    },
  });
  const container = { getBlockBlobClient: blob } as unknown as ContainerClient;
  return { container, staged, committed, requests };
}

function testLease() {
  const controller = new AbortController();
  const lease = {
    signal: controller.signal,
    lost: undefined as Error | undefined,
    assertHeld() {
      if (lease.lost) throw lease.lost;
    },
    lose() {
      lease.lost = new UserSyncError("lease_lost", "Another run took the writer lease over.");
      controller.abort(lease.lost);
    },
  };
  return lease;
}

function user(i: number): GraphUser {
  return {
    id: `u-${String((i * 7919) % 100_003).padStart(6, "0")}`,
    displayName: i % 3 === 0 ? `Zoë 東京 ${i}` : `User ${i}`,
    accountEnabled: i % 4 === 0 ? null : i % 2 === 0,
    createdDateTime: new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString(),
    businessPhones: i % 2 === 0 ? [] : [`+1 ${i}`],
    employeeOrgData: i % 2 === 0 ? null : { division: "Nord", costCenter: `${i}` },
  } as GraphUser;
}

/** Pages of users, as the round reads them. */
function pagesOf(count: number, pageSize: number): GraphUser[][] {
  const pages: GraphUser[][] = [];
  for (let i = 0; i < count; i += pageSize) pages.push(Array.from({ length: Math.min(pageSize, count - i) }, (_, j) => user(i + j)));
  return pages;
}

function runOf(pages: number, users: number): SyncRunRecord {
  return {
    runId: "20261207T100000000Z-abc123",
    snapshotId: "20261207T100000000Z-abc123",
    status: "succeeded",
    trigger: "cli",
    startedAt: new Date("2026-12-07T10:00:00.000Z"),
    select: SELECT,
    partitionCount: 4,
    stats: { pages, usersRead: users, entitiesWritten: users, transactions: 0, counters: {}, skipped: [] },
  };
}

/** The snapshot store: its one promoted run, and its users (in storage order: by id) for a read back. */
function storeOf(run: SyncRunRecord, stored: GraphUser[]) {
  const reads = { count: 0 };
  const store: LaneSnapshotSource = {
    async *listRuns() {
      yield run;
    },
    async *listSnapshotUsers() {
      reads.count += 1;
      yield* [...stored].sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async recordLane() {},
  };
  return { store, reads };
}

/** Streams the pages through a lane (as the round does), then promotes and runs catchUp. */
async function streamAndCatchUp(
  pages: GraphUser[][],
  options: { skipped?: SkippedUser[][]; resumed?: boolean; run?: SyncRunRecord; stored?: GraphUser[]; container?: ReturnType<typeof memoryContainer>; layout?: { rowsPerGroup?: number; groupsPerPart?: number } } = {},
) {
  const stored = options.stored ?? pages.flat();
  const run = options.run ?? runOf(pages.length, stored.length);
  const memory = options.container ?? memoryContainer();
  const { store, reads } = storeOf(run, stored);
  const lane = new SnapshotLane({ container: memory.container, settings, tenantId: "T1", store, ...(options.layout ?? { rowsPerGroup: 100, groupsPerPart: 3 }) });
  const lease = testLease();
  const log = capturingLogger();
  const stream = lane.openStream({ lease: lease as unknown as WriterLease, logger: log.logger });
  stream.attach(run, { resumed: options.resumed ?? false });
  for (const [i, page] of pages.entries()) await stream.page(page, options.skipped?.[i] ?? []);
  const committedBeforePromotion = [...memory.committed.keys()];
  const stagedBeforePromotion = memory.requests.filter((r) => r.startsWith("stage")).length;
  const result = await lane.catchUp({ lease: lease as unknown as WriterLease, logger: log.logger, stream });
  return { result, memory, reads, log, run, stored, lane, committedBeforePromotion, stagedBeforePromotion };
}

/** The set's rows as DuckDB reads them (sorted by id) must be the stored users', every column. */
async function expectSetEqualsSnapshot(memory: ReturnType<typeof memoryContainer>, prefix: string, run: SyncRunRecord, stored: GraphUser[]) {
  const folder = await mkdtemp(join(tmpdir(), "streamed-"));
  const manifest = JSON.parse(memory.committed.get(`${prefix}_manifest.json`)!.toString("utf8")) as { files: Array<{ name: string; rows: number }>; rows: number };
  await mkdir(join(folder, "set"));
  for (const file of manifest.files) await writeFile(join(folder, "set", file.name), memory.committed.get(`${prefix}${file.name}`)!);
  const columns = userLaneColumns(run.select);
  const read = await readParquetWithDuckDb(`${folder}/set/*.parquet`, columns);
  const expected = [...stored].sort((a, b) => (a.id < b.id ? -1 : 1));
  expect(manifest.rows).toBe(expected.length);
  expect(read.rows).toHaveLength(expected.length);
  const stamps = { _snapshotTime: run.startedAt.toISOString(), _tenantId: "T1", _runId: run.runId };
  for (let i = 0; i < expected.length; i++) {
    const row: Record<string, unknown> = { ...expected[i]!, ...stamps };
    for (const column of columns) expect(readBackCell(column, read.rows[i]![column.name]), `${String(row.id)} ${column.name}`).toEqual(expectedCell(column, row[column.name]));
  }
  return manifest;
}

describe("the users' set streamed as the pages arrive", () => {
  it("stages a block per row group during the round, commits nothing before promotion, then writes the set with no read of the snapshot", async () => {
    const pages = pagesOf(650, 50);
    const { result, memory, reads, run, stored, lane, committedBeforePromotion, stagedBeforePromotion } = await streamAndCatchUp(pages);
    expect(reads.count).toBe(0);
    expect(result.failed).toEqual([]);
    expect(result.written).toMatchObject([{ kind: "snapshot", rows: 650, files: 3, alreadyComplete: false }]);
    // Six full row groups of 100 were staged as the pages came; nothing visible yet.
    expect(stagedBeforePromotion).toBeGreaterThanOrEqual(6);
    expect(committedBeforePromotion).toEqual([]);
    const prefix = lane.prefixOf(run);
    const writes = memory.requests.filter((r) => !r.startsWith("exists"));
    expect(writes.slice(-2)).toEqual([`upload ${prefix}_manifest.json`, `upload ${prefix}_SUCCESS`]);
    const manifest = await expectSetEqualsSnapshot(memory, prefix, run, stored);
    // The read-back path's names and row counts: part-00000…, 300 rows (3 groups of 100) a part.
    expect(manifest.files.map((f) => [f.name, f.rows])).toEqual([
      ["part-00000.parquet", 300],
      ["part-00001.parquet", 300],
      ["part-00002.parquet", 50],
    ]);
  });

  it("streams row groups of 2,500 rows by default, where a set read back has 10,000: the round holds less while the set is the same rows", async () => {
    const pages = pagesOf(6_000, 1_000);
    const streamed = await streamAndCatchUp(pages, { layout: {} });
    const readBack = await streamAndCatchUp(pages, { layout: {}, resumed: true });
    expect(streamed.reads.count).toBe(0);
    expect(readBack.reads.count).toBe(1);
    const stagesOf = (memory: ReturnType<typeof memoryContainer>) => memory.requests.filter((r) => r.startsWith("stage")).length;
    // One block per row group, then the footer: 2,500 + 2,500 + 1,000 streamed; one group of 6,000 read back.
    expect(stagesOf(streamed.memory)).toBe(4);
    expect(stagesOf(readBack.memory)).toBe(2);
    for (const { memory, lane, run, stored } of [streamed, readBack]) {
      const manifest = await expectSetEqualsSnapshot(memory, lane.prefixOf(run), run, stored);
      expect(manifest.files.map((f) => [f.name, f.rows])).toEqual([["part-00000.parquet", 6_000]]);
    }
  });

  it("leaves out the users the store skipped, and still writes the set without reading it back", async () => {
    const pages = pagesOf(120, 40);
    const skippedUser = pages[1]![3]!;
    const stored = pages.flat().filter((u) => u.id !== skippedUser.id);
    const { result, memory, reads, run, lane } = await streamAndCatchUp(pages, { skipped: [[], [{ id: skippedUser.id, reason: "too big" }], []], stored, run: runOf(3, stored.length) });
    expect(reads.count).toBe(0);
    expect(result.written[0]).toMatchObject({ rows: 119 });
    await expectSetEqualsSnapshot(memory, lane.prefixOf(run), run, stored);
  });

  const fallbacks: Array<[string, () => Parameters<typeof streamAndCatchUp>]> = [
    ["a user id comes in two pages (the table keeps one)", () => {
      const pages = pagesOf(200, 50);
      pages[3]![0] = { ...pages[0]![0]!, displayName: "Later" };
      const stored = [...pages.slice(1).flat()].concat(pages[0]!.slice(1));
      return [pages, { stored, run: runOf(4, 200) }];
    }],
    ["a user id comes twice in one page", () => {
      const pages = pagesOf(100, 50);
      pages[1]![1] = pages[1]![0]!;
      return [pages, { stored: pages.flat().filter((u, i, all) => all.findIndex((v) => v.id === u.id) === i), run: runOf(2, 100) }];
    }],
    ["the run was resumed (its first pages were streamed by a dead process)", () => {
      const pages = pagesOf(300, 50);
      return [pages.slice(3), { resumed: true, stored: pages.flat(), run: runOf(6, 300) }];
    }],
    ["a block could not be staged", () => [pagesOf(300, 50), { container: memoryContainer({ failStage: (_name, index) => index === 1 }) }]],
    ["the round committed pages the stream did not see", () => {
      const pages = pagesOf(300, 50);
      return [pages.slice(0, 5), { stored: pages.flat(), run: runOf(6, 300) }];
    }],
  ];
  for (const [why, make] of fallbacks) {
    it(`reads the snapshot back when ${why}, and the set is the snapshot's`, async () => {
      const { result, memory, reads, run, stored, lane, log } = await streamAndCatchUp(...make());
      expect(reads.count).toBe(1);
      expect(result.failed).toEqual([]);
      expect(log.lines.some((line) => line.startsWith("info Analytics lane:") && line.includes("is read back from the snapshot"))).toBe(true);
      await expectSetEqualsSnapshot(memory, lane.prefixOf(run), run, stored);
    });
  }

  it("a run that lost its lease mid-round stages nothing more and commits nothing: no part, no manifest, no _SUCCESS", async () => {
    const pages = pagesOf(600, 50);
    const run = runOf(pages.length, 600);
    const memory = memoryContainer();
    const { store, reads } = storeOf(run, pages.flat());
    const lane = new SnapshotLane({ container: memory.container, settings, tenantId: "T1", store, rowsPerGroup: 100, groupsPerPart: 3 });
    const lease = testLease();
    const log = capturingLogger();
    const stream = lane.openStream({ lease: lease as unknown as WriterLease, logger: log.logger });
    stream.attach(run, { resumed: false });
    for (const page of pages.slice(0, 4)) await stream.page(page, []);
    await new Promise((resolve) => setImmediate(resolve));
    const stagedBefore = memory.requests.length;
    expect(stagedBefore).toBeGreaterThan(0);
    lease.lose();
    for (const page of pages.slice(4)) await stream.page(page, []);
    const error = await lane.catchUp({ lease: lease as unknown as WriterLease, logger: log.logger, stream }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUserSyncError(error, "lease_lost"), String(error)).toBe(true);
    expect(memory.requests.slice(stagedBefore)).toEqual([]);
    expect(memory.committed.size).toBe(0);
    expect(reads.count).toBe(0);
  });

  it("holds a row group and a page: a page waits while the page before it is queued behind a block in flight", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const memory = memoryContainer({ stageGate: gate });
    const pages = pagesOf(500, 50);
    const run = runOf(pages.length, 500);
    const { store } = storeOf(run, pages.flat());
    const lane = new SnapshotLane({ container: memory.container, settings, tenantId: "T1", store, rowsPerGroup: 100, groupsPerPart: 3 });
    const lease = testLease();
    const stream = lane.openStream({ lease: lease as unknown as WriterLease, logger: capturingLogger().logger });
    stream.attach(run, { resumed: false });
    // Pages 1 and 2 fill a row group, whose block is held in flight; page 3 is queued behind it.
    for (const page of pages.slice(0, 3)) await stream.page(page, []);
    let done = false;
    const fourth = stream.page(pages[3]!, []).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBe(false);
    open();
    await fourth;
    expect(done).toBe(true);
    for (const page of pages.slice(4)) await stream.page(page, []);
    const result = await lane.catchUp({ lease: lease as unknown as WriterLease, logger: capturingLogger().logger, stream });
    expect(result.written[0]).toMatchObject({ rows: 500, files: 2 });
  });
});
