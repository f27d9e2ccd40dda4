/**
 * The product's settings, read once from the environment and validated before anything touches the
 * network. The pieces: the schema (schema.ts), the storage setting (storageSettings.ts), the Graph
 * credential's settings (credentialSettings.ts), every default (defaults.ts) and every name
 * (settingNames.ts).
 */
import { CLOUDS, type CloudName } from "./clouds.js";
import { readCredential, type GraphCredentialSettings } from "./credentialSettings.js";
import { DEFAULT_FULL_SCHEDULE, DEFAULT_SELECT } from "./defaults.js";
import { schema, TENANT_FIX, type TenantMode } from "./schema.js";
import { SETTING_NAMES } from "./settingNames.js";
import { settingsError } from "./settingsError.js";
import { readExportLane, type ExportLaneSettings } from "./exportSettings.js";
import { readStorage, type TableStorageSettings } from "./storageSettings.js";

export * from "./defaults.js";
export { SETTING_NAMES, type SettingName } from "./settingNames.js";
export { GRAPH_CREDENTIAL_MODES, TENANT_MODES, type GraphCredentialMode, type TenantMode } from "./schema.js";
export { loadStorageSettings, type TableStorageSettings } from "./storageSettings.js";
export { SecretText, type GraphCredentialSettings } from "./credentialSettings.js";
export { readExportLane, type ExportLaneSettings } from "./exportSettings.js";

/**
 * The product's settings, read once from the environment. The Functions host fills the environment
 * from app settings (or local.settings.json `Values`); the command line reads the same names.
 * Every name here is a public contract: README, local.settings.example.json and infra/ use the same.
 */
export interface Settings {
  /**
   * The tenant whose users are synced. In multi-tenant mode, the process-wide settings hold
   * GRAPH_TENANT_ID if set (the app's home tenant, not synced unless registered) or ""; each
   * registered tenant's services get a copy with its own id (src/app/tenantServices.ts).
   */
  tenantId: string;
  /** USER_SYNC_TENANT_MODE: single (GRAPH_TENANT_ID, the default) or multi (the tenant registry). */
  tenantMode: TenantMode;
  clientId: string;
  cloud: CloudName;
  /** e.g. https://login.microsoftonline.com — no trailing slash. */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com — no trailing slash. */
  graphEndpoint: string;
  /** How the app proves its identity to Microsoft Entra (GRAPH_CREDENTIAL and its settings). */
  credential: GraphCredentialSettings;
  storage: TableStorageSettings;
  /** NCRONTAB schedule of the timer, when set. The command line does not need it. */
  schedule?: string;
  /** 6-field NCRONTAB (UTC) of full rounds: the point-in-time snapshot and the mirror's full round (USER_SYNC_FULL_SCHEDULE). */
  fullSchedule: string;
  /** Graph user properties to read; always contains `id`, first. */
  select: string[];
  /** USER_SYNC_GROUPS: runs also sync groups and their memberships (docs/groups.md). Default false. */
  groups: boolean;
  /** How hard the Graph reader retries (GRAPH_MAX_RETRIES, GRAPH_MAX_RETRY_WAIT_SECONDS, GRAPH_REQUEST_TIMEOUT_SECONDS). */
  graphRequests: GraphRequestSettings;
  /** The bound on each request to an identity endpoint: Entra (tokens, metadata), the managed identity, Key Vault (IDENTITY_REQUEST_TIMEOUT_SECONDS). */
  identityRequestTimeoutInMs: number;
  /** MSAL's regional token service (ESTS-R), e.g. "westeurope" or "TryAutoDetect"; unset = the global endpoint. */
  azureRegion?: string;
  /** Resumable runs and the writer lease (USER_SYNC_MAX_RUN_MINUTES, USER_SYNC_RESUME_WITHIN_MINUTES, USER_SYNC_LEASE_SECONDS). */
  runControl: RunControlSettings;
  /** Which snapshots to keep (SNAPSHOT_RETENTION_COUNT, SNAPSHOT_RETENTION_DAYS). */
  retention: RetentionSettings;
  /** The analytics lane (USER_SYNC_EXPORT_STORAGE or USER_SYNC_EXPORT_STORAGE__blobServiceUri, USER_SYNC_EXPORT_CONTAINER); absent: off. */
  exportLane?: ExportLaneSettings;
}

export interface RunControlSettings {
  /** A run stops cleanly at a checkpoint after this long; the next run continues. Undefined: no limit. */
  maxRunDurationInMs?: number;
  /** A dead or paused run is resumed only while its last checkpoint is younger than this. */
  resumeWithinInMs: number;
  /** The writer lease lasts this long without renewal (renewed four times within its duration minus the safety margin). */
  leaseDurationInMs: number;
}

export interface RetentionSettings {
  /** Keep the newest this many complete snapshots (at least 1). */
  keepCount: number;
  /** Also keep complete snapshots younger than this; 0 keeps none by age. */
  keepWithinInMs: number;
  /** Keep a snapshot this long after a newer one completed (readers may still be reading it). */
  keepSupersededWithinInMs: number;
}

export interface GraphRequestSettings {
  /** Retries per Graph request (429, 500, 502, 503, 504, connection failures, timeouts). */
  maxRetries: number;
  /** Total wait between the retries of one Graph request. */
  maxRetryWaitInMs: number;
  /** Per-attempt timeout of a Graph request. */
  requestTimeoutInMs: number;
}


/**
 * Reads and validates every setting. Throws one UserSyncError that lists every problem, naming each
 * setting and its fix, before anything touches the network. Secrets (connection strings) are never
 * echoed back.
 */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const input: Record<string, string | undefined> = {};
  for (const name of SETTING_NAMES) input[name] = env[name];
  const parsed = schema.safeParse(input);
  const lines: string[] = [];
  const names: string[] = [];
  // GRAPH_TENANT_ID is required in single-tenant mode (the default); its format is the schema's.
  const rawMode = env.USER_SYNC_TENANT_MODE?.trim();
  if ((rawMode === undefined || rawMode === "" || rawMode === "single") && (env.GRAPH_TENANT_ID?.trim() ?? "") === "") {
    names.push("GRAPH_TENANT_ID");
    lines.push(`GRAPH_TENANT_ID ${env.GRAPH_TENANT_ID === undefined ? "is missing" : "is empty"}. ${TENANT_FIX}`);
  }
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "configuration");
      names.push(name);
      lines.push(`${name} ${issue.message}`);
    }
  }
  // Connection strings are checked outside zod, so that their text never reaches an issue message.
  const storageResult = readStorage(env);
  lines.push(...storageResult.lines);
  names.push(...storageResult.names);
  const storage = storageResult.storage;
  const laneResult = readExportLane(env);
  lines.push(...laneResult.lines);
  names.push(...laneResult.names);
  // The credential mode's settings are checked from the raw values (formats are checked by the schema).
  const credentialResult = readCredential(env, parsed.success ? parsed.data.GRAPH_CREDENTIAL : undefined);
  lines.push(...credentialResult.lines);
  names.push(...credentialResult.names);
  if (!parsed.success || lines.length > 0 || storage === undefined || credentialResult.credential === undefined) {
    throw settingsError(lines, names, lines.length > 0 && lines.length === credentialResult.conflicts);
  }
  const env2 = parsed.data;
  const cloud = CLOUDS[env2.GRAPH_CLOUD];
  const select = ["id"];
  for (const property of (env2.USER_SYNC_SELECT ?? DEFAULT_SELECT.join(",")).split(",")) {
    const name = property.trim();
    if (name !== "" && !select.some((s) => s.toLowerCase() === name.toLowerCase())) select.push(name);
  }
  const settings: Settings = {
    tenantId: env2.GRAPH_TENANT_ID ?? "",
    tenantMode: env2.USER_SYNC_TENANT_MODE,
    clientId: env2.GRAPH_CLIENT_ID.toLowerCase(),
    cloud: env2.GRAPH_CLOUD,
    authorityHost: (env2.GRAPH_AUTHORITY_HOST ?? cloud.authorityHost).replace(/\/+$/, ""),
    graphEndpoint: (env2.GRAPH_ENDPOINT ?? cloud.graphEndpoint).replace(/\/+$/, ""),
    credential: credentialResult.credential,
    storage,
    select,
    groups: env2.USER_SYNC_GROUPS,
    fullSchedule: env2.USER_SYNC_FULL_SCHEDULE ?? DEFAULT_FULL_SCHEDULE,
    ...(env2.GRAPH_AZURE_REGION ? { azureRegion: env2.GRAPH_AZURE_REGION } : {}),
    graphRequests: {
      maxRetries: env2.GRAPH_MAX_RETRIES,
      maxRetryWaitInMs: env2.GRAPH_MAX_RETRY_WAIT_SECONDS * 1000,
      requestTimeoutInMs: env2.GRAPH_REQUEST_TIMEOUT_SECONDS * 1000,
    },
    identityRequestTimeoutInMs: env2.IDENTITY_REQUEST_TIMEOUT_SECONDS * 1000,
    runControl: {
      ...(env2.USER_SYNC_MAX_RUN_MINUTES > 0 ? { maxRunDurationInMs: env2.USER_SYNC_MAX_RUN_MINUTES * 60_000 } : {}),
      resumeWithinInMs: env2.USER_SYNC_RESUME_WITHIN_MINUTES * 60_000,
      leaseDurationInMs: env2.USER_SYNC_LEASE_SECONDS * 1000,
    },
    retention: {
      keepCount: env2.SNAPSHOT_RETENTION_COUNT,
      keepWithinInMs: env2.SNAPSHOT_RETENTION_DAYS * 86_400_000,
      keepSupersededWithinInMs: env2.SNAPSHOT_RETENTION_GRACE_MINUTES * 60_000,
    },
  };
  if (env2.USER_SYNC_SCHEDULE !== undefined) settings.schedule = env2.USER_SYNC_SCHEDULE;
  if (laneResult.lane) settings.exportLane = laneResult.lane;
  return settings;
}
