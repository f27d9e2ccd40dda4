/**
 * Every default of the product's settings, in one place (README's settings table states the same),
 * and the range of every duration setting.
 */

/** USER_SYNC_TENANT_MODE, GRAPH_CLOUD and GRAPH_CREDENTIAL when unset. */
export const DEFAULT_TENANT_MODE = "single";
export const DEFAULT_GRAPH_CLOUD = "AzurePublic";
export const DEFAULT_GRAPH_CREDENTIAL = "keyVaultCertificate";
/** USER_SYNC_TRACE_SAMPLING_RATIO when unset: every run's trace is kept. */
export const DEFAULT_TRACE_SAMPLING_RATIO = 1;

/** USER_SYNC_FULL_SCHEDULE when unset: daily at 02:00 UTC, well inside the 7-day delta token lifetime. */
export const DEFAULT_FULL_SCHEDULE = "0 0 2 * * *";

export const RUN_CONTROL_DEFAULTS = { resumeWithinMinutes: 60, leaseSeconds: 300 } as const;
export const RETENTION_DEFAULTS = { count: 10, days: 0, graceMinutes: 60 } as const;
export const GRAPH_REQUEST_DEFAULTS = { maxRetries: 6, maxRetryWaitSeconds: 300, requestTimeoutSeconds: 60 } as const;
export const STORAGE_DEFAULTS = { requestTimeoutSeconds: 30 } as const;
/**
 * The analytics lane (docs/analytics.md): its container when USER_SYNC_EXPORT_CONTAINER is unset,
 * rows per Parquet row group (one staged block each) of a set read back and of the users' set
 * streamed from the round's pages (smaller: its row group is held during the round, at the round's
 * peak memory; docs/performance.md, "The analytics lane's cost"), row groups per part file, and how
 * many promoted snapshots waiting for the lane one run writes (the newest first; older ones follow
 * on later runs).
 */
export const EXPORT_LANE_DEFAULTS = { container: "user-sync-analytics", rowsPerGroup: 10_000, streamedRowsPerGroup: 2_500, groupsPerPart: 50, snapshotsPerRun: 3 } as const;
/** Each attempt of a request to an identity endpoint (Entra, the managed identity, Key Vault); see src/credentials/identityRequests.ts. */
export const IDENTITY_REQUEST_DEFAULTS = { requestTimeoutSeconds: 20 } as const;

/** USER_SYNC_GROUPS when unset: users only (existing deployments are unchanged). */
export const DEFAULT_GROUPS = false;

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

/** The group properties the groups reader selects (with `members`) on `/groups/delta` (docs/groups.md). */
export const DEFAULT_GROUP_SELECT: readonly string[] = [
  "id",
  "displayName",
  "description",
  "mail",
  "mailNickname",
  "mailEnabled",
  "securityEnabled",
  "groupTypes",
  "createdDateTime",
  "visibility",
];

/**
 * The longest delay a Node.js timer can wait (2^31 - 1 ms, about 24.8 days): a longer one fires at
 * once. Every duration the product waits on is capped below it.
 */
export const MAX_TIMER_DELAY_IN_MS = 2 ** 31 - 1;

/**
 * A duration setting: whole `unit`s from `min` to `max`; `timer` when the product waits on it with a
 * timer. `fallsBackTo`: unset (or `fallback`, 0) takes the value of that other setting, which is then
 * the setting's default.
 */
export interface DurationRange {
  min: number;
  max: number;
  fallback: number;
  fallsBackTo?: string;
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
  // Applied by infra/main.bicep's lifecycle policy (laneRetentionText), never by the code: unset or 0 follows SNAPSHOT_RETENTION_DAYS.
  USER_SYNC_EXPORT_RETENTION_DAYS: { min: 0, max: 3650, fallback: 0, fallsBackTo: "SNAPSHOT_RETENTION_DAYS", unit: "days", unitInMs: 86_400_000, timer: false },
  SNAPSHOT_RETENTION_GRACE_MINUTES: { min: 0, max: 10080, fallback: RETENTION_DEFAULTS.graceMinutes, unit: "minutes", unitInMs: 60_000, timer: false },
  STORAGE_REQUEST_TIMEOUT_SECONDS: { min: 1, max: 600, fallback: STORAGE_DEFAULTS.requestTimeoutSeconds, unit: "seconds", unitInMs: 1000, timer: true },
  IDENTITY_REQUEST_TIMEOUT_SECONDS: { min: 1, max: 300, fallback: IDENTITY_REQUEST_DEFAULTS.requestTimeoutSeconds, unit: "seconds", unitInMs: 1000, timer: true },
} as const satisfies Record<string, DurationRange>;

/**
 * `tenants list` (and the fleet report) call a tenant's mirror stale past this age: 3 hours, as the
 * stale alert's default (infra/modules/monitoring.bicep, staleMirrorAfterHours) with the hourly schedule.
 */
export const STALE_MIRROR_AFTER_IN_MS = 3 * 60 * 60_000;

/** The app's certificate is warned about this many days before it expires, as the alert's default (infra/modules/monitoring.bicep, certificateExpiryWarningDays). */
export const CERTIFICATE_EXPIRY_WARNING_IN_DAYS = 30;

// The defaults of the parts, for a caller (a test, a tool, a command) that gives none. Where a part
// stands for a setting, its default is the setting's (above), in the unit the part takes.

/** The Graph request client's retries (GRAPH_MAX_RETRIES, GRAPH_MAX_RETRY_WAIT_SECONDS) and backoff: from 1 s, at most 30 s apart. */
export const DEFAULT_GRAPH_RETRY = {
  maxRetries: GRAPH_REQUEST_DEFAULTS.maxRetries,
  maxRetryWaitInMs: GRAPH_REQUEST_DEFAULTS.maxRetryWaitSeconds * 1000,
  retryDelayInMs: 1_000,
  maxRetryDelayInMs: 30_000,
} as const;
/** GRAPH_REQUEST_TIMEOUT_SECONDS, in ms. */
export const DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS = GRAPH_REQUEST_DEFAULTS.requestTimeoutSeconds * 1000;
/** Graph's pacing (src/graph/graphPolicies.ts): pause from 80% of a throttling limit, 1 s there, at most one 10-second window. */
export const DEFAULT_PACING = { threshold: 0.8, delayInMs: 1_000, maxDelayInMs: 10_000 } as const;

/** STORAGE_REQUEST_TIMEOUT_SECONDS, in ms. */
export const DEFAULT_STORAGE_REQUEST_TIMEOUT_IN_MS = STORAGE_DEFAULTS.requestTimeoutSeconds * 1000;
/** IDENTITY_REQUEST_TIMEOUT_SECONDS, in ms. */
export const DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS = IDENTITY_REQUEST_DEFAULTS.requestTimeoutSeconds * 1000;
/** How long a value read from Key Vault is used before it is read again, unless told otherwise. */
export const DEFAULT_KEY_VAULT_MAX_AGE_IN_MS = 12 * 60 * 60 * 1000;
/** The lifetime of a client assertion Key Vault signs (keyVaultSignedAssertion). */
export const DEFAULT_ASSERTION_LIFETIME_IN_MS = 10 * 60 * 1000;

/** The writer lease store's lease (USER_SYNC_LEASE_SECONDS), in ms. */
export const DEFAULT_LEASE_DURATION_IN_MS = RUN_CONTROL_DEFAULTS.leaseSeconds * 1000;
/** A stopped run is resumed only while its last checkpoint is younger than this (USER_SYNC_RESUME_WITHIN_MINUTES), in ms. */
export const DEFAULT_RESUME_WITHIN_IN_MS = RUN_CONTROL_DEFAULTS.resumeWithinMinutes * 60_000;

/** Single-tenant mode's table-name prefix (a registered tenant's is tenantTablePrefix, src/tenants/tenantId.ts). */
export const DEFAULT_TABLE_PREFIX = "entraUser";
/** The snapshot ports' layout: partitions of a snapshot, and transactions written at once. */
export const DEFAULT_PARTITION_COUNT = 16;
export const DEFAULT_WRITE_CONCURRENCY = 16;

/** host.json `extensions.queues.visibilityTimeout` (the wait before a failed tenant message reappears). */
export const RETRY_DELAY_IN_SECONDS = 30;
/**
 * How long a received tenant message stays invisible before its keeper extends it (every third of
 * it): also how long the message of a worker that died waits before another worker sees it.
 */
export const MESSAGE_VISIBILITY_IN_SECONDS = 120;
/**
 * The longest a worker's free slot waits for others to free up before the worker receives messages
 * for it (src/fanout/receivePacing.ts): the worker receives when half its slots are free, or after
 * this wait, so that a receive brings several messages instead of one per run that ends.
 */
export const RECEIVE_BATCH_WAIT_IN_MS = 1000;
/** The continuation of a paused tenant run is queued with this delay. */
export const DEFAULT_CONTINUATION_DELAY_IN_SECONDS = 30;

/** How long resolving a tenant's domain to its id (OpenID metadata, `tenants add contoso.com`) may take. */
export const DEFAULT_TENANT_RESOLVE_TIMEOUT_IN_MS = 15_000;

/** `report --out` when not given. */
export const DEFAULT_REPORT_FILE = "report.html";
