/**
 * The bound on every wait on an identity endpoint: the Entra token endpoint and OpenID metadata
 * (MSAL, through identityNetworkClient.ts), the managed-identity endpoint (DefaultAzureCredential)
 * and Key Vault (reads and signing). Each attempt of a request gets IDENTITY_REQUEST_TIMEOUT_SECONDS
 * to answer (headers and body); an attempt that does not is abandoned as a transport error with code
 * ETIMEDOUT, which Azure Core's retry policy retries, at most IDENTITY_RETRY.maxRetries times with a
 * short backoff. So one call to a stalled endpoint fails within `identityCallBoundInMs(timeout)`.
 *
 * Every timeout is also recorded in the identity wait under way (`runIdentityWait`), if any, until
 * an attempt to the same host gets an answer, so that the caller can name the endpoint that stalled
 * even when a library in between (MSAL, the credential chain) replaced the error with its own.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createDefaultHttpClient, RestError, retryPolicy, type HttpClient, type PipelinePolicy, type RetryStrategy } from "@azure/core-rest-pipeline";
import { sendWithAttemptTimeout } from "../shared/attemptTimeout.js";
import { UserSyncError } from "../shared/errors.js";

export const IDENTITY_TIMEOUT_SETTING = "IDENTITY_REQUEST_TIMEOUT_SECONDS";

/** Retries of one identity request after a timeout, a dropped connection or a 5xx (Azure Core's exponential strategy). */
export const IDENTITY_RETRY = { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 2_000 } as const;


/**
 * How long one call to an identity endpoint may wait when it never answers: every attempt times out
 * and the longest backoff is taken between them.
 */
export function identityCallBoundInMs(timeoutInMs: number): number {
  return (IDENTITY_RETRY.maxRetries + 1) * timeoutInMs + IDENTITY_RETRY.maxRetries * IDENTITY_RETRY.maxRetryDelayInMs;
}

/** An attempt of an identity request that got no complete answer in time. Its code makes Azure Core retry it. */
export class IdentityRequestTimeoutError extends RestError {
  readonly host: string;
  readonly timeoutInMs: number;
  constructor(host: string, timeoutInMs: number) {
    super(`${host} gave no complete answer within ${formatSeconds(timeoutInMs)} (${IDENTITY_TIMEOUT_SETTING})`, { code: "ETIMEDOUT" });
    // Keeps the name "RestError": Azure Core's retry policy recognizes a RestError by name.
    this.host = host;
    this.timeoutInMs = timeoutInMs;
  }
}

/** What one identity wait (a Graph token request and everything it needs) saw. */
interface IdentityWait {
  abortSignal: AbortSignal | undefined;
  timeouts: IdentityRequestTimeoutError[];
}

const waits = new AsyncLocalStorage<IdentityWait>();

/** Runs `work` as one identity wait: requests under it are aborted with `abortSignal` and record their timeouts. */
export async function runIdentityWait<T>(abortSignal: AbortSignal | undefined, work: (wait: { timeouts: readonly IdentityRequestTimeoutError[] }) => Promise<T>): Promise<T> {
  const wait: IdentityWait = { abortSignal, timeouts: [] };
  return waits.run(wait, () => work(wait));
}

/** The abort signal of the identity wait under way (the run's), if any. */
export function currentIdentityAbortSignal(): AbortSignal | undefined {
  return waits.getStore()?.abortSignal;
}

/**
 * An HttpClient whose every attempt is bounded by `timeoutInMs` and aborted with the identity wait's
 * signal. Timeouts are recorded in the wait under way.
 */
export function identityHttpClient(timeoutInMs: number, inner: HttpClient = createDefaultHttpClient()): HttpClient {
  return {
    sendRequest: async (request) => {
      const runSignal = currentIdentityAbortSignal();
      const callerSignal = request.abortSignal as AbortSignal | undefined;
      if (runSignal && callerSignal !== runSignal) request.abortSignal = callerSignal ? AbortSignal.any([callerSignal, runSignal]) : runSignal;
      const host = new URL(request.url).host;
      try {
        const response = await sendWithAttemptTimeout(request, timeoutInMs, () => inner.sendRequest(request), () => {
          const error = new IdentityRequestTimeoutError(host, timeoutInMs);
          waits.getStore()?.timeouts.push(error);
          return error;
        });
        // The host answered (a retry after a timeout, or a later request): it did not stall.
        const timeouts = waits.getStore()?.timeouts;
        if (timeouts) for (let i = timeouts.length - 1; i >= 0; i--) if (timeouts[i]!.host === host) timeouts.splice(i, 1);
        return response;
      } finally {
        if (callerSignal) request.abortSignal = callerSignal;
        else delete request.abortSignal;
      }
    },
  };
}

/** Transport failures worth another attempt: our own timeout, resets, refused or dropped connections, DNS hiccups. */
const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT", "ECONNRESET", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "REQUEST_SEND_ERROR"]);
const RETRYABLE_STATUS_CODES: ReadonlySet<number> = new Set([408, 500, 502, 503, 504]);

/**
 * MSAL's requests' retries (identityNetworkClient.ts): a transport failure (a timeout included) or a
 * transient status, at most IDENTITY_RETRY.maxRetries times, after a backoff with jitter of at most
 * IDENTITY_RETRY.maxRetryDelayInMs. A Retry-After is not waited for (a 429 reaches MSAL, which
 * throttles itself): no answer makes the wait longer than identityCallBoundInMs.
 */
export function identityRetryPolicy(random: () => number = Math.random): PipelinePolicy {
  const strategy: RetryStrategy = {
    name: "identityRetryStrategy",
    retry({ retryCount, response, responseError }) {
      const retryable = responseError
        ? responseError.response === undefined
          ? responseError.code !== undefined && RETRYABLE_ERROR_CODES.has(responseError.code)
          : RETRYABLE_STATUS_CODES.has(responseError.response.status)
        : response !== undefined && RETRYABLE_STATUS_CODES.has(response.status);
      if (!retryable) return { skipStrategy: true };
      const ceiling = Math.min(IDENTITY_RETRY.maxRetryDelayInMs, IDENTITY_RETRY.retryDelayInMs * 2 ** retryCount);
      return { retryAfterInMs: Math.round(ceiling / 2 + random() * (ceiling / 2)) };
    },
  };
  return retryPolicy([strategy], { maxRetries: IDENTITY_RETRY.maxRetries });
}

/** The pipeline options of an Azure SDK client that talks to an identity endpoint (Key Vault, DefaultAzureCredential). */
export function identityPipelineOptions(timeoutInMs: number): { httpClient: HttpClient; retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number } } {
  return { httpClient: identityHttpClient(timeoutInMs), retryOptions: { ...IDENTITY_RETRY } };
}

/** The identity timeout somewhere in an error's causes (or an aggregate's errors), if any. */
export function findIdentityTimeout(error: unknown, depth = 0): IdentityRequestTimeoutError | undefined {
  if (error instanceof IdentityRequestTimeoutError) return error;
  if (depth > 5 || typeof error !== "object" || error === null) return undefined;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  const fromCause = findIdentityTimeout(cause, depth + 1);
  if (fromCause) return fromCause;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = findIdentityTimeout(inner, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** The endpoints a run knows by URL; the managed-identity endpoint comes from the environment. */
export interface KnownIdentityEndpoints {
  authorityHost?: string;
  vaultUrl?: string;
}

/** Which endpoint `host` is, for the message. */
export function identityEndpointKind(host: string, known: KnownIdentityEndpoints): string {
  const hostOf = (url: string | undefined): string | undefined => {
    try {
      return url ? new URL(url).host : undefined;
    } catch {
      return undefined;
    }
  };
  if (host === hostOf(known.authorityHost)) return "the Microsoft Entra endpoint (OpenID metadata and tokens)";
  if (host === hostOf(known.vaultUrl)) return "Key Vault";
  const managedIdentity = [process.env.IDENTITY_ENDPOINT, process.env.MSI_ENDPOINT, process.env.IMDS_ENDPOINT].map(hostOf);
  if (managedIdentity.includes(host) || host === "169.254.169.254") return "the managed-identity endpoint";
  return "an identity endpoint";
}

/**
 * The run's failure when an identity endpoint never answered: names the endpoint's host (never a
 * path or query, which may carry secrets), the setting that bounds it and what was tried.
 */
export function identityTimeoutError(timeout: IdentityRequestTimeoutError, what: string, known: KnownIdentityEndpoints = {}): UserSyncError {
  const kind = identityEndpointKind(timeout.host, known);
  const attempts = IDENTITY_RETRY.maxRetries + 1;
  return new UserSyncError(
    "identity_endpoint_timeout",
    `${capitalize(kind)} at ${timeout.host} gave no complete answer within ${formatSeconds(timeout.timeoutInMs)} (${IDENTITY_TIMEOUT_SETTING}) while ${what}, ` +
      `${attempts} attempts in all; the run stopped instead of waiting longer. Check the endpoint's health and the network path to ${timeout.host} (DNS, firewall, proxy), or raise ${IDENTITY_TIMEOUT_SETTING}.`,
    { details: { host: timeout.host, timeoutInMs: timeout.timeoutInMs, attempts } },
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
