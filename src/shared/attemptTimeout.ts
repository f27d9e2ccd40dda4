/**
 * One attempt of a request under its own time limit: the attempt's abort signal is the caller's
 * merged with a timer. When the timer (not the caller) ends the attempt, `timeoutError()` is thrown
 * instead of the abort, so a retry policy can see it as a transient failure; the caller's own abort
 * still surfaces as an AbortError. Used by the Graph and the table request pipelines.
 */
import type { PipelineRequest } from "@azure/core-rest-pipeline";

export async function sendWithAttemptTimeout<T>(request: PipelineRequest, timeoutInMs: number, send: () => Promise<T>, timeoutError: () => Error): Promise<T> {
  const callerSignal = request.abortSignal as AbortSignal | undefined;
  const timer = new AbortController();
  let timedOut = false;
  const handle = setTimeout(() => {
    timedOut = true;
    timer.abort();
  }, timeoutInMs);
  request.abortSignal = callerSignal ? AbortSignal.any([callerSignal, timer.signal]) : timer.signal;
  try {
    return await send();
  } catch (error) {
    if (timedOut && !callerSignal?.aborted) throw timeoutError();
    throw error;
  } finally {
    clearTimeout(handle);
    if (callerSignal) request.abortSignal = callerSignal;
    else delete request.abortSignal;
  }
}
