/**
 * Azure Core pipeline policies that make reading Graph resilient: a retry policy (Azure Core's
 * `retryPolicy` with a Graph retry strategy), a pacing policy that slows down when Graph reports
 * that the app nears its throttling limit, and a per-attempt timeout that the retry policy can see.
 *
 * What Azure Core's default retry policy does (ts-http-runtime 0.3, core-rest-pipeline 1.25) and why
 * it is not used as-is:
 * - It honours `Retry-After` (seconds or HTTP date) only on 429 and 503, not on 504.
 * - It waits whatever `Retry-After` says: a huge value is not capped, and there is no bound on the
 *   total wait of one request.
 * - A per-request timeout (`PipelineRequest.timeout`) aborts the request with an AbortError, which
 *   the retry policy rethrows at once: timeouts are never retried.
 * So the Graph strategy below keeps the library's retry loop and replaces only the decision.
 */
import { RestError, retryPolicy, type PipelinePolicy, type PipelineRequest, type PipelineResponse, type RetryStrategy } from "@azure/core-rest-pipeline";
import { sendWithAttemptTimeout } from "../shared/attemptTimeout.js";
import { DEFAULT_PACING } from "../configuration/defaults.js";

/** Responses Graph documents as transient: throttled (429), unavailable (503), gateway timeout (504), and 500/502. */
export const RETRYABLE_STATUS_CODES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** Transport failures worth another attempt: resets, refused or dropped connections, DNS hiccups, our own timeout. */
const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
  "REQUEST_SEND_ERROR",
]);

/** The RestError code of an attempt that got no complete answer within the per-request timeout. */
export const REQUEST_TIMEOUT_CODE = "GRAPH_REQUEST_TIMEOUT";

/** Names of the counters the Graph reader adds to a run's counters bag. */
export const GRAPH_COUNTERS = {
  /** Requests sent to Graph (every attempt). */
  requests: "graphRequests",
  /** 429 responses. */
  throttled: "graphThrottled",
  /** Attempts repeated after a throttle, a transient status, a connection failure or a timeout. */
  retries: "graphRetries",
  /** Time the retry policy waited before retries (Retry-After or backoff), in ms. */
  waitedInMs: "graphWaitedInMs",
  /** Attempts that failed at the connection level (reset, refused...). */
  connectionErrors: "graphConnectionErrors",
  /** Attempts that got no answer within the per-request timeout. */
  timeouts: "graphTimeouts",
  /** Responses whose x-ms-throttle-limit-percentage was at or above the pacing threshold. */
  throttleWarnings: "graphThrottleWarnings",
  /** Pauses made by pacing, and their total, in ms. */
  paced: "graphPaced",
  pacedInMs: "graphPacedInMs",
  /** Forced token refreshes after a 401. */
  tokenRefreshes: "graphTokenRefreshes",
  /** Users dropped because they were already read in this or the previous page. */
  duplicateUsers: "graphDuplicateUsers",
} as const;

export function addCount(counters: Record<string, number>, name: string, amount = 1): void {
  counters[name] = (counters[name] ?? 0) + amount;
}

/** What the policies know about one logical Graph request (all of its attempts). */
export interface GraphRequestContext {
  counters: Record<string, number>;
  /** Retries made so far. */
  retries: number;
  /** Retry waits so far, in ms. */
  waitedInMs: number;
  /** Why retrying stopped early, when it did (the budget, not the retry count). */
  stoppedBecause?: string;
}

/** Finds the context of a request; the client registers one per logical request. */
export type GraphRequestContexts = WeakMap<PipelineRequest, GraphRequestContext>;

export interface GraphRetrySettings {
  maxRetries: number;
  /** Total wait (Retry-After or backoff) allowed for one request across its retries. */
  maxRetryWaitInMs: number;
  /** First backoff delay when Graph gives no Retry-After. */
  retryDelayInMs: number;
  /** Ceiling of one backoff delay. */
  maxRetryDelayInMs: number;
}

/**
 * Retry-After in ms, from seconds (`"2"`) or an HTTP date; `undefined` when absent or unreadable.
 * A date in the past means "now" (0).
 */
export function parseRetryAfterInMs(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (/^[+-]?\d/.test(text)) return undefined; // a negative or malformed number is not a date either
  const date = Date.parse(text);
  if (!Number.isFinite(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with jitter: half of the capped delay, plus a random part of the other half. */
export function backoffDelayInMs(retryCount: number, settings: Pick<GraphRetrySettings, "retryDelayInMs" | "maxRetryDelayInMs">, random: () => number = Math.random): number {
  const capped = Math.min(settings.maxRetryDelayInMs, settings.retryDelayInMs * 2 ** retryCount);
  return Math.round(capped / 2 + random() * (capped / 2));
}

function isRetryableError(error: RestError): boolean {
  return error.code !== undefined && (RETRYABLE_ERROR_CODES.has(error.code) || error.code === REQUEST_TIMEOUT_CODE);
}

/**
 * The decision of the Graph retry policy, for one logical request: retry 429/500/502/503/504 and
 * transient transport failures; wait Retry-After when Graph sends one (on any of those statuses),
 * else exponential backoff with jitter; stop when the next wait would exceed what is left of the
 * request's wait budget (a Retry-After beyond it ends retrying at once: waiting less than Graph
 * asked would only be throttled again).
 */
export function graphRetryStrategy(context: GraphRequestContext, settings: GraphRetrySettings, random: () => number = Math.random): RetryStrategy {
  return {
    name: "graphRetryStrategy",
    retry({ retryCount, response, responseError }) {
      let retryAfterInMs: number | undefined;
      if (response !== undefined && responseError === undefined) {
        if (!RETRYABLE_STATUS_CODES.has(response.status)) return { skipStrategy: true };
        retryAfterInMs = parseRetryAfterInMs(response.headers.get("retry-after"));
      } else if (responseError !== undefined) {
        if (responseError.response !== undefined && !RETRYABLE_STATUS_CODES.has(responseError.response.status)) return { skipStrategy: true };
        if (responseError.response === undefined && !isRetryableError(responseError)) return { skipStrategy: true };
      } else {
        return { skipStrategy: true };
      }
      const left = settings.maxRetryWaitInMs - context.waitedInMs;
      let delayInMs: number;
      if (retryAfterInMs !== undefined) {
        if (retryAfterInMs > left) {
          context.stoppedBecause = `Graph asked to wait ${formatSeconds(retryAfterInMs)} before retrying, more than the ${formatSeconds(Math.max(0, left))} left of this request's retry wait budget (GRAPH_MAX_RETRY_WAIT_SECONDS)`;
          return { skipStrategy: true };
        }
        delayInMs = retryAfterInMs;
      } else {
        if (left <= 0) {
          context.stoppedBecause = `the request's retry wait budget (GRAPH_MAX_RETRY_WAIT_SECONDS) is spent`;
          return { skipStrategy: true };
        }
        delayInMs = Math.min(left, backoffDelayInMs(retryCount, settings, random));
      }
      context.retries += 1;
      context.waitedInMs += delayInMs;
      addCount(context.counters, GRAPH_COUNTERS.retries);
      addCount(context.counters, GRAPH_COUNTERS.waitedInMs, delayInMs);
      return { retryAfterInMs: delayInMs };
    },
  };
}

/** Azure Core's retryPolicy with the Graph strategy, built per logical request so the budget is per request. */
export function graphRetryPolicy(contexts: GraphRequestContexts, settings: GraphRetrySettings): PipelinePolicy {
  return {
    name: "graphRetryPolicy",
    sendRequest(request, next) {
      const context = contexts.get(request) ?? newContext();
      return retryPolicy([graphRetryStrategy(context, settings)], { maxRetries: settings.maxRetries }).sendRequest(request, next);
    },
  };
}

export function newContext(counters: Record<string, number> = {}): GraphRequestContext {
  return { counters, retries: 0, waitedInMs: 0 };
}

export interface GraphPacingSettings {
  /** Pace when x-ms-throttle-limit-percentage is at or above this (Graph starts sending it at 0.8). */
  threshold: number;
  /** The pause at the threshold; each further 0.1 adds as much again. */
  delayInMs: number;
  /** Ceiling of one pause (one 10-second throttling window by default). */
  maxDelayInMs: number;
}


/**
 * The pause after a response that reports `percentage` of a throttling limit used:
 * `delay × (1 + (percentage − threshold) × 10)`, capped. With the defaults: 1 s at 0.8, 2 s at 0.9,
 * 3 s at 1.0, 10 s from 1.7 up. Below the threshold: no pause.
 */
export function pacingDelayInMs(percentage: number, settings: GraphPacingSettings = DEFAULT_PACING): number {
  if (!Number.isFinite(percentage) || percentage < settings.threshold) return 0;
  return Math.round(Math.min(settings.maxDelayInMs, settings.delayInMs * (1 + (percentage - settings.threshold) * 10)));
}

/**
 * Slows down before Graph throttles: after a response with `x-ms-throttle-limit-percentage` at or
 * above the threshold, the next attempt (page or retry) starts no sooner than the pacing delay after
 * that response. Time already spent (e.g. a retry wait) counts towards it. Also counts every 429,
 * since it sees each one (the retry policy does not see the last).
 */
export function graphPacingPolicy(contexts: GraphRequestContexts, settings: GraphPacingSettings = DEFAULT_PACING): PipelinePolicy {
  let notBefore = 0;
  return {
    name: "graphPacingPolicy",
    async sendRequest(request, next) {
      const counters = contexts.get(request)?.counters ?? {};
      const pauseInMs = notBefore - Date.now();
      if (pauseInMs > 0) {
        await sleep(pauseInMs, request.abortSignal as AbortSignal | undefined);
        addCount(counters, GRAPH_COUNTERS.paced);
        addCount(counters, GRAPH_COUNTERS.pacedInMs, pauseInMs);
      }
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (error) {
        if (error instanceof RestError && error.response) observe(error.response, counters);
        throw error;
      }
      observe(response, counters);
      return response;
    },
  };

  function observe(response: PipelineResponse, counters: Record<string, number>): void {
    if (response.status === 429) addCount(counters, GRAPH_COUNTERS.throttled);
    const header = response.headers.get("x-ms-throttle-limit-percentage");
    if (header === undefined) return;
    const delayInMs = pacingDelayInMs(Number(header), settings);
    if (delayInMs <= 0) return;
    addCount(counters, GRAPH_COUNTERS.throttleWarnings);
    notBefore = Math.max(notBefore, Date.now() + delayInMs);
  }
}

/**
 * A per-attempt timeout the retry policy can retry (and the count of requests sent, as it is the last policy before the wire): aborts an attempt that has no complete answer
 * (headers and body) within `timeoutInMs` and turns that into a RestError with code
 * GRAPH_REQUEST_TIMEOUT. The caller's own abort still surfaces as an AbortError.
 */
export function graphTimeoutPolicy(timeoutInMs: number, contexts: GraphRequestContexts): PipelinePolicy {
  return {
    name: "graphTimeoutPolicy",
    async sendRequest(request, next) {
      const counters = contexts.get(request)?.counters ?? {};
      addCount(counters, GRAPH_COUNTERS.requests);
      try {
        return await sendWithAttemptTimeout(request, timeoutInMs, () => next(request), () => {
          addCount(counters, GRAPH_COUNTERS.timeouts);
          return new RestError(`no complete answer within ${formatSeconds(timeoutInMs)}`, { code: REQUEST_TIMEOUT_CODE, request });
        });
      } catch (error) {
        const isConnectionError = error instanceof RestError && error.response === undefined && error.code !== undefined && error.code !== REQUEST_TIMEOUT_CODE && RETRYABLE_ERROR_CODES.has(error.code);
        if (isConnectionError) addCount(counters, GRAPH_COUNTERS.connectionErrors);
        throw error;
      }
    },
  };
}

export function formatSeconds(ms: number): string {
  if (ms > 0 && ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

/** Waits `ms`, or rejects with the signal's AbortError. */
export function sleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  if (abortSignal?.aborted) return Promise.reject(abortErrorOf(abortSignal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(handle);
      reject(abortErrorOf(abortSignal!));
    };
    const handle = setTimeout(() => {
      abortSignal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    abortSignal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortErrorOf(signal: AbortSignal): Error {
  if (signal.reason instanceof Error && signal.reason.name === "AbortError") return signal.reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}
