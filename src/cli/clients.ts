/** The storage clients of the read-only commands (runs, export, diff), from the environment's settings. */
import { composeStorageFromEnvironment } from "../app/compose.js";
import type { UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";

export function storeFromEnvironment(): SnapshotStoreClient {
  return composeStorageFromEnvironment(process.env).store;
}

export function mirrorFromEnvironment(): UserMirrorClient {
  return composeStorageFromEnvironment(process.env).mirror;
}
