import { describe, expect, it } from "vitest";
import type { GraphUser, UserPage } from "../../src/graph/types.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { silentLogger } from "../../src/shared/logger.js";
import { runUserSync, type RunHandle, type RunStats, type SnapshotSink, type UserPageSource } from "../../src/sync/userSyncRun.js";

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

function page(pageNumber: number, size = 3): UserPage {
  const users: GraphUser[] = Array.from({ length: size }, (_, i) => ({ id: `user-${pageNumber}-${i}`, displayName: `U ${pageNumber}.${i}` }));
  return { pageNumber, users };
}

class RecordingSink implements SnapshotSink<RunHandle> {
  events: string[] = [];
  written: GraphUser[] = [];
  completed: RunStats | undefined;
  failed: { error: string; stats: RunStats } | undefined;
  writeGate: ((pageUsers: readonly GraphUser[]) => Promise<void>) | undefined;
  inFlightWrites = 0;
  maxInFlightWrites = 0;

  async startRun(): Promise<RunHandle> {
    this.events.push("start");
    return { runId: "run-1", snapshotId: "snap-1" };
  }
  async upsertUsers(_snapshotId: string, users: readonly GraphUser[]) {
    this.inFlightWrites += 1;
    this.maxInFlightWrites = Math.max(this.maxInFlightWrites, this.inFlightWrites);
    this.events.push(`write-start ${users[0]?.id}`);
    try {
      if (this.writeGate) await this.writeGate(users);
      this.written.push(...users);
      this.events.push(`write-end ${users[0]?.id}`);
      return { entitiesWritten: users.length, transactions: 1 };
    } finally {
      this.inFlightWrites -= 1;
    }
  }
  async completeRun(run: RunHandle, stats: RunStats) {
    this.events.push("complete");
    this.completed = { ...stats, counters: { ...stats.counters } };
    return run;
  }
  async failRun(run: RunHandle, error: string, stats: RunStats) {
    this.events.push("fail");
    this.failed = { error, stats: { ...stats } };
    return run;
  }
}

function sourceOf(pages: UserPage[], events?: string[], failAfter?: { pages: number; error: Error }): UserPageSource {
  return {
    async *listUserPages() {
      for (const [index, p] of pages.entries()) {
        if (failAfter && index === failAfter.pages) throw failAfter.error;
        events?.push(`read ${p.pageNumber}`);
        yield p;
      }
    },
  };
}

describe("runUserSync", () => {
  it("writes every page into the run's snapshot and completes the run with its counts", async () => {
    const sink = new RecordingSink();
    const pages = [page(1), page(2), page(3, 2)];
    const progress: RunStats[] = [];
    const result = await runUserSync(
      { source: sourceOf(pages), sink, select: ["id", "displayName"], logger: silentLogger },
      { trigger: "cli", onProgress: (s) => progress.push({ ...s }) },
    );
    expect(sink.written.map((u) => u.id)).toEqual(pages.flatMap((p) => p.users.map((u) => u.id)));
    expect(result.stats).toEqual({ pages: 3, usersRead: 8, entitiesWritten: 8, transactions: 3, counters: {} });
    expect(sink.completed).toEqual(result.stats);
    expect(sink.failed).toBeUndefined();
    expect(progress.map((p) => p.entitiesWritten)).toEqual([3, 6, 8]);
  });

  it("reads the next page while the previous one is being written, one write at a time", async () => {
    const sink = new RecordingSink();
    const gates = [deferred(), deferred(), deferred()];
    let writeIndex = 0;
    sink.writeGate = () => gates[writeIndex++]!.promise;
    const run = runUserSync({ source: sourceOf([page(1), page(2), page(3)], sink.events), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" });
    // Let the loop reach the first write and read ahead.
    await new Promise((r) => setImmediate(r));
    expect(sink.events).toEqual(["start", "read 1", "write-start user-1-0", "read 2"]);
    gates[0]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(sink.events.slice(4)).toEqual(["write-end user-1-0", "write-start user-2-0", "read 3"]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await run;
    expect(sink.maxInFlightWrites).toBe(1);
    expect(sink.events.at(-1)).toBe("complete");
  });

  it("records a failed read as a failed run, never completes it, and rethrows", async () => {
    const sink = new RecordingSink();
    const boom = new UserSyncError("graph_bad_response", "Graph page 3 is not JSON");
    await expect(
      runUserSync({ source: sourceOf([page(1), page(2), page(3)], undefined, { pages: 2, error: boom }), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" }),
    ).rejects.toBe(boom);
    expect(sink.completed).toBeUndefined();
    expect(sink.failed?.error).toBe("Graph page 3 is not JSON [graph_bad_response]");
    // Both pages read before the failure were fully written before the failure was recorded.
    expect(sink.failed?.stats).toEqual({ pages: 2, usersRead: 6, entitiesWritten: 6, transactions: 2, counters: {} });
  });

  it("records a failed write as a failed run and stops reading", async () => {
    const sink = new RecordingSink();
    sink.writeGate = async (users) => {
      if (users[0]?.id === "user-2-0") throw new UserSyncError("storage_request_failed", "Table Storage answered 403");
    };
    await expect(
      runUserSync({ source: sourceOf([page(1), page(2), page(3), page(4)], sink.events), sink, select: ["id"], logger: silentLogger }, { trigger: "timer" }),
    ).rejects.toThrow("Table Storage answered 403");
    expect(sink.completed).toBeUndefined();
    expect(sink.failed?.error).toContain("storage_request_failed");
    expect(sink.events).not.toContain("read 4");
  });

  it("redacts secrets from the error it records", async () => {
    const sink = new RecordingSink();
    const leaky = new Error("failed with AccountKey=c2VjcmV0 and Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
    await expect(runUserSync({ source: sourceOf([page(1)], undefined, { pages: 0, error: leaky }), sink, select: ["id"], logger: silentLogger }, { trigger: "cli" })).rejects.toBe(leaky);
    expect(sink.failed?.error).not.toContain("c2VjcmV0");
    expect(sink.failed?.error).not.toContain("eyJ");
  });
});
