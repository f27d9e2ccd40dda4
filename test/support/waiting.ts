/**
 * Waiting helpers for the tests that drive child processes: poll a probe until it answers (bounded),
 * and a promise released by hand.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Polls `probe` every `intervalInMs` until it returns a value; fails naming `what` after `timeoutInMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutInMs = 120_000, intervalInMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalInMs);
  }
}

/** A promise and the function that resolves it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
