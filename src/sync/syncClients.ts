/**
 * What a sync service is given (UserSyncService takes them; it builds none): the ports the
 * composition (src/app/compose.ts) fills with one tenant's clients.
 */
import type { TokenCredential } from "@azure/identity";
import type { Settings, TableStorageSettings } from "../configuration/settings.js";
import type { ClientCertificateProvider } from "../credentials/clientCertificateProvider.js";
import type { GraphCredential } from "../credentials/graphCredential.js";
import type { GraphTokenClient } from "../credentials/graphTokenClient.js";
import type { GraphUsersClient } from "../graph/graphUsersClient.js";
import type { UserDeltaClient } from "../graph/userDeltaClient.js";
import type { SnapshotLane } from "../lane/snapshotLane.js";
import type { UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import type { GroupsRunClients } from "./groupsRound.js";

/** The stores, and the credential they use for an identity-based connection. */
export interface StorageClients {
  storage: TableStorageSettings;
  store: SnapshotStoreClient;
  mirror: UserMirrorClient;
}

/** Every client of a sync process (of one tenant's sync, in multi-tenant mode). */
export interface AppClients extends StorageClients {
  settings: Settings;
  /** DefaultAzureCredential: Key Vault, the managed identity, identity-based storage. */
  credential: TokenCredential;
  /** The providers of the GRAPH_CREDENTIAL mode (docs/credentials.md). */
  graphCredential: GraphCredential;
  /** keyVaultCertificate mode only. */
  certificates: ClientCertificateProvider | undefined;
  tokens: GraphTokenClient;
  /** The `/users` reader (snapshots). */
  users: GraphUsersClient;
  /** The `/users/delta` reader (the live mirror); shares the request stage with `users`. */
  delta: UserDeltaClient;
  /** The analytics lane (USER_SYNC_EXPORT_STORAGE…), when it is set: runs write promoted snapshots to it as Parquet. */
  lane?: SnapshotLane | undefined;
  /** USER_SYNC_GROUPS=true only: the `/groups/delta` reader (same request stage) and the groups' stores. */
  groups?: GroupsRunClients;
}

/** What UserSyncService keeps of a tenant's clients: the settings, the two Graph readers and the two stores. */
export type SyncServiceClients = Pick<AppClients, "settings" | "users" | "delta" | "store" | "mirror" | "lane" | "groups">;
