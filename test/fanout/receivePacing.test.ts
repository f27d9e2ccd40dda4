/**
 * When the worker receives (src/fanout/receivePacing.ts): at once with nothing under way or half
 * its slots free, else once a free slot has waited the batch wait; after a receive that drained the
 * queue, not again before the polling interval, however many runs end, unless none is left.
 */
import { describe, expect, it } from "vitest";
import { ReceivePacing } from "../../src/fanout/receivePacing.js";

const pacing = () => new ReceivePacing({ concurrency: 16, batchWaitInMs: 1000, drainedPollInMs: 5000 });

describe("receive pacing", () => {
  it("receives at once when nothing is under way, or when half the slots are free; never when none is", () => {
    const p = pacing();
    expect(p.waitInMs(0, 0)).toBe(0);
    expect(p.waitInMs(8, 0)).toBe(0);
    expect(p.waitInMs(16, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it("lets a free slot wait at most the batch wait for others, counted from when it was first seen free", () => {
    const p = pacing();
    p.received(16, 16, 0);
    expect(p.waitInMs(15, 100)).toBe(1000);
    expect(p.waitInMs(13, 600)).toBe(500);
    expect(p.waitInMs(12, 1100)).toBe(0);
    // A receive starts the count again.
    p.received(4, 4, 1100);
    expect(p.waitInMs(15, 1200)).toBe(1000);
  });

  it("after a receive that drained the queue, waits the polling interval while runs are under way, even with half the slots free", () => {
    const p = pacing();
    p.received(8, 3, 0);
    expect(p.waitInMs(5, 10)).toBe(4990);
    expect(p.waitInMs(2, 4000)).toBe(1000);
    expect(p.waitInMs(2, 5000)).toBe(0);
    // No run left: at once (the worker's own empty-queue handling takes over).
    expect(p.waitInMs(0, 100)).toBe(0);
    // A full receive clears it.
    p.received(8, 8, 5000);
    expect(p.waitInMs(1, 5001)).toBe(0);
  });

  it("with one slot, receives whenever it is free", () => {
    const one = new ReceivePacing({ concurrency: 1, batchWaitInMs: 1000, drainedPollInMs: 5000 });
    expect(one.waitInMs(0, 0)).toBe(0);
    expect(one.waitInMs(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});
