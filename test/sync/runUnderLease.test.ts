import { describe, expect, it } from "vitest";
import { isUserSyncError, UserSyncError } from "../../src/shared/errors.js";
import { RunUnderLease, type LeaseLifecycleStore, type LifecycleLease } from "../../src/sync/runUnderLease.js";
import { capturingLogger } from "../support/syncEnvironment.js";

class FakeLease implements LifecycleLease {
  readonly durationInMs = 60_000;
  readonly #stopped = new AbortController();
  lost: Error | undefined;
  get signal(): AbortSignal {
    return this.#stopped.signal;
  }
  lose(error: Error): void {
    this.lost = error;
    this.#stopped.abort(error);
  }
}

function fakeStore(): LeaseLifecycleStore<FakeLease> & { released: FakeLease[]; failRelease?: Error } {
  const store = {
    released: [] as FakeLease[],
    failRelease: undefined as Error | undefined,
    renewLease: async () => undefined,
    releaseLease: async (lease: FakeLease) => {
      if (store.failRelease) throw store.failRelease;
      store.released.push(lease);
    },
  };
  return store;
}

describe("RunUnderLease", () => {
  it("takes the lease, logs the line it is given once held, runs the work and releases the lease", async () => {
    const store = fakeStore();
    const log = capturingLogger();
    const lease = new FakeLease();
    const result = await RunUnderLease.run({ store, logger: log.logger, acquire: async () => lease, heldLine: () => "taken over" }, async (held) => {
      expect(held.lease).toBe(lease);
      return 42;
    });
    expect(result).toBe(42);
    expect(store.released).toEqual([lease]);
    expect(log.lines.some((l) => l.includes("taken over"))).toBe(true);
  });

  it("does not run the work when the lease cannot be taken (run_in_progress), and releases nothing", async () => {
    const store = fakeStore();
    let ran = false;
    const failure = new UserSyncError("run_in_progress", "held");
    await expect(
      RunUnderLease.run({ store, logger: capturingLogger().logger, acquire: async () => Promise.reject(failure) }, async () => {
        ran = true;
      }),
    ).rejects.toBe(failure);
    expect(ran).toBe(false);
    expect(store.released).toEqual([]);
  });

  it("translates an error that comes from a lost lease into the lease's own error, and does not release a lost lease", async () => {
    const store = fakeStore();
    const lease = new FakeLease();
    const lostError = new UserSyncError("lease_lost", "taken over");
    const thrown = await RunUnderLease.run({ store, logger: capturingLogger().logger, acquire: async () => lease }, async (held) => {
      lease.lose(lostError);
      throw held.translate(new Error("a write was refused"));
    }).catch((e: unknown) => e);
    expect(thrown).toBe(lostError);
    expect(store.released).toEqual([]);
  });

  it("a lease_lost error marks the run lost even before the lease knows it: not released", async () => {
    const store = fakeStore();
    const error = new UserSyncError("lease_lost", "fenced");
    const thrown = await RunUnderLease.run({ store, logger: capturingLogger().logger, acquire: async () => new FakeLease() }, async (held) => {
      throw held.translate(error);
    }).catch((e: unknown) => e);
    expect(isUserSyncError(thrown, "lease_lost")).toBe(true);
    expect(store.released).toEqual([]);
  });

  it("other errors pass as they are and the lease is released; a failed release is logged, not thrown", async () => {
    const store = fakeStore();
    store.failRelease = new Error("storage down");
    const log = capturingLogger();
    const error = new Error("graph down");
    const thrown = await RunUnderLease.run({ store, logger: log.logger, acquire: async () => new FakeLease() }, async (held) => {
      throw held.translate(error);
    }).catch((e: unknown) => e);
    expect(thrown).toBe(error);
    expect(log.lines.some((l) => l.includes("Could not release the writer lease (it expires by itself)"))).toBe(true);
  });
});
