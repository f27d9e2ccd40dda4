/**
 * A per-attempt timeout for table requests: an attempt that gets no complete answer (headers and
 * body) within the bound is abandoned and surfaces as a transport error (code ETIMEDOUT), which
 * the SDK's own retry policy retries with backoff. The caller's abort still ends the request as an
 * AbortError. Without it, a table request that never answers waits forever.
 */
import { RestError, type PipelinePolicy } from "@azure/core-rest-pipeline";
import { sendWithAttemptTimeout } from "../shared/attemptTimeout.js";

export const STORAGE_REQUEST_TIMEOUT_CODE = "ETIMEDOUT";

export function storageRequestTimeoutPolicy(timeoutInMs: number): PipelinePolicy {
  return {
    name: "storageRequestTimeoutPolicy",
    sendRequest: (request, next) =>
      sendWithAttemptTimeout(request, timeoutInMs, () => next(request), () => new RestError(`no complete answer within ${Math.round(timeoutInMs / 100) / 10} s`, { code: STORAGE_REQUEST_TIMEOUT_CODE, request })),
  };
}
