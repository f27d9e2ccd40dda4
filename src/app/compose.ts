/**
 * The composition root: every client the product uses, built once per process from the settings,
 * and nowhere else. The timer, the command line (its read-only commands included) and the
 * benchmark all start here, so they share one way of building the credential, the Graph request
 * stage (one pipeline and one throttling pacing for both readers) and the stores.
 */
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { loadSettings, loadStorageSettings, type Settings, type SnapshotStorageSettings } from "../configuration/settings.js";
import type { ClientCertificateProvider } from "../credentials/clientCertificateProvider.js";
import { adminConsentUrl } from "../credentials/consent.js";
import { createGraphCredential, type GraphCredential } from "../credentials/graphCredential.js";
import type { GraphTokenClient } from "../credentials/graphTokenClient.js";
import { GraphRequestClient } from "../graph/graphRequestClient.js";
import { GraphUsersClient } from "../graph/graphUsersClient.js";
import { UserDeltaClient } from "../graph/userDeltaClient.js";
import { UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { Logger } from "../shared/logger.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";

/**
 * The product's Azure credential (DefaultAzureCredential: the managed identity in Azure, a
 * developer sign-in locally): built here and nowhere else.
 */
export function createAzureCredential(): TokenCredential {
  return new DefaultAzureCredential();
}

/** The stores, and the credential they use for an identity-based connection. */
export interface StorageClients {
  storage: SnapshotStorageSettings;
  store: SnapshotStoreClient;
  mirror: UserMirrorClient;
}

/** Every client of a sync process. */
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
}

/** Builds the stores from the storage settings alone (what `runs`, `export` and `diff` need). */
export function composeStorage(storage: SnapshotStorageSettings, credential?: TokenCredential): StorageClients {
  const withCredential = storage.kind === "identity" ? { storage, credential: credential ?? createAzureCredential() } : { storage };
  return { storage, store: new SnapshotStoreClient(withCredential), mirror: new UserMirrorClient(withCredential) };
}

/** The stores of the read-only commands, from the environment (validated first, naming the setting). */
export function composeStorageFromEnvironment(env: Record<string, string | undefined> = process.env): StorageClients {
  return composeStorage(loadStorageSettings(env));
}

/**
 * Validates every setting (throwing before any network request) and builds the clients. `logger`
 * receives what long-lived clients (the credential's certificate cache) report between runs.
 */
export function composeApp(env: Record<string, string | undefined>, logger: Logger): AppClients {
  const settings = loadSettings(env);
  const credential = createAzureCredential();
  // One credential per GRAPH_CREDENTIAL mode; the modes are exclusive (checked by loadSettings).
  const graphCredential = createGraphCredential({ settings, credential, logger });
  const graphOptions = {
    graphEndpoint: settings.graphEndpoint,
    tokenProvider: graphCredential.tokens,
    select: settings.select,
    retryOptions: { maxRetries: settings.graphRequests.maxRetries, maxRetryWaitInMs: settings.graphRequests.maxRetryWaitInMs },
    requestTimeoutInMs: settings.graphRequests.requestTimeoutInMs,
    adminConsentUrl: adminConsentUrl(settings.authorityHost, settings.tenantId, settings.clientId),
  };
  const requests = new GraphRequestClient(graphOptions);
  return {
    settings,
    credential,
    graphCredential,
    certificates: graphCredential.certificates,
    tokens: graphCredential.tokens,
    users: new GraphUsersClient({ ...graphOptions, requests }),
    delta: new UserDeltaClient({ ...graphOptions, requests }),
    ...composeStorage(settings.storage, credential),
  };
}
