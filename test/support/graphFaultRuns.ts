/**
 * Helpers for the Graph resilience integration tests: start a world with a first complete snapshot,
 * run a sync through the real clients, read the run record it left, and check that the latest
 * snapshot is the one expected and complete.
 */
import { expect } from "vitest";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import type { AppClients, StorageClients } from "../../src/sync/syncClients.js";
import { composeUserSync } from "../../src/app/syncService.js";
import type { SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";
import type { Logger } from "../../src/shared/logger.js";
import { startSyncEnvironment, type SyncEnvironment } from "./syncEnvironment.js";

export interface WorldWithSnapshot {
  world: SyncEnvironment;
  /** A service over the world's settings (and the overrides), in process. */
  service: UserSyncService;
  /** The clients the service was built over (its stores, its Graph readers), from the composition. */
  clients: AppClients;
  /** The first run's snapshot, complete: the one a failing run must leave the latest. */
  snapshotId: string;
}

/**
 * Starts a world of `userCount` users, exports its settings into process.env, and takes a first
 * snapshot through a service over its settings and `overrides` (the world is closed if that fails).
 */
export async function startWithFirstSnapshot(userCount: number, logger: Logger, overrides: Record<string, string> = {}): Promise<WorldWithSnapshot> {
  const world = await startSyncEnvironment({ userCount });
  try {
    world.useInProcess();
    const { service, clients } = composeUserSync({ ...world.env, ...overrides });
    const { run } = await service.runSync(logger, { trigger: "cli" });
    return { world, service, clients, snapshotId: run.snapshotId };
  } catch (error) {
    await world.close();
    throw error;
  }
}

/** The most recent run record. */
export async function lastRun(stores: Pick<StorageClients, "store">): Promise<SyncRunRecord> {
  const [run] = await Array.fromAsync(stores.store.listRuns({ maxResults: 1 }));
  if (run === undefined) throw new Error("no run recorded");
  return run;
}

/** Runs a sync that must fail, and returns its UserSyncError. */
export async function failingRun(service: UserSyncService, logger: Logger): Promise<UserSyncError> {
  try {
    await service.runSync(logger, { trigger: "cli" });
  } catch (error) {
    if (isUserSyncError(error)) return error;
    throw error;
  }
  throw new Error("expected the run to fail");
}

/** The latest snapshot is `snapshotId` and holds `userCount` users, each once. */
export async function expectLatestSnapshot(stores: Pick<StorageClients, "store">, snapshotId: string, userCount: number): Promise<void> {
  const latest = await stores.store.getLatestSnapshot();
  expect(latest?.snapshotId).toBe(snapshotId);
  expect(latest?.userCount).toBe(userCount);
  const ids = new Set<string>();
  let rows = 0;
  for await (const user of stores.store.listSnapshotUsers(snapshotId)) {
    rows += 1;
    ids.add(user.id);
  }
  expect(rows).toBe(userCount);
  expect(ids.size).toBe(userCount);
}
