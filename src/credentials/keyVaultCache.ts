/**
 * The cache in front of every Key Vault read of a credential (keyVaultCertificate,
 * keyVaultSignedAssertion, clientSecret with KEY_VAULT_SECRET_NAME):
 *
 * - single flight: callers that find the value stale while a read is under way wait for that read;
 * - max age: a value is read again once it is older than `maxAgeInMs` (12 hours by default), or when
 *   `isUsable` says it may no longer be used (an expired certificate), or on `forceRefresh`;
 * - a transient outage (Key Vault unreachable or failing, no Azure credential) does not stop a sync
 *   whose credential is still good: a routine refresh that fails so keeps the last good value and
 *   logs a warning. First reads and forced refreshes fail loudly;
 * - a caller's `abortSignal` stops that caller's wait, never the shared read: the read is started
 *   without any caller's signal, so one caller giving up cannot fail another waiting on the same read;
 * - every request of the read is bounded (`requestTimeoutInMs`, IDENTITY_REQUEST_TIMEOUT_SECONDS:
 *   each attempt, two retries; identityRequests.ts), and the shared read as a whole too
 *   (`readTimeoutInMs`, by default two identity calls' bound: a managed identity token, then the
 *   vault's answer): a stalled connection fails it (a transient failure) instead of holding every
 *   later caller, who would otherwise all join the same endless read.
 */
import { abortable, abortReason, isAbortError, type OperationOptions } from "../shared/abort.js";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import { identityCallBoundInMs, identityTimeoutError, runIdentityWait } from "./identityRequests.js";
import { createKeyVaultError, isTransientKeyVaultError, type KeyVaultErrorContext } from "./keyVaultErrors.js";
import { DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS, DEFAULT_KEY_VAULT_MAX_AGE_IN_MS } from "../configuration/defaults.js";

/** How long one Key Vault read (all its requests and retries) may take, unless told otherwise. */
export function defaultKeyVaultReadTimeoutInMs(requestTimeoutInMs: number = DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS): number {
  return 2 * identityCallBoundInMs(requestTimeoutInMs);
}

/** How a provider's Key Vault cache keeps time; every Key Vault-backed provider takes these options. */
export interface KeyVaultCacheTimings {
  /** How long a value read from Key Vault is used before it is read again. Default 12 hours. */
  maxAgeInMs?: number;
  /** How long one read of Key Vault (all its requests and retries) may take. Default: defaultKeyVaultReadTimeoutInMs. */
  readTimeoutInMs?: number;
  /** Each attempt of a request to Key Vault or the managed identity (IDENTITY_REQUEST_TIMEOUT_SECONDS). */
  requestTimeoutInMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/** The timings among a provider's options. */
export function keyVaultCacheTimings(options: KeyVaultCacheTimings): KeyVaultCacheTimings {
  return { maxAgeInMs: options.maxAgeInMs, readTimeoutInMs: options.readTimeoutInMs, requestTimeoutInMs: options.requestTimeoutInMs, now: options.now };
}

export interface KeyVaultCacheOptions<T> extends KeyVaultCacheTimings {
  /**
   * Reads the value from Key Vault, passing `abortSignal` to every request. The signal is the read's
   * own bound, never a caller's: every waiting caller shares the read.
   */
  read: (abortSignal: AbortSignal) => Promise<T>;
  /** What is read and how to fix its failures; names the read when it times out. */
  errorContext: KeyVaultErrorContext;
  /** Whether a value may still be used at this time (e.g. its certificate is valid). Default: always. */
  isUsable?: (value: T, nowMs: number) => boolean;
  /** Told when a failed routine refresh leaves the last good value in use (to log a warning). */
  onKeptCached: (value: T, reason: string) => void;
}

/** `abortSignal` stops this caller's wait; the shared read goes on for the others (and fills the cache). */
export interface GetCachedValueOptions extends OperationOptions {
  /** Read Key Vault again even if the cached value is still fresh. */
  forceRefresh?: boolean;
}

export class KeyVaultCache<T> {
  readonly #read: (abortSignal: AbortSignal) => Promise<T>;
  readonly #errorContext: KeyVaultErrorContext;
  readonly #maxAgeInMs: number;
  readonly #readTimeoutInMs: number;
  readonly #now: () => Date;
  readonly #isUsable: (value: T, nowMs: number) => boolean;
  readonly #onKeptCached: (value: T, reason: string) => void;
  #cached: { value: T; fetchedAt: number } | undefined;
  #inFlight: Promise<T> | undefined;

  constructor(options: KeyVaultCacheOptions<T>) {
    this.#read = options.read;
    this.#errorContext = options.errorContext;
    this.#maxAgeInMs = options.maxAgeInMs ?? DEFAULT_KEY_VAULT_MAX_AGE_IN_MS;
    this.#readTimeoutInMs = options.readTimeoutInMs ?? defaultKeyVaultReadTimeoutInMs(options.requestTimeoutInMs);
    this.#now = options.now ?? (() => new Date());
    this.#isUsable = options.isUsable ?? (() => true);
    this.#onKeptCached = options.onKeptCached;
  }

  /** The last value read, fresh or not; undefined before the first read succeeds. */
  get current(): T | undefined {
    return this.#cached?.value;
  }

  async get(options: GetCachedValueOptions = {}): Promise<T> {
    const nowMs = this.#now().getTime();
    const cached = this.#cached;
    const usable = cached !== undefined && this.#isUsable(cached.value, nowMs);
    if (cached && usable && !options.forceRefresh && nowMs - cached.fetchedAt < this.#maxAgeInMs) return cached.value;
    if (options.abortSignal?.aborted) throw abortReason(options.abortSignal);
    try {
      return await abortable(this.#shared(), options.abortSignal);
    } catch (error) {
      if (cached && usable && !options.forceRefresh && isTransientKeyVaultError(error)) {
        this.#onKeptCached(cached.value, error instanceof UserSyncError ? error.code : "error");
        return cached.value;
      }
      throw error;
    }
  }

  /** The read under way, or a new one. */
  #shared(): Promise<T> {
    if (this.#inFlight) return this.#inFlight;
    const timeout = AbortSignal.timeout(this.#readTimeoutInMs);
    // Its own identity wait, with no caller's abort signal: every waiting caller shares the read.
    // A stalled endpoint under it (the vault, or the managed identity for the vault's token) is named.
    const context = this.#errorContext;
    const bounded = runIdentityWait(undefined, async (wait) => {
      try {
        return await this.#read(timeout);
      } catch (error) {
        const stalled = wait.timeouts[0];
        if (stalled === undefined || isAbortError(error) || isUserSyncError(error, "identity_endpoint_timeout")) throw error;
        throw identityTimeoutError(stalled, `${context.operation} in Key Vault ${context.vaultUrl}`, { vaultUrl: context.vaultUrl });
      }
    });
    const read = bounded.then(
      (value) => {
        this.#cached = { value, fetchedAt: this.#now().getTime() };
        return value;
      },
      (error: unknown) => {
        if (timeout.aborted && !(error instanceof UserSyncError)) {
          throw createKeyVaultError("timedOut", this.#errorContext, { timeoutInMs: this.#readTimeoutInMs });
        }
        throw error;
      },
    );
    this.#inFlight = read;
    const settle = (): void => {
      if (this.#inFlight === read) this.#inFlight = undefined;
    };
    // Also marks a failure as handled when every caller stopped waiting for it.
    read.then(settle, settle);
    return read;
  }
}
