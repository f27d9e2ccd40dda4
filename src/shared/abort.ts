/**
 * The options of every operation that can be stopped, as @azure/core-client's OperationOptions: each
 * `<Method>Options` extends it, and a method without other options takes it as it is. The signal may
 * be `undefined`, so a caller hands its own (optional) signal on as it stands.
 */
export interface OperationOptions {
  /**
   * Stops the operation (or this caller's wait for it): it rejects with the signal's reason, or an
   * AbortError. What has been written stays written; each operation's documentation says where it stops.
   */
  abortSignal?: AbortSignal | undefined;
}

/**
 * Lets one caller stop waiting for a promise without cancelling the work behind it, which other
 * callers may share (one Key Vault read, one token request).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** The signal's reason when it is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}

/** True for an abort (the caller's signal, or a cancelled request), whatever threw it. */
export function isAbortError(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "AbortError";
}

/** A controller that also aborts with a parent signal; `dispose` unhooks it from the parent. */
export interface LinkedAbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** Removes the listener on the parent; call it when the work the controller stops has ended. */
  dispose(): void;
}

/**
 * A child of `parent` for one piece of work: aborted with the parent (with its reason, at once if it
 * already is) or on its own. Signals composed from the child (`AbortSignal.any`, one per request)
 * then hang off the child and are freed with it. Composed straight from a long-lived signal (a
 * worker's Ctrl+C), each would leave a reference on it for the life of the process.
 */
export function linkedAbortController(parent: AbortSignal | undefined): LinkedAbortController {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    abort: (reason?: unknown) => controller.abort(reason),
    dispose: () => parent?.removeEventListener("abort", onAbort),
  };
}
