/**
 * One attempt under its own time limit (src/shared/attemptTimeout.ts): the timer's end is the
 * caller's timeout error, the caller's abort stays an abort, and the caller's signal (a run's, alive
 * for the whole run) keeps nothing of the attempts once they ended.
 */
import type { PipelineRequest } from "@azure/core-rest-pipeline";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { sendWithAttemptTimeout } from "../../src/shared/attemptTimeout.js";

const request = (abortSignal?: AbortSignal) => ({ abortSignal }) as unknown as PipelineRequest;
const untilAborted = (r: PipelineRequest) => new Promise<never>((_, reject) => r.abortSignal!.addEventListener("abort", () => reject((r.abortSignal as AbortSignal).reason as Error), { once: true }));

describe("sendWithAttemptTimeout", () => {
  it("ends an attempt at its time limit with the timeout error, and gives the caller its signal back", async () => {
    const caller = new AbortController();
    const r = request(caller.signal);
    await expect(sendWithAttemptTimeout(r, 20, () => untilAborted(r), () => new Error("timed out"))).rejects.toThrow("timed out");
    expect(r.abortSignal).toBe(caller.signal);
    const bare = request();
    await expect(sendWithAttemptTimeout(bare, 20, () => untilAborted(bare), () => new Error("timed out"))).rejects.toThrow("timed out");
    expect(bare.abortSignal).toBeUndefined();
  });

  it("passes the caller's abort through as an abort, with its reason, also when it came first", async () => {
    const caller = new AbortController();
    const r = request(caller.signal);
    const sent = sendWithAttemptTimeout(r, 10_000, () => untilAborted(r), () => new Error("timed out"));
    caller.abort(new Error("stopped by the run"));
    await expect(sent).rejects.toThrow("stopped by the run");
    const early = request(caller.signal);
    await expect(sendWithAttemptTimeout(early, 10_000, async () => (early.abortSignal!.aborted ? Promise.reject((early.abortSignal as AbortSignal).reason as Error) : "sent"), () => new Error("timed out"))).rejects.toThrow("stopped by the run");
  });

  it("leaves nothing on a long-lived caller's signal after 100,000 attempts", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const caller = new AbortController();
    const settle = async () => {
      for (let i = 0; i < 3; i += 1) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await settle();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i += 1) {
      const r = request(caller.signal);
      await sendWithAttemptTimeout(r, 60_000, async () => (r.abortSignal === caller.signal ? "not its own" : "sent"), () => new Error("timed out"));
    }
    await settle();
    expect((process.memoryUsage().heapUsed - before) / 1024 / 1024).toBeLessThan(5);
  }, 60_000);
});
