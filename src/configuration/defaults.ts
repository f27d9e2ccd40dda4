/**
 * Every default of the product's settings, in one place (README's settings table states the same),
 * and the range of every duration setting.
 */

/** USER_SYNC_FULL_SCHEDULE when unset: daily at 02:00 UTC, well inside the 7-day delta token lifetime. */
export const DEFAULT_FULL_SCHEDULE = "0 0 2 * * *";

export const RUN_CONTROL_DEFAULTS = { resumeWithinMinutes: 60, leaseSeconds: 300 } as const;
export const RETENTION_DEFAULTS = { count: 10, days: 0, graceMinutes: 60 } as const;
export const GRAPH_REQUEST_DEFAULTS = { maxRetries: 6, maxRetryWaitSeconds: 300, requestTimeoutSeconds: 60 } as const;
export const STORAGE_DEFAULTS = { requestTimeoutSeconds: 30 } as const;
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
  IDENTITY_REQUEST_TIMEOUT_SECONDS: { min: 1, max: 300, fallback: IDENTITY_REQUEST_DEFAULTS.requestTimeoutSeconds, unit: "seconds", unitInMs: 1000, timer: true },
} as const satisfies Record<string, DurationRange>;

/**
 * `tenants list` (and the fleet report) call a tenant's mirror stale past this age: 3 hours, as the
 * stale alert's default (infra/modules/monitoring.bicep, staleMirrorAfterHours) with the hourly schedule.
 */
export const STALE_MIRROR_AFTER_IN_MS = 3 * 60 * 60_000;
