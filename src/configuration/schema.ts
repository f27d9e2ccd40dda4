/**
 * The settings' schema (zod): each setting's format, with a message that names the fix. Storage
 * connection strings and the credential mode's combinations are checked apart (storageSettings.ts,
 * credentialSettings.ts).
 */
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { isLoopbackHost } from "../shared/loopback.js";
import { CLOUD_NAMES, CLOUDS } from "./clouds.js";
import { DEFAULT_FULL_SCHEDULE, DEFAULT_GRAPH_CLOUD, DEFAULT_GRAPH_CREDENTIAL, DEFAULT_GROUPS, DEFAULT_TENANT_MODE, DURATION_SETTINGS, GRAPH_REQUEST_DEFAULTS, RETENTION_DEFAULTS } from "./defaults.js";
import { selectProblems, unknownPropertyProblems } from "./userProperties.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MULTI_TENANT_AUTHORITIES = new Set(["common", "organizations", "consumers"]);
const KEY_VAULT_SUFFIXES = [...new Set(Object.values(CLOUDS).map((c) => c.keyVaultSuffix))];
const CERTIFICATE_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const GRAPH_PROPERTY = /^[A-Za-z][A-Za-z0-9_]*$/;

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
export function duration(name: keyof typeof DURATION_SETTINGS, what: string) {
  const { min, max, fallback, unit } = DURATION_SETTINGS[name];
  return wholeNumber(min, max, fallback, `${unit} ${what}`);
}

/** USER_SYNC_TENANT_MODE: one tenant (GRAPH_TENANT_ID) or the tenant registry's tenants (docs/tenants.md). */
export const TENANT_MODES = ["single", "multi"] as const;
export type TenantMode = (typeof TENANT_MODES)[number];

export const TENANT_FIX =
  "Set it to the directory (tenant) ID, a GUID shown on the app registration's Overview page, or a verified domain such as contoso.onmicrosoft.com.";
const CLIENT_FIX = "Set it to the application (client) ID, the GUID shown on the app registration's Overview page.";
export const VAULT_FIX = "Set it to the vault URI shown on the Key Vault's Overview page, for example https://my-vault.vault.azure.net.";
export const CERT_FIX = "Set it to the name of the certificate in Key Vault (letters, digits and dashes).";
/** GRAPH_CREDENTIAL: how the app proves its identity to Microsoft Entra (docs/credentials.md). */
export const GRAPH_CREDENTIAL_MODES = ["keyVaultCertificate", "keyVaultSignedAssertion", "managedIdentityFederation", "clientSecret"] as const;
export type GraphCredentialMode = (typeof GRAPH_CREDENTIAL_MODES)[number];
export const SECRET_NAME_FIX = "Set it to the name of the Key Vault secret that holds the app registration's client secret (letters, digits and dashes).";

export const schema = z
  .object({
    // Required in single-tenant mode only (checked by loadSettings, which knows the mode).
    GRAPH_TENANT_ID: optional().superRefine((value, ctx) => {
      if (value === undefined) return;
      if (MULTI_TENANT_AUTHORITIES.has(value.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is a multi-tenant authority, but client credentials (app-only tokens) need one tenant. ${TENANT_FIX}`,
        });
      } else if (!GUID.test(value) && !DOMAIN.test(value)) {
        ctx.addIssue({ code: "custom", message: `"${value}" is neither a GUID nor a domain name. ${TENANT_FIX}` });
      }
    }),
    USER_SYNC_TENANT_MODE: optional().pipe(
      z
        .enum(TENANT_MODES, {
          error: `must be single (one tenant: GRAPH_TENANT_ID, the default) or multi (the tenants of the tenant registry; see docs/tenants.md).`,
        })
        .default(DEFAULT_TENANT_MODE),
    ),
    GRAPH_CLIENT_ID: required(CLIENT_FIX).regex(GUID, { error: `is not a GUID. ${CLIENT_FIX}` }),
    GRAPH_CLOUD: optional().pipe(
      z.enum(CLOUD_NAMES, { error: `must be one of ${CLOUD_NAMES.join(", ")} (default ${DEFAULT_GRAPH_CLOUD}).` }).default(DEFAULT_GRAPH_CLOUD),
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
      z.enum(GRAPH_CREDENTIAL_MODES, { error: `must be one of ${GRAPH_CREDENTIAL_MODES.join(", ")} (default ${DEFAULT_GRAPH_CREDENTIAL}). See docs/credentials.md.` }).default(DEFAULT_GRAPH_CREDENTIAL),
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
    IDENTITY_REQUEST_TIMEOUT_SECONDS: duration("IDENTITY_REQUEST_TIMEOUT_SECONDS", "before an unanswered request to Microsoft Entra, the managed identity or Key Vault is abandoned and retried"),
    USER_SYNC_MAX_RUN_MINUTES: duration("USER_SYNC_MAX_RUN_MINUTES", "a run may take before it stops at a checkpoint for the next run to continue; 0 for no limit, 8 on the Consumption plan (10-minute limit)"),
    USER_SYNC_RESUME_WITHIN_MINUTES: duration("USER_SYNC_RESUME_WITHIN_MINUTES", "after its last checkpoint that a stopped run may still be resumed; 0 never resumes"),
    USER_SYNC_LEASE_SECONDS: duration("USER_SYNC_LEASE_SECONDS", "the writer lease of a run that stopped renewing it (its process died) blocks the next run"),
    SNAPSHOT_RETENTION_COUNT: wholeNumber(1, 100000, RETENTION_DEFAULTS.count, "newest complete snapshots to keep (the latest is always kept)"),
    SNAPSHOT_RETENTION_DAYS: duration("SNAPSHOT_RETENTION_DAYS", "a complete snapshot is kept even when it is not among the newest SNAPSHOT_RETENTION_COUNT; 0 keeps none by age"),
    USER_SYNC_EXPORT_RETENTION_DAYS: duration(
      "USER_SYNC_EXPORT_RETENTION_DAYS",
      "the analytics lane's files are kept (the storage account's lifecycle policy deletes older ones); 0 or unset follows SNAPSHOT_RETENTION_DAYS, and keeps them when that is 0 too",
    ),
    SNAPSHOT_RETENTION_GRACE_MINUTES: duration("SNAPSHOT_RETENTION_GRACE_MINUTES", "a snapshot is kept after a newer one completed, so that readers that started on it can finish; 0 deletes it at once"),
    USER_SYNC_GROUPS: optional().pipe(
      z
        .enum(["true", "false"], {
          error: (issue) =>
            `must be true (also sync groups, memberships and managers; needs GroupMember.Read.All, docs/groups.md) or false (users only, the default); got "${String(issue.input)}".`,
        })
        .optional()
        .transform((v) => (v === undefined ? DEFAULT_GROUPS : v === "true")),
    ),
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
      // Names Graph does not know: checked here, before any request, so that a typo costs nothing (no paused snapshot is given up for it).
      for (const problem of unknownPropertyProblems(value.split(","))) ctx.addIssue({ code: "custom", message: problem });
    }),
  });
