import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { UserSyncError } from "../shared/errors.js";
import { CLOUD_NAMES, CLOUDS, type CloudName } from "./clouds.js";
import { selectProblems } from "./userProperties.js";

/**
 * The product's settings, read once from the environment. The Functions host fills the environment
 * from app settings (or local.settings.json `Values`); the command line reads the same names.
 * Every name here is a public contract: README, local.settings.example.json and infra/ use the same.
 */
export interface Settings {
  tenantId: string;
  clientId: string;
  cloud: CloudName;
  /** e.g. https://login.microsoftonline.com — no trailing slash. */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com — no trailing slash. */
  graphEndpoint: string;
  /** How the app proves its identity to Microsoft Entra (GRAPH_CREDENTIAL and its settings). */
  credential: GraphCredentialSettings;
  storage: SnapshotStorageSettings;
  /** NCRONTAB schedule of the timer, when set. The command line does not need it. */
  schedule?: string;
  /** 6-field NCRONTAB (UTC) of full rounds: the point-in-time snapshot and the mirror's full round (USER_SYNC_FULL_SCHEDULE). */
  fullSchedule: string;
  /** Graph user properties to read; always contains `id`, first. */
  select: string[];
  /** How hard the Graph reader retries (GRAPH_MAX_RETRIES, GRAPH_MAX_RETRY_WAIT_SECONDS, GRAPH_REQUEST_TIMEOUT_SECONDS). */
  graphRequests: GraphRequestSettings;
  /** MSAL's regional token service (ESTS-R), e.g. "westeurope" or "TryAutoDetect"; unset = the global endpoint. */
  azureRegion?: string;
  /** Resumable runs and the writer lease (USER_SYNC_MAX_RUN_MINUTES, USER_SYNC_RESUME_WITHIN_MINUTES, USER_SYNC_LEASE_SECONDS). */
  runControl: RunControlSettings;
  /** Which snapshots to keep (SNAPSHOT_RETENTION_COUNT, SNAPSHOT_RETENTION_DAYS). */
  retention: RetentionSettings;
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

/** USER_SYNC_FULL_SCHEDULE when unset: daily at 02:00 UTC, well inside the 7-day delta token lifetime. */
export const DEFAULT_FULL_SCHEDULE = "0 0 2 * * *";

export const RUN_CONTROL_DEFAULTS = { resumeWithinMinutes: 60, leaseSeconds: 300 } as const;
export const RETENTION_DEFAULTS = { count: 10, days: 0, graceMinutes: 60 } as const;

export interface GraphRequestSettings {
  /** Retries per Graph request (429, 500, 502, 503, 504, connection failures, timeouts). */
  maxRetries: number;
  /** Total wait between the retries of one Graph request. */
  maxRetryWaitInMs: number;
  /** Per-attempt timeout of a Graph request. */
  requestTimeoutInMs: number;
}

export const GRAPH_REQUEST_DEFAULTS = { maxRetries: 6, maxRetryWaitSeconds: 300, requestTimeoutSeconds: 60 } as const;

/** Where the stores live; `requestTimeoutInMs` bounds each table request (STORAGE_REQUEST_TIMEOUT_SECONDS). */
export type SnapshotStorageSettings = (
  | { kind: "connectionString"; connectionString: string; tableEndpoint: string; allowInsecureConnection: boolean }
  | { kind: "identity"; tableServiceUri: string; allowInsecureConnection: boolean }
) & { requestTimeoutInMs?: number };

export const STORAGE_DEFAULTS = { requestTimeoutSeconds: 30 } as const;

/** The names of every setting the code reads. infra/ and the docs are checked against this list. */
export const SETTING_NAMES = [
  "GRAPH_TENANT_ID",
  "GRAPH_CLIENT_ID",
  "GRAPH_CLOUD",
  "GRAPH_AUTHORITY_HOST",
  "GRAPH_ENDPOINT",
  "KEY_VAULT_URL",
  "KEY_VAULT_CERTIFICATE_NAME",
  // Graph credential modes (docs/credentials.md)
  "GRAPH_CREDENTIAL",
  "KEY_VAULT_SECRET_NAME",
  "GRAPH_CLIENT_SECRET",
  "SNAPSHOT_STORAGE",
  "SNAPSHOT_STORAGE__tableServiceUri",
  "STORAGE_REQUEST_TIMEOUT_SECONDS",
  "USER_SYNC_SCHEDULE",
  "USER_SYNC_FULL_SCHEDULE",
  "USER_SYNC_SELECT",
  // Graph resilience
  "GRAPH_MAX_RETRIES",
  "GRAPH_MAX_RETRY_WAIT_SECONDS",
  "GRAPH_REQUEST_TIMEOUT_SECONDS",
  "GRAPH_AZURE_REGION",
  // Snapshot store: resumable runs, writer lease, retention
  "USER_SYNC_MAX_RUN_MINUTES",
  "USER_SYNC_RESUME_WITHIN_MINUTES",
  "USER_SYNC_LEASE_SECONDS",
  "SNAPSHOT_RETENTION_COUNT",
  "SNAPSHOT_RETENTION_DAYS",
  "SNAPSHOT_RETENTION_GRACE_MINUTES",
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

/** The properties read when USER_SYNC_SELECT is not set. */
export const DEFAULT_SELECT: readonly string[] = [
  "id",
  "userPrincipalName",
  "displayName",
  "givenName",
  "surname",
  "mail",
  "otherMails",
  "proxyAddresses",
  "accountEnabled",
  "userType",
  "externalUserState",
  "createdDateTime",
  "jobTitle",
  "department",
  "companyName",
  "officeLocation",
  "employeeId",
  "employeeType",
  "city",
  "country",
  "usageLocation",
  "preferredLanguage",
  "businessPhones",
  "mobilePhone",
  "onPremisesSyncEnabled",
  "onPremisesImmutableId",
];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MULTI_TENANT_AUTHORITIES = new Set(["common", "organizations", "consumers"]);
const KEY_VAULT_SUFFIXES = [...new Set(Object.values(CLOUDS).map((c) => c.keyVaultSuffix))];
const CERTIFICATE_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const GRAPH_PROPERTY = /^[A-Za-z][A-Za-z0-9_]*$/;

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

function httpsUrl(setting: string, fix: string) {
  return z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a URL. ${fix}` });
      return;
    }
    if (url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: `must use https (got ${url.protocol}). ${fix}` });
    }
    if (url.username || url.password || url.search || url.hash) {
      ctx.addIssue({ code: "custom", message: `must be a plain https URL without credentials, query or fragment. ${fix}` });
    }
    void setting;
  });
}

const required = (fix: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `is missing. ${fix}` : `must be text. ${fix}`) })
    .trim()
    .min(1, { error: `is empty. ${fix}` });

const optional = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === "" ? undefined : v));

/**
 * The longest delay a Node.js timer can wait (2^31 - 1 ms, about 24.8 days): a longer one fires at
 * once. Every duration the product waits on is capped below it.
 */
export const MAX_TIMER_DELAY_IN_MS = 2 ** 31 - 1;

/** A duration setting: whole `unit`s from `min` to `max`; `timer` when the product waits on it with a timer. */
export interface DurationRange {
  min: number;
  max: number;
  fallback: number;
  unit: "seconds" | "minutes" | "days";
  unitInMs: number;
  timer: boolean;
}

/** Every duration setting and its allowed range (README's settings table states the same ranges). */
export const DURATION_SETTINGS = {
  GRAPH_MAX_RETRY_WAIT_SECONDS: { min: 0, max: 3600, fallback: GRAPH_REQUEST_DEFAULTS.maxRetryWaitSeconds, unit: "seconds", unitInMs: 1000, timer: true },
  GRAPH_REQUEST_TIMEOUT_SECONDS: { min: 1, max: 600, fallback: GRAPH_REQUEST_DEFAULTS.requestTimeoutSeconds, unit: "seconds", unitInMs: 1000, timer: true },
  USER_SYNC_MAX_RUN_MINUTES: { min: 0, max: 10080, fallback: 0, unit: "minutes", unitInMs: 60_000, timer: true },
  USER_SYNC_RESUME_WITHIN_MINUTES: { min: 0, max: 1440, fallback: RUN_CONTROL_DEFAULTS.resumeWithinMinutes, unit: "minutes", unitInMs: 60_000, timer: false },
  USER_SYNC_LEASE_SECONDS: { min: 5, max: 3600, fallback: RUN_CONTROL_DEFAULTS.leaseSeconds, unit: "seconds", unitInMs: 1000, timer: true },
  SNAPSHOT_RETENTION_DAYS: { min: 0, max: 3650, fallback: RETENTION_DEFAULTS.days, unit: "days", unitInMs: 86_400_000, timer: false },
  SNAPSHOT_RETENTION_GRACE_MINUTES: { min: 0, max: 10080, fallback: RETENTION_DEFAULTS.graceMinutes, unit: "minutes", unitInMs: 60_000, timer: false },
  STORAGE_REQUEST_TIMEOUT_SECONDS: { min: 1, max: 600, fallback: STORAGE_DEFAULTS.requestTimeoutSeconds, unit: "seconds", unitInMs: 1000, timer: true },
} as const satisfies Record<string, DurationRange>;

/** An optional whole number within [min, max], with a default. Every message states the allowed range. */
function wholeNumber(min: number, max: number, fallback: number, what: string) {
  const range = `a whole number of ${what}, from ${min} to ${max} (default ${fallback})`;
  return optional().pipe(
    z
      .string()
      .regex(/^\d+$/, { error: (issue) => `must be ${range}; got "${String(issue.input)}".` })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: (issue) => `must be at least ${min}, got ${String(issue.input)}: ${range}.` })
          .max(max, { error: (issue) => `must be at most ${max}, got ${String(issue.input)}: ${range}.` }),
      )
      .optional()
      .transform((v) => v ?? fallback),
  );
}

/** A duration setting of DURATION_SETTINGS, read as a whole number within its range. */
function duration(name: keyof typeof DURATION_SETTINGS, what: string) {
  const { min, max, fallback, unit } = DURATION_SETTINGS[name];
  return wholeNumber(min, max, fallback, `${unit} ${what}`);
}

const TENANT_FIX =
  "Set it to the directory (tenant) ID, a GUID shown on the app registration's Overview page, or a verified domain such as contoso.onmicrosoft.com.";
const CLIENT_FIX = "Set it to the application (client) ID, the GUID shown on the app registration's Overview page.";
const VAULT_FIX = "Set it to the vault URI shown on the Key Vault's Overview page, for example https://my-vault.vault.azure.net.";
const CERT_FIX = "Set it to the name of the certificate in Key Vault (letters, digits and dashes).";
/** GRAPH_CREDENTIAL: how the app proves its identity to Microsoft Entra (docs/credentials.md). */
export const GRAPH_CREDENTIAL_MODES = ["keyVaultCertificate", "keyVaultSignedAssertion", "managedIdentityFederation", "clientSecret"] as const;
export type GraphCredentialMode = (typeof GRAPH_CREDENTIAL_MODES)[number];
const SECRET_NAME_FIX = "Set it to the name of the Key Vault secret that holds the app registration's client secret (letters, digits and dashes).";
const STORAGE_FIX =
  "Set SNAPSHOT_STORAGE to a connection string (UseDevelopmentStorage=true for Azurite), or SNAPSHOT_STORAGE__tableServiceUri to https://<account>.table.core.windows.net for an identity-based connection.";

const schema = z
  .object({
    GRAPH_TENANT_ID: required(TENANT_FIX).superRefine((value, ctx) => {
      if (MULTI_TENANT_AUTHORITIES.has(value.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is a multi-tenant authority, but client credentials (app-only tokens) need one tenant. ${TENANT_FIX}`,
        });
      } else if (!GUID.test(value) && !DOMAIN.test(value)) {
        ctx.addIssue({ code: "custom", message: `"${value}" is neither a GUID nor a domain name. ${TENANT_FIX}` });
      }
    }),
    GRAPH_CLIENT_ID: required(CLIENT_FIX).regex(GUID, { error: `is not a GUID. ${CLIENT_FIX}` }),
    GRAPH_CLOUD: optional().pipe(
      z.enum(CLOUD_NAMES, { error: `must be one of ${CLOUD_NAMES.join(", ")} (default AzurePublic).` }).default("AzurePublic"),
    ),
    GRAPH_AUTHORITY_HOST: optional().pipe(
      httpsUrl("GRAPH_AUTHORITY_HOST", "Leave it unset to use the cloud's default, or set it to e.g. https://login.microsoftonline.us.")
        .refine((v) => new URL(v).pathname === "/", {
          error: "must be a host only, without a tenant or path (e.g. https://login.microsoftonline.com). The tenant comes from GRAPH_TENANT_ID.",
        })
        .optional(),
    ),
    GRAPH_ENDPOINT: optional().pipe(
      httpsUrl("GRAPH_ENDPOINT", "Leave it unset to use the cloud's default, or set it to e.g. https://graph.microsoft.us.")
        .refine((v) => new URL(v).pathname === "/", {
          error: "must be a host only, without a version or path (e.g. https://graph.microsoft.com).",
        })
        .optional(),
    ),
    KEY_VAULT_URL: optional().pipe(
      httpsUrl("KEY_VAULT_URL", VAULT_FIX).superRefine((value, ctx) => {
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          return;
        }
        const host = url.hostname.toLowerCase();
        if (!isLoopbackHost(host) && !KEY_VAULT_SUFFIXES.some((suffix) => host.endsWith(`.${suffix}`))) {
          ctx.addIssue({
            code: "custom",
            message: `host "${host}" is not a Key Vault host (expected *.${KEY_VAULT_SUFFIXES.join(", *.")}). ${VAULT_FIX}`,
          });
        }
        if (url.pathname !== "/") {
          ctx.addIssue({ code: "custom", message: `must be the vault URI without a path (got ${url.pathname}). ${VAULT_FIX}` });
        }
      }).optional(),
    ),
    KEY_VAULT_CERTIFICATE_NAME: optional().pipe(z.string().regex(CERTIFICATE_NAME, { error: `is not a valid Key Vault certificate name. ${CERT_FIX}` }).optional()),
    GRAPH_CREDENTIAL: optional().pipe(
      z.enum(GRAPH_CREDENTIAL_MODES, { error: `must be one of ${GRAPH_CREDENTIAL_MODES.join(", ")} (default keyVaultCertificate). See docs/credentials.md.` }).default("keyVaultCertificate"),
    ),
    KEY_VAULT_SECRET_NAME: optional().pipe(z.string().regex(CERTIFICATE_NAME, { error: `is not a valid Key Vault secret name. ${SECRET_NAME_FIX}` }).optional()),
    SNAPSHOT_STORAGE: optional(),
    SNAPSHOT_STORAGE__tableServiceUri: optional(),
    USER_SYNC_SCHEDULE: optional().superRefine((value, ctx) => {
      if (value === undefined || /^%[A-Za-z0-9_]+%$/.test(value)) return;
      try {
        CronExpressionParser.parse(value, { strict: false });
        if (value.split(/\s+/).length !== 6) throw new Error("expected 6 fields");
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is not a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}), e.g. "0 0 * * * *" for hourly: ${(error as Error).message}.`,
        });
      }
    }),
    USER_SYNC_FULL_SCHEDULE: optional().superRefine((value, ctx) => {
      if (value === undefined) return;
      try {
        if (value.split(/\s+/).length !== 6) throw new Error("expected 6 fields");
        CronExpressionParser.parse(value, { strict: false, tz: "UTC" });
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is not a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}, UTC), e.g. "${DEFAULT_FULL_SCHEDULE}" for daily at 02:00 (default): ${(error as Error).message}.`,
        });
      }
    }),
    GRAPH_AZURE_REGION: optional().pipe(
      z
        .string()
        .regex(/^([a-z][a-z0-9]{1,40}|TryAutoDetect)$/, {
          error: 'must be an Azure region name in lower case (e.g. "westeurope", the region the function runs in) or "TryAutoDetect"; leave it unset for the global token endpoint.',
        })
        .optional(),
    ),
    GRAPH_MAX_RETRIES: wholeNumber(0, 20, GRAPH_REQUEST_DEFAULTS.maxRetries, "retries per Graph request"),
    GRAPH_MAX_RETRY_WAIT_SECONDS: duration("GRAPH_MAX_RETRY_WAIT_SECONDS", "one Graph request may wait in total between retries"),
    GRAPH_REQUEST_TIMEOUT_SECONDS: duration("GRAPH_REQUEST_TIMEOUT_SECONDS", "before an unanswered Graph request is abandoned and retried"),
    USER_SYNC_MAX_RUN_MINUTES: duration("USER_SYNC_MAX_RUN_MINUTES", "a run may take before it stops at a checkpoint for the next run to continue; 0 for no limit, 8 on the Consumption plan (10-minute limit)"),
    USER_SYNC_RESUME_WITHIN_MINUTES: duration("USER_SYNC_RESUME_WITHIN_MINUTES", "after its last checkpoint that a stopped run may still be resumed; 0 never resumes"),
    USER_SYNC_LEASE_SECONDS: duration("USER_SYNC_LEASE_SECONDS", "the writer lease of a run that stopped renewing it (its process died) blocks the next run"),
    SNAPSHOT_RETENTION_COUNT: wholeNumber(1, 100000, RETENTION_DEFAULTS.count, "newest complete snapshots to keep (the latest is always kept)"),
    SNAPSHOT_RETENTION_DAYS: duration("SNAPSHOT_RETENTION_DAYS", "a complete snapshot is kept even when it is not among the newest SNAPSHOT_RETENTION_COUNT; 0 keeps none by age"),
    SNAPSHOT_RETENTION_GRACE_MINUTES: duration("SNAPSHOT_RETENTION_GRACE_MINUTES", "a snapshot is kept after a newer one completed, so that readers that started on it can finish; 0 deletes it at once"),
    USER_SYNC_SELECT: optional().superRefine((value, ctx) => {
      if (value === undefined) return;
      const bad = value
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "" && !GRAPH_PROPERTY.test(p));
      if (bad.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `${bad.map((b) => `"${b}"`).join(", ")} ${bad.length === 1 ? "is not a" : "are not"} Graph property name${bad.length === 1 ? "" : "s"}. List user properties separated by commas, e.g. id,userPrincipalName,displayName.`,
        });
      }
      // Properties /users cannot list (501) or that are not properties at all (userProperties.ts).
      for (const problem of selectProblems(value.split(","))) ctx.addIssue({ code: "custom", message: problem });
    }),
  });

function tableEndpointOfConnectionString(connectionString: string): { endpoint: string } | { problem: string } {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(";")) {
    if (segment.trim() === "") continue;
    const eq = segment.indexOf("=");
    if (eq <= 0) return { problem: "is not a connection string (expected Name=value pairs separated by semicolons)." };
    parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    const proxy = parts.get("developmentstorageproxyuri");
    return { endpoint: `${proxy ?? "http://127.0.0.1"}:10002/devstoreaccount1` };
  }
  const explicit = parts.get("tableendpoint");
  const account = parts.get("accountname");
  const hasKey = parts.has("accountkey") || parts.has("sharedaccesssignature");
  if (!hasKey) {
    return { problem: "has neither AccountKey nor SharedAccessSignature. Use the connection string from the storage account's Access keys page, or switch to SNAPSHOT_STORAGE__tableServiceUri for an identity-based connection." };
  }
  if (explicit) {
    try {
      new URL(explicit);
    } catch {
      return { problem: "has a TableEndpoint that is not a URL." };
    }
    return { endpoint: explicit.replace(/\/+$/, "") };
  }
  if (!account) return { problem: "has neither AccountName nor TableEndpoint." };
  const protocol = parts.get("defaultendpointsprotocol") ?? "https";
  const suffix = parts.get("endpointsuffix") ?? "core.windows.net";
  return { endpoint: `${protocol}://${account}.table.${suffix}` };
}

function settingsError(lines: string[], names: string[], conflict = false): UserSyncError {
  const code = conflict ? "conflicting_settings" : lines.length === 1 && lines[0]!.includes("is missing") ? "missing_setting" : "invalid_setting";
  const message =
    lines.length === 1
      ? `Invalid configuration: ${lines[0]}`
      : `Invalid configuration (${lines.length} problems):\n${lines.map((l) => `  - ${l}`).join("\n")}`;
  return new UserSyncError(code, message, { details: { settings: names.join(",") } });
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
    tenantId: env2.GRAPH_TENANT_ID,
    clientId: env2.GRAPH_CLIENT_ID.toLowerCase(),
    cloud: env2.GRAPH_CLOUD,
    authorityHost: (env2.GRAPH_AUTHORITY_HOST ?? cloud.authorityHost).replace(/\/+$/, ""),
    graphEndpoint: (env2.GRAPH_ENDPOINT ?? cloud.graphEndpoint).replace(/\/+$/, ""),
    credential: credentialResult.credential,
    storage,
    select,
    fullSchedule: env2.USER_SYNC_FULL_SCHEDULE ?? DEFAULT_FULL_SCHEDULE,
    ...(env2.GRAPH_AZURE_REGION ? { azureRegion: env2.GRAPH_AZURE_REGION } : {}),
    graphRequests: {
      maxRetries: env2.GRAPH_MAX_RETRIES,
      maxRetryWaitInMs: env2.GRAPH_MAX_RETRY_WAIT_SECONDS * 1000,
      requestTimeoutInMs: env2.GRAPH_REQUEST_TIMEOUT_SECONDS * 1000,
    },
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
  return settings;
}

function readStorage(env: Record<string, string | undefined>): { storage?: SnapshotStorageSettings; lines: string[]; names: string[] } {
  const lines: string[] = [];
  const names: string[] = [];
  let storage: SnapshotStorageSettings | undefined;
  const connectionString = env.SNAPSHOT_STORAGE?.trim();
  const tableServiceUri = env.SNAPSHOT_STORAGE__tableServiceUri?.trim();
  if (connectionString && tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push("SNAPSHOT_STORAGE and SNAPSHOT_STORAGE__tableServiceUri are both set; they are exclusive. Keep one: the connection string, or the identity-based table service URI.");
  } else if (!connectionString && !tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push(`SNAPSHOT_STORAGE is missing. ${STORAGE_FIX}`);
  } else if (connectionString) {
    const result = tableEndpointOfConnectionString(connectionString);
    if ("problem" in result) {
      names.push("SNAPSHOT_STORAGE");
      lines.push(`SNAPSHOT_STORAGE ${result.problem}`);
    } else {
      storage = {
        kind: "connectionString",
        connectionString,
        tableEndpoint: result.endpoint,
        allowInsecureConnection: result.endpoint.startsWith("http:"),
      };
    }
  } else if (tableServiceUri) {
    let url: URL | undefined;
    try {
      url = new URL(tableServiceUri);
    } catch {
      names.push("SNAPSHOT_STORAGE__tableServiceUri");
      lines.push(`SNAPSHOT_STORAGE__tableServiceUri "${tableServiceUri}" is not a URL. ${STORAGE_FIX}`);
    }
    if (url) {
      if (url.protocol !== "https:") {
        // Azure SDKs never send a bearer token over plain http, so an identity connection must be https.
        names.push("SNAPSHOT_STORAGE__tableServiceUri");
        lines.push(`SNAPSHOT_STORAGE__tableServiceUri must use https: identity-based connections send a token, which is never sent over http. For Azurite, use SNAPSHOT_STORAGE=UseDevelopmentStorage=true instead. ${STORAGE_FIX}`);
      } else if (url.search) {
        names.push("SNAPSHOT_STORAGE__tableServiceUri");
        lines.push("SNAPSHOT_STORAGE__tableServiceUri must not carry a query string (a SAS): identity-based connections authenticate with DefaultAzureCredential. Put a SAS connection string in SNAPSHOT_STORAGE instead.");
      } else {
        storage = { kind: "identity", tableServiceUri: tableServiceUri.replace(/\/+$/, ""), allowInsecureConnection: false };
      }
    }
  }
  // Read here, not in the schema: the read-only commands need it with the storage settings alone.
  const timeout = duration("STORAGE_REQUEST_TIMEOUT_SECONDS", "before an unanswered table request is abandoned and retried").safeParse(env.STORAGE_REQUEST_TIMEOUT_SECONDS);
  if (!timeout.success) {
    names.push("STORAGE_REQUEST_TIMEOUT_SECONDS");
    lines.push(`STORAGE_REQUEST_TIMEOUT_SECONDS ${timeout.error.issues[0]?.message ?? "is not valid."}`);
  } else if (storage) {
    storage.requestTimeoutInMs = timeout.data * 1000;
  }
  if (storage && storage.requestTimeoutInMs === undefined) storage.requestTimeoutInMs = STORAGE_DEFAULTS.requestTimeoutSeconds * 1000;
  return storage ? { storage, lines, names } : { lines, names };
}

/**
 * Reads only the snapshot storage settings: what the command line's read-only commands (runs,
 * export) need. Fails the same way loadSettings does.
 */
export function loadStorageSettings(env: Record<string, string | undefined> = process.env): SnapshotStorageSettings {
  const result = readStorage(env);
  if (result.storage === undefined) throw settingsError(result.lines, result.names);
  return result.storage;
}

// ---------------------------------------------------------------------------------------------
// Graph credential modes (GRAPH_CREDENTIAL). The modes are exclusive: a setting that belongs to
// another mode is an error, so that a leftover certificate name or secret never silently decides
// how the app signs in. docs/credentials.md explains which mode to choose.

/** A secret read from the environment: it prints as "[redacted]" wherever it ends up by mistake. */
export class SecretText {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself. Only the token request may use it; never log it. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "SecretText([redacted])";
  }
}

export type GraphCredentialSettings =
  /** A Key Vault certificate whose private key is read (exportable) and given to MSAL. */
  | { mode: "keyVaultCertificate"; keyVaultUrl: string; certificateName: string }
  /** A Key Vault certificate whose key signs the client assertion inside Key Vault (never read). */
  | { mode: "keyVaultSignedAssertion"; keyVaultUrl: string; certificateName: string }
  /** The function's managed identity token (audience `tokenExchangeAudience`) is the client assertion. */
  | { mode: "managedIdentityFederation"; tokenExchangeAudience: string }
  /** A client secret kept in a Key Vault secret. */
  | { mode: "clientSecret"; source: "keyVault"; keyVaultUrl: string; secretName: string }
  /** A client secret in GRAPH_CLIENT_SECRET: local development only. */
  | { mode: "clientSecret"; source: "environment"; clientSecret: SecretText };

const CREDENTIAL_FIX = "See docs/credentials.md for the settings each GRAPH_CREDENTIAL mode takes.";
const CERTIFICATE_MODES = "keyVaultCertificate or keyVaultSignedAssertion";

function readCredential(
  env: Record<string, string | undefined>,
  parsedMode: GraphCredentialMode | undefined,
): { credential?: GraphCredentialSettings; lines: string[]; names: string[]; conflicts: number } {
  const lines: string[] = [];
  const names: string[] = [];
  let conflicts = 0;
  const value = (name: SettingName): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const rawMode = value("GRAPH_CREDENTIAL") ?? "keyVaultCertificate";
  // An unknown mode is reported by the schema; nothing else can be checked without a mode.
  if (!(GRAPH_CREDENTIAL_MODES as readonly string[]).includes(rawMode)) return { lines, names, conflicts };
  const mode = parsedMode ?? (rawMode as GraphCredentialMode);
  const modeText = value("GRAPH_CREDENTIAL") === undefined ? "GRAPH_CREDENTIAL=keyVaultCertificate (the default)" : `GRAPH_CREDENTIAL=${mode}`;

  const missing = (name: SettingName, why: string, fix: string): void => {
    names.push(name);
    lines.push(`${name} is missing. ${modeText} ${why}. ${fix}`);
  };
  const conflict = (name: SettingName, why: string): void => {
    names.push(name);
    conflicts++;
    lines.push(`${name} is set, but ${modeText} ${why}. The credential modes are exclusive: remove ${name}, or change GRAPH_CREDENTIAL. ${CREDENTIAL_FIX}`);
  };

  const keyVaultUrl = value("KEY_VAULT_URL")?.replace(/\/+$/, "");
  const certificateName = value("KEY_VAULT_CERTIFICATE_NAME");
  const secretName = value("KEY_VAULT_SECRET_NAME");
  // Read from env directly, never through a message: its value must not reach an error text.
  const clientSecret = env.GRAPH_CLIENT_SECRET === undefined || env.GRAPH_CLIENT_SECRET.trim() === "" ? undefined : env.GRAPH_CLIENT_SECRET.trim();

  switch (mode) {
    case "keyVaultCertificate":
    case "keyVaultSignedAssertion": {
      const what = mode === "keyVaultCertificate" ? "reads the certificate and its private key from Key Vault" : "signs with the key of a Key Vault certificate";
      if (keyVaultUrl === undefined) missing("KEY_VAULT_URL", what, VAULT_FIX);
      if (certificateName === undefined) missing("KEY_VAULT_CERTIFICATE_NAME", what, CERT_FIX);
      if (secretName !== undefined) conflict("KEY_VAULT_SECRET_NAME", "signs in with a certificate, not a client secret (KEY_VAULT_SECRET_NAME belongs to GRAPH_CREDENTIAL=clientSecret)");
      if (clientSecret !== undefined) conflict("GRAPH_CLIENT_SECRET", "signs in with a certificate, not a client secret (GRAPH_CLIENT_SECRET belongs to GRAPH_CREDENTIAL=clientSecret, for local development)");
      if (lines.length > 0 || keyVaultUrl === undefined || certificateName === undefined) return { lines, names, conflicts };
      return { credential: { mode, keyVaultUrl, certificateName }, lines, names, conflicts };
    }
    case "managedIdentityFederation": {
      const why = "uses the function's managed identity and reads nothing from Key Vault";
      if (keyVaultUrl !== undefined) conflict("KEY_VAULT_URL", why);
      if (certificateName !== undefined) conflict("KEY_VAULT_CERTIFICATE_NAME", `${why} (KEY_VAULT_CERTIFICATE_NAME belongs to ${CERTIFICATE_MODES})`);
      if (secretName !== undefined) conflict("KEY_VAULT_SECRET_NAME", `${why} (KEY_VAULT_SECRET_NAME belongs to clientSecret)`);
      if (clientSecret !== undefined) conflict("GRAPH_CLIENT_SECRET", `${why} and needs no client secret`);
      if (lines.length > 0) return { lines, names, conflicts };
      const cloud = value("GRAPH_CLOUD") ?? "AzurePublic";
      const endpoints = (CLOUDS as Record<string, (typeof CLOUDS)[CloudName] | undefined>)[cloud];
      // An unknown cloud is reported by the schema.
      if (endpoints === undefined) return { lines, names, conflicts };
      return { credential: { mode, tokenExchangeAudience: endpoints.tokenExchangeAudience }, lines, names, conflicts };
    }
    case "clientSecret": {
      if (certificateName !== undefined) conflict("KEY_VAULT_CERTIFICATE_NAME", `signs in with a client secret, not a certificate (KEY_VAULT_CERTIFICATE_NAME belongs to ${CERTIFICATE_MODES})`);
      if (clientSecret !== undefined) {
        if (secretName !== undefined) conflict("GRAPH_CLIENT_SECRET", "also names a Key Vault secret in KEY_VAULT_SECRET_NAME; keep one source of the secret (Key Vault in Azure, GRAPH_CLIENT_SECRET only for local development)");
        else if (keyVaultUrl !== undefined) conflict("KEY_VAULT_URL", "takes the secret from GRAPH_CLIENT_SECRET and reads nothing from Key Vault (to read the secret from Key Vault instead, set KEY_VAULT_SECRET_NAME and remove GRAPH_CLIENT_SECRET)");
        if (lines.length > 0) return { lines, names, conflicts };
        return { credential: { mode, source: "environment", clientSecret: new SecretText(clientSecret) }, lines, names, conflicts };
      }
      const why = "reads the client secret from a Key Vault secret";
      if (keyVaultUrl === undefined) missing("KEY_VAULT_URL", why, VAULT_FIX);
      if (secretName === undefined) missing("KEY_VAULT_SECRET_NAME", why, `${SECRET_NAME_FIX} For local development only, GRAPH_CLIENT_SECRET may hold the secret instead.`);
      if (lines.length > 0 || keyVaultUrl === undefined || secretName === undefined) return { lines, names, conflicts };
      return { credential: { mode, source: "keyVault", keyVaultUrl, secretName }, lines, names, conflicts };
    }
  }
}
