/**
 * One attempt of a request under its own time limit: the attempt's abort signal is the caller's
 * merged with a timer. When the timer (not the caller) ends the attempt, `timeoutError()` is thrown
 * instead of the abort, so a retry policy can see it as a transient failure; the caller's own abort
 * still surfaces as an AbortError. Used by the Graph and the table request pipelines.
 *
 * The attempt's signal is a child of the caller's (linkedAbortController), unhooked when the attempt
 * ends, not `AbortSignal.any([caller, timer])`: on Node 22 each signal composed that way leaves a
 * record on the caller's signal (a run's, alive for the whole run) that collection does not free,
 * about 170 bytes per request: hundreds of MiB over a groups round's millions of table requests
 * (docs/performance.md, "The groups round").
 */
import type { PipelineRequest } from "@azure/core-rest-pipeline";
import { linkedAbortController } from "./abort.js";

export async function sendWithAttemptTimeout<T>(request: PipelineRequest, timeoutInMs: number, send: () => Promise<T>, timeoutError: () => Error): Promise<T> {
  const callerSignal = request.abortSignal as AbortSignal | undefined;
  const attempt = linkedAbortController(callerSignal);
  let timedOut = false;
  const handle = setTimeout(() => {
    timedOut = true;
    attempt.abort();
  }, timeoutInMs);
  request.abortSignal = attempt.signal;
  try {
    return await send();
  } catch (error) {
    if (timedOut && !callerSignal?.aborted) throw timeoutError();
    throw error;
  } finally {
    clearTimeout(handle);
    attempt.dispose();
    if (callerSignal) request.abortSignal = callerSignal;
    else delete request.abortSignal;
  }
}
