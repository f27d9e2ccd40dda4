/**
 * The Key Vault cache shared by the three Key Vault modes, with a fake read (the boundary): single
 * flight, max age, the last good value kept through a transient outage, and waits a caller can stop
 * without stopping the read the others wait on. test/credentials/keyVaultSharedRead.integration.test.ts
 * shows the same through each provider and the real Key Vault clients.
 */
import { describe, expect, it } from "vitest";
import { KeyVaultCache } from "../../src/credentials/keyVaultCache.js";
import { UserSyncError } from "../../src/shared/errors.js";

/** A cache over a read the test answers by hand, on a clock the test moves. */
function harness(options: { maxAgeInMs?: number; readTimeoutInMs?: number; isUsable?: (value: string, nowMs: number) => boolean } = {}) {
  const reads: Array<PromiseWithResolvers<string> & { abortSignal: AbortSignal }> = [];
  const kept: string[] = [];
  let nowMs = Date.UTC(2026, 0, 1);
  const cache = new KeyVaultCache<string>({
    read: (abortSignal) => {
      const read = { ...Promise.withResolvers<string>(), abortSignal };
      reads.push(read);
      return read.promise;
    },
    errorContext: {
      vaultUrl: "https://contoso-sync.vault.azure.net",
      operation: 'reading secret "graph-secret"',
      nameSetting: "KEY_VAULT_SECRET_NAME",
      roleFix: "Grant the identity Key Vault Secrets User.",
      notFoundFix: "Create the secret.",
    },
    maxAgeInMs: options.maxAgeInMs ?? 60_000,
    readTimeoutInMs: options.readTimeoutInMs,
    now: () => new Date(nowMs),
    ...(options.isUsable ? { isUsable: options.isUsable } : {}),
    onKeptCached: (value, reason) => kept.push(`${value} (${reason})`),
  });
  return {
    cache,
    reads,
    kept,
    advance(ms: number) {
      nowMs += ms;
    },
    get nowMs() {
      return nowMs;
    },
  };
}

const outage = (): UserSyncError => new UserSyncError("key_vault_unavailable", "Key Vault answered HTTP 503.");
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("KeyVaultCache", () => {
  it("shares one read between concurrent callers, then serves the value until it ages out", async () => {
    const { cache, reads, advance } = harness({ maxAgeInMs: 60_000 });
    const callers = [cache.get(), cache.get(), cache.get()];
    expect(reads).toHaveLength(1);
    reads[0]!.resolve("v1");
    expect(await Promise.all(callers)).toEqual(["v1", "v1", "v1"]);

    advance(59_000);
    expect(await cache.get()).toBe("v1");
    expect(reads).toHaveLength(1);

    advance(2_000);
    const aged = cache.get();
    expect(reads).toHaveLength(2);
    reads[1]!.resolve("v2");
    expect(await aged).toBe("v2");
    expect(cache.current).toBe("v2");
  });

  it("reads again on forceRefresh, and when the cached value is no longer usable", async () => {
    const { cache, reads, advance, nowMs } = harness({ maxAgeInMs: 60_000, isUsable: (value, now) => value !== "expires" || now < nowMs + 1_000 });
    const first = cache.get();
    reads[0]!.resolve("expires");
    expect(await first).toBe("expires");

    const forced = cache.get({ forceRefresh: true });
    expect(reads).toHaveLength(2);
    reads[1]!.resolve("expires");
    await forced;

    advance(2_000); // young, but no longer usable
    const unusable = cache.get();
    expect(reads).toHaveLength(3);
    reads[2]!.resolve("renewed");
    expect(await unusable).toBe("renewed");
  });

  it("gives the read its own signal, which no caller's abort reaches", async () => {
    const { cache, reads } = harness();
    const controller = new AbortController();
    const impatient = cache.get({ abortSignal: controller.signal });
    const patient = cache.get();
    expect(reads[0]!.abortSignal).not.toBe(controller.signal);
    controller.abort();
    await expect(impatient).rejects.toMatchObject({ name: "AbortError" });
    expect(reads[0]!.abortSignal.aborted).toBe(false);
    reads[0]!.resolve("v1");
    expect(await patient).toBe("v1");
  });

  it("bounds a read Key Vault never answers: key_vault_unavailable naming the vault, and the next caller reads again", async () => {
    const { cache, reads } = harness({ readTimeoutInMs: 20 });
    const stalled = cache.get();
    // The read stops when its signal fires, as the Key Vault clients do.
    reads[0]!.abortSignal.addEventListener("abort", () => reads[0]!.reject(Object.assign(new Error("The operation was aborted."), { name: "AbortError" })));
    const error = await stalled.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(UserSyncError);
    expect(error).toMatchObject({ code: "key_vault_unavailable", details: { timeoutInMs: 20 } });
    expect((error as Error).message).toContain("https://contoso-sync.vault.azure.net");
    expect((error as Error).message).toContain('reading secret "graph-secret"');

    const next = cache.get();
    expect(reads).toHaveLength(2);
    reads[1]!.resolve("v1");
    expect(await next).toBe("v1");
  });

  it("keeps the last good value when a routine refresh times out", async () => {
    const { cache, reads, kept, advance } = harness({ maxAgeInMs: 60_000, readTimeoutInMs: 20 });
    const first = cache.get();
    reads[0]!.resolve("v1");
    await first;

    advance(61_000);
    const routine = cache.get();
    reads[1]!.abortSignal.addEventListener("abort", () => reads[1]!.reject(Object.assign(new Error("The operation was aborted."), { name: "AbortError" })));
    expect(await routine).toBe("v1");
    expect(kept).toEqual(["v1 (key_vault_unavailable)"]);
  });

  it("lets one caller stop waiting without failing another caller waiting on the same read", async () => {
    const { cache, reads } = harness();
    const controller = new AbortController();
    const impatient = cache.get({ abortSignal: controller.signal });
    const patient = cache.get();
    expect(reads).toHaveLength(1);

    controller.abort();
    await expect(impatient).rejects.toMatchObject({ name: "AbortError" });

    reads[0]!.resolve("v1");
    expect(await patient).toBe("v1");
    expect(reads).toHaveLength(1);
  });

  it("stops a wait with the signal's own reason", async () => {
    const { cache, reads } = harness();
    const controller = new AbortController();
    const reason = new Error("the run was cancelled");
    const waiting = cache.get({ abortSignal: controller.signal });
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    reads[0]!.resolve("v1");
  });

  it("caches a read every caller stopped waiting for, so the next caller needs no read", async () => {
    const { cache, reads } = harness();
    const controller = new AbortController();
    const waiting = cache.get({ abortSignal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    reads[0]!.resolve("v1");
    await settled();

    expect(await cache.get()).toBe("v1");
    expect(reads).toHaveLength(1);
  });

  it("starts no read for a caller whose signal is already aborted", async () => {
    const { cache, reads } = harness();
    await expect(cache.get({ abortSignal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    expect(reads).toHaveLength(0);
  });

  it("does not leave an unhandled rejection when a read fails after every caller stopped waiting", async () => {
    const { cache, reads } = harness();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const waiting = cache.get({ abortSignal: controller.signal });
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
      reads[0]!.reject(outage());
      await settled();
      await settled();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);

    // The failed read is forgotten: the next caller reads again.
    const next = cache.get();
    expect(reads).toHaveLength(2);
    reads[1]!.resolve("v1");
    expect(await next).toBe("v1");
  });

  it("keeps the last good value through a transient outage on a routine refresh, and says so", async () => {
    const { cache, reads, kept, advance } = harness({ maxAgeInMs: 60_000 });
    const first = cache.get();
    reads[0]!.resolve("v1");
    await first;

    advance(61_000);
    const routine = cache.get();
    reads[1]!.reject(outage());
    expect(await routine).toBe("v1");
    expect(kept).toEqual(["v1 (key_vault_unavailable)"]);
  });

  it("fails on a forced refresh, a first read, a lasting error, or a value no longer usable", async () => {
    const { cache, reads, advance, nowMs } = harness({ maxAgeInMs: 60_000, isUsable: (_value, now) => now < nowMs + 120_000 });
    const firstRead = cache.get();
    reads[0]!.reject(outage());
    await expect(firstRead).rejects.toMatchObject({ code: "key_vault_unavailable" });

    const second = cache.get();
    reads[1]!.resolve("v1");
    await second;

    const forced = cache.get({ forceRefresh: true });
    reads[2]!.reject(outage());
    await expect(forced).rejects.toMatchObject({ code: "key_vault_unavailable" });

    advance(61_000);
    const denied = cache.get();
    reads[3]!.reject(new UserSyncError("key_vault_access_denied", "Key Vault denied access (HTTP 403)."));
    await expect(denied).rejects.toMatchObject({ code: "key_vault_access_denied" });

    advance(60_000); // the cached value is no longer usable
    const expired = cache.get();
    reads[4]!.reject(outage());
    await expect(expired).rejects.toMatchObject({ code: "key_vault_unavailable" });
  });
});
