import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { isUserSyncError } from "../../src/shared/errors.js";
import { leaseSafetyMarginInMs, WriterLease } from "../../src/snapshots/writerLease.js";

function lease(durationInMs: number): WriterLease {
  return new WriterLease({ owner: "o", trigger: "cli", durationInMs, acquiredAt: new Date() });
}

describe("WriterLease", () => {
  it("is held only after a successful write of the lease entity, until duration minus the margin by the monotonic clock", async () => {
    const held = lease(90);
    expect(() => held.assertHeld()).toThrow(/writer lease/);
    const fresh = lease(90);
    fresh.renewed("etag-1", new Date(Date.now() + 90), performance.now());
    expect(() => fresh.assertHeld()).not.toThrow();
    expect(fresh.etag).toBe("etag-1");
    // 90 ms lease, 30 ms margin: after 60 ms by this process's clock it is no longer held.
    await sleep(80);
    let caught: unknown;
    try {
      fresh.assertHeld();
    } catch (error) {
      caught = error;
    }
    expect(isUserSyncError(caught, "lease_lost")).toBe(true);
    expect((caught as Error).message).toContain("paused, suspended or too slow");
    expect(fresh.signal.aborted).toBe(true);
    // Once lost, always lost, even after a late renewal answer.
    fresh.renewed("etag-2", new Date(Date.now() + 90), performance.now());
    expect(() => fresh.assertHeld()).toThrow(caught as Error);
  });

  it("counts the wall clock too: a lease whose expiry has passed (a suspended machine) is not held", () => {
    const suspended = lease(600_000);
    suspended.renewed("etag", new Date(Date.now() - 1), performance.now());
    expect(() => suspended.assertHeld()).toThrow(/writer lease/);
  });

  it("keeps a third of the lease (at most a minute) as its safety margin", () => {
    expect(leaseSafetyMarginInMs(5_000)).toBe(1_666);
    expect(leaseSafetyMarginInMs(300_000)).toBe(60_000);
  });

  it("runs writes of the lease entity one at a time", async () => {
    const serial = lease(60_000);
    const order: string[] = [];
    await Promise.all([
      serial.exclusive(async () => {
        await sleep(20);
        order.push("first");
      }),
      serial.exclusive(async () => {
        order.push("second");
      }),
    ]);
    expect(order).toEqual(["first", "second"]);
  });
});
