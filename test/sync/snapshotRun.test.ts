import { describe, expect, it } from "vitest";
import type { GraphUser, UserPage } from "../../src/graph/types.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { silentLogger } from "../../src/shared/logger.js";
import type { RunStats, SnapshotSink, SyncRunView, UserPageSource } from "../../src/sync/snapshotPorts.js";
import { runSnapshot, whyNotResumable } from "../../src/sync/snapshotRun.js";

/** A controllable boundary: each page read and each write waits until the test releases it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function page(pageNumber: number, size = 3, last = false): UserPage {
  const users: GraphUser[] = Array.from({ length: size }, (_, i) => ({ id: `user-${pageNumber}-${i}`, displayName: `U ${pageNumber}.${i}` }));
  return last ? { pageNumber, users } : { pageNumber, users, nextLink: `link-${pageNumber + 1}` };
}

type FakeRun = SyncRunView & { status: string; error?: string };

/** A lease the test can lose: like WriterLease, aborting its signal marks it lost. */
class FakeLease {
  readonly owner = "me";
  readonly durationInMs = 300_000;
  readonly #controller = new AbortController();
  lost: Error | undefined;
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  lose(error: Error): void {
    this.lost = error;
    this.#controller.abort(error);
  }
}

class RecordingSink implements SnapshotSink<FakeRun, FakeLease> {
  readonly partitionCount = 16;
  events: string[] = [];
  written: GraphUser[] = [];
  completed: RunStats | undefined;
  failed: { error: string; stats: RunStats } | undefined;
  writeGate: ((pageUsers: readonly GraphUser[]) => Promise<void>) | undefined;
  skip: (user: GraphUser) => string | undefined = () => undefined;
  inFlightWrites = 0;
  maxInFlightWrites = 0;
  runs: FakeRun[] = [];
  leaseHeld = false;
  loseLeaseAtCheckpoint: number | undefined;
  checkpoints = 0;
  /** Writes that came without the run's lease (the store would not fence them): must stay empty. */
  unfencedWrites: string[] = [];
  lease: FakeLease | undefined;
  #next = 0;

  #fenced(what: string, options: { lease?: FakeLease } | undefined): void {
    if (!options?.lease || options.lease !== this.lease) this.unfencedWrites.push(what);
  }

  async acquireLease() {
    if (this.leaseHeld) throw new UserSyncError("run_in_progress", "Another sync is writing.");
    this.leaseHeld = true;
    this.events.push("lease");
    this.lease = new FakeLease();
    return this.lease;
  }
  async renewLease() {}
  async releaseLease() {
    this.leaseHeld = false;
    this.events.push("release");
  }
  async *listUnfinishedRuns() {
    for (const run of [...this.runs].reverse()) if (run.status === "running" || run.status === "paused") yield { ...run };
  }
  #save(run: FakeRun): FakeRun {
    const at = this.runs.findIndex((r) => r.runId === run.runId);
    this.runs[at] = { ...run };
    return run;
  }
  async startRun(options: { select: readonly string[]; lease: FakeLease }): Promise<FakeRun> {
    this.#fenced("start", options);
    this.events.push("start");
    const id = `run-${++this.#next}`;
    const run: FakeRun = {
      runId: id,
      snapshotId: id,
      status: "running",
      startedAt: new Date(),
      select: [...options.select],
      partitionCount: 16,
      stats: { pages: 0, usersRead: 0, entitiesWritten: 0, transactions: 0, counters: {}, skipped: [] },
    };
    this.runs.push(run);
    return { ...run };
  }
  async resumeRun(run: FakeRun, options: { lease: FakeLease }) {
    this.#fenced("resume", options);
    this.events.push(`resume ${run.runId}`);
    return this.#save({ ...run, status: "running" });
  }
  async abandonRun(run: FakeRun, reason: string, options: { lease: FakeLease }) {
    this.#fenced("abandon", options);
    this.events.push(`abandon ${run.runId}`);
    return this.#save({ ...run, status: "abandoned", error: reason });
  }
  async upsertUsers(_snapshotId: string, users: readonly GraphUser[], options: { lease: FakeLease }) {
    this.#fenced("upsert", options);
    this.inFlightWrites += 1;
    this.maxInFlightWrites = Math.max(this.maxInFlightWrites, this.inFlightWrites);
    this.events.push(`write-start ${users[0]?.id}`);
    try {
      if (this.writeGate) await this.writeGate(users);
      const skipped = users.flatMap((u) => {
        const reason = this.skip(u);
        return reason === undefined ? [] : [{ id: u.id, reason }];
      });
      const kept = users.filter((u) => this.skip(u) === undefined);
      this.written.push(...kept);
      this.events.push(`write-end ${users[0]?.id}`);
      return { entitiesWritten: kept.length, transactions: 1, skipped };
    } finally {
      this.inFlightWrites -= 1;
    }
  }
  async checkpointRun(run: FakeRun, nextLink: string | undefined, stats: RunStats, options: { lease: FakeLease }) {
    this.#fenced("checkpoint", options);
    this.checkpoints += 1;
    if (this.loseLeaseAtCheckpoint === this.checkpoints) throw new UserSyncError("lease_lost", "lost the lease");
    this.events.push(`checkpoint ${nextLink ?? "end"}`);
    return this.#save({ ...run, stats: { ...stats, counters: { ...stats.counters }, skipped: [...stats.skipped] }, checkpoint: { at: new Date(), ...(nextLink ? { nextLink } : {}) } });
  }
  async pauseRun(run: FakeRun, options: { lease: FakeLease }) {
    this.#fenced("pause", options);
    this.events.push("pause");
    return this.#save({ ...this.runs.find((r) => r.runId === run.runId)!, status: "paused" });
  }
  async completeRun(run: FakeRun, stats: RunStats, options: { lease: FakeLease }) {
    this.#fenced("complete", options);
    this.events.push("complete");
    this.completed = { ...stats, counters: { ...stats.counters } };
    return this.#save({ ...run, status: "succeeded" });
  }
  async failRun(run: FakeRun, error: string, stats: RunStats, options: { lease: FakeLease }) {
    this.#fenced("fail", options);
    this.events.push("fail");
    this.failed = { error, stats: { ...stats } };
    return this.#save({ ...run, status: "failed" });
  }
}

function sourceOf(pages: UserPage[], events?: string[], failAfter?: { pages: number; error: Error }, links: string[] = []): UserPageSource {
  return {
    async *listUserPages(options) {
      links.push(options?.startLink ?? "first");
      const from = options?.startLink ? Number(options.startLink.replace("link-", "")) - 1 : 0;
      for (const [index, p] of pages.entries()) {
        if (index < from) continue;
        if (failAfter && index === failAfter.pages) throw failAfter.error;
        options?.abortSignal?.throwIfAborted();
        events?.push(`read ${p.pageNumber}`);
        yield p;
      }
    },
  };
}

describe("runSnapshot", () => {
  it("writes every page into the run's snapshot and completes the run with its counts", async () => {
    const sink = new RecordingSink();
    const pages = [page(1), page(2), page(3, 2, true)];
    const progress: RunStats[] = [];
    const result = await runSnapshot(
      { source: sourceOf(pages), sink, select: ["id", "displayName"], logger: silentLogger },
      { trigger: "cli", onProgress: (s) => progress.push({ ...s }) },
    );
    expect(sink.written.map((u) => u.id)).toEqual(pages.flatMap((p) => p.users.map((u) => u.id)));
    expect(result.stats).toEqual({ pages: 3, usersRead: 8, entitiesWritten: 8, transactions: 3, counters: {}, skipped: [] });
    expect(result.outcome).toBe("completed");
    expect(sink.events.filter((e) => e.startsWith("checkpoint"))).toEqual(["checkpoint link-2", "checkpoint link-3", "checkpoint end"]);
    expect(sink.events.at(-1)).toBe("release");
    expect(sink.completed).toEqual(result.stats);
    expect(sink.failed).toBeUndefined();
    expect(progress.map((p) => p.entitiesWritten)).toEqual([3, 6, 8]);
  });

  it("asks for the next page before writing the current one, and writes one page at a time", async () => {
    const sink = new RecordingSink();
    const gates = [deferred(), deferred(), deferred()];
    let writeIndex = 0;
    sink.writeGate = () => gates[writeIndex++]!.promise;
    const turns = async (n: number) => {
      for (let i = 0; i < n; i += 1) await new Promise((r) => setImmediate(r));
    };
    const run = runSnapshot({ source: sourceOf([page(1), page(2), page(3)], sink.events), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" });
    // Page 2 is requested before page 1's write starts (its encoding must not delay the request).
    await turns(3);
    expect(sink.events).toEqual(["lease", "start", "read 1", "read 2", "write-start user-1-0"]);
    gates[0]!.resolve();
    await turns(3);
    expect(sink.events.slice(5)).toEqual(["write-end user-1-0", "checkpoint link-2", "read 3", "write-start user-2-0"]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await run;
    expect(sink.maxInFlightWrites).toBe(1);
    expect(sink.events.at(-2)).toBe("complete");
  });

  it("records a failed read as a failed run, never completes it, and rethrows", async () => {
    const sink = new RecordingSink();
    const boom = new UserSyncError("graph_bad_response", "Graph page 3 is not JSON");
    await expect(
      runSnapshot({ source: sourceOf([page(1), page(2), page(3)], undefined, { pages: 2, error: boom }), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" }),
    ).rejects.toBe(boom);
    expect(sink.completed).toBeUndefined();
    expect(sink.failed?.error).toBe("Graph page 3 is not JSON [graph_bad_response]");
    // Both pages read before the failure were fully written before the failure was recorded.
    expect(sink.failed?.stats).toEqual({ pages: 2, usersRead: 6, entitiesWritten: 6, transactions: 2, counters: {}, skipped: [] });
  });

  it("records a failed write as a failed run and stops reading", async () => {
    const sink = new RecordingSink();
    sink.writeGate = async (users) => {
      if (users[0]?.id === "user-2-0") throw new UserSyncError("storage_request_failed", "Table Storage answered 403");
    };
    await expect(
      runSnapshot({ source: sourceOf([page(1), page(2), page(3), page(4)], sink.events), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" }),
    ).rejects.toThrow("Table Storage answered 403");
    expect(sink.completed).toBeUndefined();
    expect(sink.failed?.error).toContain("storage_request_failed");
    expect(sink.events).not.toContain("read 4");
  });

  it("redacts secrets from the error it records", async () => {
    const sink = new RecordingSink();
    const leaky = new Error("failed with AccountKey=c2VjcmV0 and Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
    await expect(runSnapshot({ source: sourceOf([page(1)], undefined, { pages: 0, error: leaky }), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" })).rejects.toBe(leaky);
    expect(sink.failed?.error).not.toContain("c2VjcmV0");
    expect(sink.failed?.error).not.toContain("eyJ");
  });
  it("exits with run_in_progress before reading or writing anything when another run holds the lease", async () => {
    const sink = new RecordingSink();
    sink.leaseHeld = true;
    const links: string[] = [];
    await expect(runSnapshot({ source: sourceOf([page(1, 3, true)], undefined, undefined, links), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" })).rejects.toMatchObject({
      code: "run_in_progress",
    });
    expect(links).toEqual([]);
    expect(sink.events).toEqual([]);
  });

  it("stops at a checkpoint when the maximum run duration is reached, and the next run resumes from it", async () => {
    const sink = new RecordingSink();
    const pages = [page(1), page(2), page(3), page(4, 3, true)];
    // The second page is held until the deadline has passed.
    sink.writeGate = async (users) => {
      if (users[0]?.id === "user-2-0") await new Promise((r) => setTimeout(r, 600));
    };
    const first = await runSnapshot(
      { source: sourceOf(pages), sink, select: ["id"], logger: silentLogger, runControl: { maxRunDurationInMs: 250 } },
      { trigger: "timer" },
    );
    expect(first.outcome).toBe("paused");
    expect(first.pausedBecause).toBe("max_run_duration");
    // The page being written when the deadline came was finished and checkpointed; nothing after it.
    expect(sink.runs[0]).toMatchObject({ status: "paused", checkpoint: { nextLink: "link-3" }, stats: { pages: 2, usersRead: 6 } });
    expect(sink.written.map((u) => u.id)).not.toContain("user-3-0");

    sink.writeGate = undefined;
    const links: string[] = [];
    const second = await runSnapshot({ source: sourceOf(pages, undefined, undefined, links), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" });
    expect(links).toEqual(["link-3"]);
    expect(second).toMatchObject({ outcome: "completed", resumed: true });
    expect(second.run.runId).toBe(first.run.runId);
    expect(second.stats).toMatchObject({ pages: 4, usersRead: 12, entitiesWritten: 12, counters: { resumes: 1 } });
    expect(new Set(sink.written.map((u) => u.id)).size).toBe(12);
  });

  it("abandons a stopped run whose checkpoint is too old, or whose selection changed, and starts a new snapshot", () => {
    const run: SyncRunView = {
      runId: "r",
      snapshotId: "r",
      status: "running",
      startedAt: new Date(0),
      select: ["id", "mail"],
      partitionCount: 16,
      checkpoint: { at: new Date(1_000_000), nextLink: "x" },
      stats: { pages: 1, usersRead: 1, entitiesWritten: 1, transactions: 1, counters: {} },
    };
    expect(whyNotResumable(run, ["id", "mail"], 16, 60_000, 1_000_000 + 59_000)).toBeUndefined();
    expect(whyNotResumable(run, ["id", "mail"], 16, 60_000, 1_000_000 + 61_000)).toContain("USER_SYNC_RESUME_WITHIN_MINUTES");
    expect(whyNotResumable(run, ["id"], 16, 60_000, 1_000_000)).toContain("USER_SYNC_SELECT");
    expect(whyNotResumable(run, ["id", "mail"], 8, 60_000, 1_000_000)).toContain("partition");
    expect(whyNotResumable({ ...run, checkpoint: undefined } as SyncRunView, ["id", "mail"], 16, 60_000, 1_000_000)).toContain("first page");
  });

  it("starts over cleanly when Graph refuses the saved link", async () => {
    const sink = new RecordingSink();
    const pages = [page(1), page(2, 3, true)];
    const earlier = new FakeLease();
    sink.lease = earlier;
    await sink.startRun({ select: ["id"], lease: earlier });
    await sink.checkpointRun(sink.runs[0]!, "link-2", { pages: 1, usersRead: 3, entitiesWritten: 3, transactions: 1, counters: {}, skipped: [] }, { lease: earlier });
    sink.runs[0]!.status = "running"; // its process died
    const rejected = new UserSyncError("graph_request_failed", "Graph answered 400", { details: { status: 400 } });
    const links: string[] = [];
    const source: UserPageSource = {
      async *listUserPages(options) {
        links.push(options?.startLink ?? "first");
        if (options?.startLink) throw rejected;
        yield* pages;
      },
    };
    const result = await runSnapshot({ source, sink, select: ["id"], logger: silentLogger }, { trigger: "timer" });
    expect(links).toEqual(["link-2", "first"]);
    expect(sink.runs[0]).toMatchObject({ status: "abandoned" });
    expect(sink.runs[0]!.error).toContain("refused its saved page link");
    expect(result).toMatchObject({ outcome: "completed", resumed: false });
    expect(result.run.runId).not.toBe(sink.runs[0]!.runId);
    expect(result.stats.entitiesWritten).toBe(6);
  });

  it("stops without recording anything when its lease was taken over", async () => {
    const sink = new RecordingSink();
    sink.loseLeaseAtCheckpoint = 2;
    await expect(runSnapshot({ source: sourceOf([page(1), page(2), page(3, 3, true)]), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" })).rejects.toMatchObject({
      code: "lease_lost",
    });
    expect(sink.events).not.toContain("fail");
    expect(sink.events).not.toContain("complete");
    expect(sink.events).not.toContain("release");
  });

  it("sends every write with the run's lease, so the store fences each of them", async () => {
    const sink = new RecordingSink();
    const result = await runSnapshot({ source: sourceOf([page(1), page(2), page(3, 2, true)]), sink, select: ["id"], logger: silentLogger, retention: { keepCount: 1, keepWithinInMs: 0 } }, { trigger: "cli" });
    expect(result.outcome).toBe("completed");
    expect(sink.events.filter((e) => e.startsWith("checkpoint"))).toHaveLength(3);
    expect(sink.unfencedWrites).toEqual([]);
  });

  it("stops reading and records nothing more once its lease is lost while a page is read", async () => {
    const sink = new RecordingSink();
    const lost = new UserSyncError("lease_lost", "the lease expired while this process was frozen");
    const source: UserPageSource = {
      async *listUserPages(options) {
        yield page(1);
        // The process was frozen here, past its lease; the keeper (or a write's check) finds out.
        sink.lease!.lose(lost);
        options?.abortSignal?.throwIfAborted();
        yield page(2, 3, true);
      },
    };
    await expect(runSnapshot({ source, sink, select: ["id"], logger: silentLogger }, { trigger: "timer" })).rejects.toBe(lost);
    expect(sink.events).not.toContain("fail");
    expect(sink.events).not.toContain("complete");
    expect(sink.events).not.toContain("pause");
    expect(sink.events).not.toContain("release");
    expect(sink.written.map((u) => u.id)).not.toContain("user-2-0");
  });

  it("counts users that cannot be stored, lists the first ones, and completes the run", async () => {
    const sink = new RecordingSink();
    sink.skip = (u) => (u.id.endsWith("-1") ? `User ${u.id}: too large` : undefined);
    const result = await runSnapshot({ source: sourceOf([page(1), page(2, 3, true)]), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" });
    expect(result.outcome).toBe("completed");
    expect(result.stats.counters.skippedUsers).toBe(2);
    expect(result.stats.skipped).toEqual([
      { id: "user-1-1", reason: "User user-1-1: too large" },
      { id: "user-2-1", reason: "User user-2-1: too large" },
    ]);
    expect(result.stats.entitiesWritten).toBe(4);
  });
});
