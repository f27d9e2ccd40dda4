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
 *   without any caller's signal, so one caller giving up cannot fail another waiting on the same read.
 */
import { abortable, abortReason } from "../shared/abort.js";
import { UserSyncError } from "../shared/errors.js";
import { isTransientKeyVaultError } from "./keyVaultErrors.js";

/** How long a value read from Key Vault is used before it is read again, unless told otherwise. */
export const DEFAULT_KEY_VAULT_MAX_AGE_IN_MS = 12 * 60 * 60 * 1000;

export interface KeyVaultCacheOptions<T> {
  /** Reads the value from Key Vault. It gets no abort signal: every waiting caller shares it. */
  read: () => Promise<T>;
  /** Default 12 hours. */
  maxAgeInMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** Whether a value may still be used at this time (e.g. its certificate is valid). Default: always. */
  isUsable?: (value: T, nowMs: number) => boolean;
  /** Told when a failed routine refresh leaves the last good value in use (to log a warning). */
  onKeptCached: (value: T, reason: string) => void;
}

export interface GetCachedValueOptions {
  /** Stops this caller's wait; the shared read goes on for the others (and fills the cache). */
  abortSignal?: AbortSignal;
  /** Read Key Vault again even if the cached value is still fresh. */
  forceRefresh?: boolean;
}

export class KeyVaultCache<T> {
  readonly #read: () => Promise<T>;
  readonly #maxAgeInMs: number;
  readonly #now: () => Date;
  readonly #isUsable: (value: T, nowMs: number) => boolean;
  readonly #onKeptCached: (value: T, reason: string) => void;
  #cached: { value: T; fetchedAt: number } | undefined;
  #inFlight: Promise<T> | undefined;

  constructor(options: KeyVaultCacheOptions<T>) {
    this.#read = options.read;
    this.#maxAgeInMs = options.maxAgeInMs ?? DEFAULT_KEY_VAULT_MAX_AGE_IN_MS;
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
    const read = this.#read().then((value) => {
      this.#cached = { value, fetchedAt: this.#now().getTime() };
      return value;
    });
    this.#inFlight = read;
    const settle = (): void => {
      if (this.#inFlight === read) this.#inFlight = undefined;
    };
    // Also marks a failure as handled when every caller stopped waiting for it.
    read.then(settle, settle);
    return read;
  }
}
