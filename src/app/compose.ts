/**
 * The composition root: every client the product uses, built once per process from the settings,
 * and nowhere else. The timer, the command line (its read-only commands included) and the
 * benchmark all start here, so they share one way of building the credential, the Graph request
 * stage (one pipeline and one throttling pacing for both readers) and the stores. It sits on the
 * top floor, beside the entry points (docs/architecture.md): nothing below imports it.
 */
import { createDefaultHttpClient, type HttpClient } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { loadSettings, loadStorageSettings, STORAGE_DEFAULTS, type Settings, type TableStorageSettings } from "../configuration/settings.js";
import { adminConsentUrlFor } from "../credentials/consent.js";
import { createGraphCredential, type GraphCredential } from "../credentials/graphCredential.js";
import { createAzureCredential } from "../credentials/azureCredential.js";
import { GraphRequestClient } from "../graph/graphRequestClient.js";
import { GraphUsersClient } from "../graph/graphUsersClient.js";
import { GroupDeltaClient } from "../graph/groupDeltaClient.js";
import { UserDeltaClient } from "../graph/userDeltaClient.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import { createLaneContainerClient } from "../lane/laneContainer.js";
import { SnapshotLane } from "../lane/snapshotLane.js";
import { UserMirrorClient } from "../mirror/userMirrorClient.js";
import type { Logger } from "../shared/logger.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import type { AppClients, StorageClients } from "../sync/syncClients.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { assertTenantGuid, tenantTablePrefix } from "../tenants/tenantId.js";
import { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import { composeGroupStores, type GroupStores } from "./groupStores.js";

export { createAzureCredential };
export type { AppClients, StorageClients };

/**
 * What a process builds once, whatever the number of tenants: the settings, the Azure credential,
 * the Graph credential (its Key Vault certificate cache, and ONE MSAL confidential client whose
 * token cache keeps each tenant's token apart), and the HTTP client of every tenant's Graph
 * requests.
 */
export interface ProcessClients {
  settings: Settings;
  credential: TokenCredential;
  graphCredential: GraphCredential;
  /**
   * Graph is one origin for every tenant: one connection pool (keep-alive sockets, TLS sessions)
   * for all of them, so the connections a worker holds follow the requests under way, not the
   * tenants it has served. Each tenant keeps its own pipeline (retries, pacing, token).
   */
  graphHttpClient: HttpClient;
}

/**
 * Builds the stores from the storage settings alone (what `runs`, `export` and `diff` need).
 * `tablePrefix`: a registered tenant's (tenantTablePrefix); default "entraUser", single-tenant mode's.
 * `kind`: the object kind the stores hold (src/kinds/); default the users.
 */
export function composeStorage(storage: TableStorageSettings, credential?: TokenCredential, tablePrefix?: string, kind?: ObjectKind): StorageClients {
  const withCredential = storage.kind === "identity" ? { storage, credential: credential ?? createAzureCredential() } : { storage };
  const prefixed = { ...withCredential, ...(tablePrefix === undefined ? {} : { tablePrefix }), ...(kind === undefined ? {} : { kind }) };
  return { storage, store: new SnapshotStoreClient(prefixed), mirror: new UserMirrorClient(prefixed) };
}

/** The stores of one registered tenant: its own tables (docs/tenants.md), and no other tenant's. */
export function composeTenantStorage(storage: TableStorageSettings, tenantId: string, credential?: TokenCredential, kind?: ObjectKind): StorageClients {
  return composeStorage(storage, credential, tenantTablePrefix(tenantId), kind);
}

/** The tenant registry, in the snapshot storage account. */
export function composeRegistry(storage: TableStorageSettings, credential?: TokenCredential): TenantRegistryClient {
  return new TenantRegistryClient(storage.kind === "identity" ? { storage, credential: credential ?? createAzureCredential() } : { storage });
}

/** The stores of the read-only commands, from the environment (validated first, naming the setting). */
export function composeStorageFromEnvironment(env: Record<string, string | undefined> = process.env): StorageClients {
  return composeStorage(loadStorageSettings(env));
}

/**
 * Validates every setting (throwing before any network request) and builds the process-wide
 * clients. `logger` receives what long-lived clients (the credential's certificate cache) report
 * between runs.
 */
export function composeProcess(env: Record<string, string | undefined>, logger: Logger): ProcessClients {
  const settings = loadSettings(env);
  const credential = createAzureCredential(settings.identityRequestTimeoutInMs);
  // One credential per GRAPH_CREDENTIAL mode; the modes are exclusive (checked by loadSettings).
  // In multi-tenant mode its tenant is set per tenant (GraphTokenClient.forTenant).
  const graphCredential = createGraphCredential({ settings, credential, logger });
  return { settings, credential, graphCredential, graphHttpClient: createDefaultHttpClient() };
}

/**
 * One tenant's clients over the process-wide ones: its Graph request stage (its own throttling
 * pacing: Graph's budget is per app per tenant), its tokens (the shared MSAL client, this
 * tenant's authority) and, in multi-tenant mode, its own tables.
 */
export function composeTenant(processClients: ProcessClients, tenantId?: string): AppClients {
  const { credential } = processClients;
  const multi = tenantId !== undefined;
  const id = multi ? assertTenantGuid(tenantId) : processClients.settings.tenantId;
  const settings: Settings = multi ? { ...processClients.settings, tenantId: id } : processClients.settings;
  const tokens = multi ? processClients.graphCredential.tokens.forTenant(id) : processClients.graphCredential.tokens;
  const graphCredential = (multi ? { ...processClients.graphCredential, tokens } : processClients.graphCredential) as GraphCredential;
  const graphOptions = {
    graphEndpoint: settings.graphEndpoint,
    tokenProvider: tokens,
    select: settings.select,
    retryOptions: { maxRetries: settings.graphRequests.maxRetries, maxRetryWaitInMs: settings.graphRequests.maxRetryWaitInMs },
    requestTimeoutInMs: settings.graphRequests.requestTimeoutInMs,
    adminConsentUrl: adminConsentUrlFor(settings, id),
  };
  const requests = new GraphRequestClient({ ...graphOptions, httpClient: processClients.graphHttpClient });
  const storage = multi ? composeTenantStorage(settings.storage, id, credential) : composeStorage(settings.storage, credential);
  const groupStores = settings.groups ? composeGroupStores(settings.storage, credential, multi ? tenantTablePrefix(id) : undefined) : undefined;
  return {
    settings,
    credential,
    graphCredential,
    certificates: graphCredential.certificates,
    tokens,
    // USER_SYNC_GROUPS brings the users' managers: `$expand=manager($select=id)` on /users, `manager` in the delta's $select.
    users: new GraphUsersClient({ ...graphOptions, requests, expandManager: settings.groups }),
    delta: new UserDeltaClient({ ...graphOptions, requests, manager: settings.groups }),
    ...storage,
    lane: composeLane(settings, id, storage, credential, groupStores),
    // USER_SYNC_GROUPS: the groups' reader (its own selection, the same request stage) and stores (the tenant's prefix).
    ...(groupStores
      ? {
          groups: {
            delta: new GroupDeltaClient({ ...graphOptions, select: undefined, requests }),
            tokens,
            adminConsentUrl: graphOptions.adminConsentUrl,
            stores: groupStores,
            // The users' mirror tells a user member deleted from one taken out of a group (src/sync/membershipChanges.ts).
            users: storage.mirror,
          },
        }
      : {}),
  };
}

/** The analytics lane of one tenant's snapshots, when USER_SYNC_EXPORT_STORAGE (or its identity-based form) is set; with `groups` (USER_SYNC_GROUPS), their groups and memberships too. */
export function composeLane(settings: Settings, tenantId: string, storage: StorageClients, credential?: TokenCredential, groups?: GroupStores): SnapshotLane | undefined {
  const lane = settings.exportLane;
  if (!lane) return undefined;
  const requestTimeoutInMs = settings.storage.requestTimeoutInMs ?? STORAGE_DEFAULTS.requestTimeoutSeconds * 1000;
  const container = createLaneContainerClient(lane, { credential: lane.kind === "identity" ? (credential ?? createAzureCredential()) : undefined, requestTimeoutInMs });
  return new SnapshotLane({ container, settings: lane, tenantId, store: storage.store, mirror: storage.mirror, groups });
}

/**
 * Single-tenant mode: validates every setting (throwing before any network request) and builds the
 * clients. In multi-tenant mode there is no one tenant to build them for: it throws
 * `tenant_mode_mismatch` (use TenantServices, src/app/tenantServices.ts).
 */
export function composeApp(env: Record<string, string | undefined>, logger: Logger): AppClients {
  const processClients = composeProcess(env, logger);
  if (processClients.settings.tenantMode === "multi") {
    throw createTenantError(
      "tenantModeMismatch",
      "USER_SYNC_TENANT_MODE is multi: this deployment syncs the tenants of the tenant registry, one at a time by name (on the command line: --tenant <tenantId>).",
    );
  }
  return composeTenant(processClients);
}
