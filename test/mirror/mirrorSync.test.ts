/**
 * One mirror round against an in-memory store (the MirrorStore port) and a scripted delta source:
 * which round runs, what it writes and records, and what it does when its lease is lost.
 */
import { describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import type { DeltaItem, DeltaPage, ListDeltaPagesOptions } from "../../src/graph/userDeltaClient.js";
import type { MirrorUser } from "../../src/mirror/mirrorEntity.js";
import type { MirrorChangeRecord, MirrorDeltaState, MirrorRunRecord, SavedDeltaStateVersion, VersionedDeltaState } from "../../src/mirror/mirrorRecords.js";
import { runMirrorSync, type DeltaPageSource, type MirrorStore } from "../../src/mirror/mirrorSync.js";
import type { MirrorWriteOptions } from "../../src/mirror/mirrorTables.js";
import type { MirrorChange, MirrorWrite } from "../../src/mirror/planChanges.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { silentLogger } from "../../src/shared/logger.js";
import type { LosableLeaseGuard } from "../../src/tables/leaseGuard.js";

const SELECT = ["id", "displayName"];

class MemoryMirror implements MirrorStore {
  readonly stats = { requests: 0, entitiesWritten: 0, transactions: 0, entitiesRead: 0 };
  users = new Map<string, MirrorUser>();
  state: VersionedDeltaState | undefined;
  runs = new Map<string, MirrorRunRecord>();
  changes = new Map<string, MirrorChangeRecord[]>();
  claimedBy: LosableLeaseGuard[] = [];
  /** Writes made without the round's lease (a round under a lease must make none). */
  unfenced: string[] = [];
  tooLarge = new Set<string>();
  #etag = 0;

  #write(what: string, options?: MirrorWriteOptions): void {
    if (!options?.lease) this.unfenced.push(what);
    options?.lease?.assertHeld();
  }
  async beginRound(lease: LosableLeaseGuard) {
    this.claimedBy.push(lease);
    return [];
  }
  async getDeltaState() {
    return this.state ? { ...this.state } : undefined;
  }
  async saveDeltaState(state: MirrorDeltaState, previous: SavedDeltaStateVersion, options?: MirrorWriteOptions) {
    this.#write("state", options);
    if (previous?.etag !== this.state?.etag) throw new UserSyncError("lease_lost", "another run saved the state");
    this.state = { state, etag: `e${++this.#etag}` };
    return this.state.etag;
  }
  async recordRun(run: MirrorRunRecord, options?: MirrorWriteOptions) {
    this.#write(`run ${run.status}`, options);
    this.runs.set(run.runId, structuredClone(run));
  }
  /** As the table does it: both or neither (the state's ETag checked first). */
  async finishRound(state: MirrorDeltaState, previous: SavedDeltaStateVersion, run: MirrorRunRecord, options?: MirrorWriteOptions) {
    this.#write(`state and run ${run.status}`, options);
    if (previous?.etag !== this.state?.etag) throw new UserSyncError("lease_lost", "another run saved the state");
    this.state = { state, etag: `e${++this.#etag}` };
    this.runs.set(run.runId, structuredClone(run));
    return this.state.etag;
  }
  async getUsers(ids: readonly string[]) {
    return new Map(ids.filter((id) => this.users.has(id)).map((id) => [id, structuredClone(this.users.get(id)!)]));
  }
  async applyWrites(writes: readonly MirrorWrite[], options?: MirrorWriteOptions) {
    this.#write("users", options);
    const skipped = [];
    for (const write of writes) {
      if (write.mode === "Merge") {
        this.users.set(write.id, { ...this.users.get(write.id)!, ...write.state });
      } else if (this.tooLarge.has(write.mirrorUser.user.id)) {
        skipped.push({ id: write.mirrorUser.user.id, reason: "too large" });
      } else {
        this.users.set(write.mirrorUser.user.id, structuredClone(write.mirrorUser));
      }
    }
    return { skipped };
  }
  async writeChanges(runId: string, changes: readonly MirrorChange[], at: Date, options?: MirrorWriteOptions) {
    this.#write("changes", options);
    const set = this.changes.get(runId) ?? [];
    for (const change of changes) {
      const at_ = set.findIndex((c) => c.id === change.id);
      if (at_ >= 0) set.splice(at_, 1);
      set.push({ ...change, at });
    }
    this.changes.set(runId, set);
  }
  async *listChanges(runId: string) {
    yield* this.changes.get(runId) ?? [];
  }
  async sweep(round: string, runId: string, now: Date, options?: MirrorWriteOptions) {
    this.#write("sweep", options);
    let swept = 0;
    for (const [id, m] of this.users) {
      if (m.state !== "present" || m.round === round) continue;
      this.users.set(id, { ...m, state: "missing", removedAt: now, runId, change: "removed" });
      await this.writeChanges(runId, [{ id, change: "removed", reason: "notSeen", user: m.user }], now, options);
      swept += 1;
    }
    return swept;
  }
}

/** A lease the test can lose: assertHeld throws lease_lost from then on. */
class TestLease implements LosableLeaseGuard {
  readonly owner = "test";
  readonly #controller = new AbortController();
  lost: Error | undefined;
  get signal() {
    return this.#controller.signal;
  }
  assertHeld() {
    if (this.lost) throw this.lost;
  }
  markLost(error: Error) {
    this.lost ??= error;
    this.#controller.abort(error);
  }
}

const user = (id: string, displayName = `User ${id}`): GraphUser => ({ id, displayName });

/** Pages of a first round (every user) or of a round from a delta link (the items given). */
function source(rounds: { full: DeltaItem[][]; incremental?: DeltaItem[][] | Error }, seen: string[] = []): DeltaPageSource {
  return {
    select: SELECT,
    async *listDeltaPages(options?: ListDeltaPagesOptions) {
      seen.push(options?.startLink ?? "first");
      const pages = options?.startLink ? rounds.incremental : rounds.full;
      if (pages instanceof Error) throw pages;
      for (const [index, items] of (pages ?? []).entries()) {
        const last = index === (pages ?? []).length - 1;
        const page: DeltaPage = { pageNumber: index + 1, items, ...(last ? { deltaLink: `delta-${seen.length}` } : { nextLink: `next-${index}` }) };
        yield page;
      }
    },
  };
}

const usersOf = (...ids: string[]): DeltaItem[] => ids.map((id) => ({ kind: "user", user: user(id) }));

describe("runMirrorSync (against the MirrorStore port)", () => {
  it("seeds the mirror with a full round under the lease: takes the partitions over, writes every user, sweeps, saves the link", async () => {
    const mirror = new MemoryMirror();
    mirror.users.set("gone", { user: user("gone"), state: "present", round: "old", runId: "old" });
    const lease = new TestLease();
    const run = await runMirrorSync({ delta: source({ full: [usersOf("a", "b"), usersOf("c")] }), mirror, logger: silentLogger, lease });
    expect(run).toMatchObject({ status: "succeeded", mode: "full", reason: "firstRound", pages: 2, usersWritten: 3, swept: 1 });
    expect(mirror.claimedBy).toEqual([lease]);
    expect(mirror.unfenced).toEqual([]);
    expect(mirror.users.get("gone")?.state).toBe("missing");
    expect(mirror.state?.state).toMatchObject({ deltaLink: "delta-1", select: SELECT, round: run.runId });
    expect(mirror.runs.get(run.runId)?.status).toBe("succeeded");
  });

  it("counts its changes from the change log only when it wrote some: an idle incremental round reads no change log", async () => {
    const mirror = new MemoryMirror();
    const lists: string[] = [];
    const listChanges = mirror.listChanges.bind(mirror);
    mirror.listChanges = (runId: string) => (lists.push(runId), listChanges(runId));
    await runMirrorSync({ delta: source({ full: [usersOf("a", "b")] }), mirror, logger: silentLogger });
    expect(lists).toHaveLength(1);
    const idle = await runMirrorSync({ delta: source({ full: [], incremental: [[]] }), mirror, logger: silentLogger });
    expect(idle).toMatchObject({ mode: "incremental", status: "succeeded", changes: { added: 0, updated: 0, restored: 0, removed: 0 } });
    expect(lists).toHaveLength(1);
    const changed = await runMirrorSync({ delta: source({ full: [], incremental: [[{ kind: "user", user: user("a", "Renamed") }]] }), mirror, logger: silentLogger });
    expect(changed.changes.updated).toBe(1);
    expect(lists).toHaveLength(2);
  });

  it("starts from the state the run read under its lease when given one (no read of its own), saves with its ETag and says what it saved", async () => {
    const mirror = new MemoryMirror();
    await runMirrorSync({ delta: source({ full: [usersOf("a")] }), mirror, logger: silentLogger });
    const read = await mirror.getDeltaState();
    let reads = 0;
    const getDeltaState = mirror.getDeltaState.bind(mirror);
    mirror.getDeltaState = () => (reads++, getDeltaState());
    const seen: string[] = [];
    const saved: VersionedDeltaState[] = [];
    const lease = new TestLease();
    const run = await runMirrorSync(
      { delta: source({ full: [], incremental: [usersOf("b")] }, seen), mirror, logger: silentLogger, lease },
      { saved: { state: read }, onStateSaved: (state) => saved.push(state) },
    );
    expect(reads).toBe(0);
    expect(run).toMatchObject({ mode: "incremental", status: "succeeded", changes: { added: 1 } });
    expect(seen).toEqual(["delta-1"]);
    expect(mirror.claimedBy).toEqual([lease]);
    expect(saved).toEqual([mirror.state]);
    // A state saved in between (another run's late write) makes the round's save fail on the ETag it was given.
    mirror.state = { ...mirror.state!, etag: "moved" };
    await expect(runMirrorSync({ delta: source({ full: [], incremental: [[]] }), mirror, logger: silentLogger }, { saved: { state: saved[0] } })).rejects.toThrow(/another run saved/);
    // No state given: the round reads it, as before.
    await runMirrorSync({ delta: source({ full: [], incremental: [[]] }), mirror, logger: silentLogger });
    expect(reads).toBe(1);
  });

  it("falls back to a full round when the saved token is no longer good, and says why", async () => {
    const mirror = new MemoryMirror();
    await runMirrorSync({ delta: source({ full: [usersOf("a")] }), mirror, logger: silentLogger });
    const expired = new UserSyncError("graph_delta_token_invalid", "The delta token expired.", { details: { reason: "expired" } });
    const seen: string[] = [];
    const run = await runMirrorSync({ delta: source({ full: [usersOf("a", "b")], incremental: expired }, seen), mirror, logger: silentLogger });
    expect(seen).toEqual(["delta-1", "first"]);
    expect(run).toMatchObject({ mode: "full", reason: "tokenExpired" });
    expect(run.counters.deltaRestarts).toBe(1);
    expect([...mirror.users.keys()].sort()).toEqual(["a", "b"]);
  });

  it("records users it cannot store on the run and keeps every other change", async () => {
    const mirror = new MemoryMirror();
    mirror.tooLarge.add("big");
    const run = await runMirrorSync({ delta: source({ full: [usersOf("a", "big", "c")] }), mirror, logger: silentLogger });
    expect(run.status).toBe("succeeded");
    expect(run.counters.skippedUsers).toBe(1);
    expect(run.skipped).toEqual([{ id: "big", reason: "too large" }]);
    expect(run.usersWritten).toBe(2);
    expect([...mirror.users.keys()].sort()).toEqual(["a", "c"]);
  });

  it("stops at once and records nothing more when its lease is lost during the round", async () => {
    const mirror = new MemoryMirror();
    await runMirrorSync({ delta: source({ full: [usersOf("a")] }), mirror, logger: silentLogger });
    const lease = new TestLease();
    const lost = new UserSyncError("lease_lost", "the process was frozen past its lease");
    const delta: DeltaPageSource = {
      select: SELECT,
      async *listDeltaPages() {
        yield { pageNumber: 1, items: usersOf("a"), nextLink: "next" };
        lease.markLost(lost);
        yield { pageNumber: 2, items: [{ kind: "user", user: user("a", "Stale") }], deltaLink: "delta-x" };
      },
    };
    const stateBefore = mirror.state;
    await expect(runMirrorSync({ delta, mirror, logger: silentLogger, lease })).rejects.toBe(lost);
    expect(mirror.users.get("a")?.user.displayName).toBe("User a");
    expect(mirror.state).toBe(stateBefore);
    const runs = [...mirror.runs.values()];
    // The round's own record stays as it was when the lease was lost: running, not failed.
    expect(runs.filter((r) => r.status === "failed")).toEqual([]);
  });
});
