/** The storage clients of the read-only commands (runs, export, diff), from the environment's settings. */
import { DefaultAzureCredential } from "@azure/identity";
import { loadStorageSettings } from "../configuration/settings.js";
import { UserMirrorClient } from "../mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";

export function storeFromEnvironment(): SnapshotStoreClient {
  const storage = loadStorageSettings(process.env);
  return new SnapshotStoreClient(storage.kind === "identity" ? { storage, credential: new DefaultAzureCredential() } : { storage });
}

export function mirrorFromEnvironment(): UserMirrorClient {
  const storage = loadStorageSettings(process.env);
  return new UserMirrorClient(storage.kind === "identity" ? { storage, credential: new DefaultAzureCredential() } : { storage });
}
