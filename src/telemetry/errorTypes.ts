/**
 * The `error.type` dimension of a failed run: the product's error code (src/shared/errors.ts), a
 * short fixed list, never a message. Two failures that need a tenant's administrator are named as
 * such, so that an alert or a chart can tell them apart from the rest:
 *  - consent: the app has no service principal in the tenant (AADSTS7000229, or the tenant's
 *    consent was revoked): `tenant_not_consented`;
 *  - permission: Graph answers 403 (User.Read.All not granted, or revoked): `graph_forbidden`.
 */
import { isUserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

/** AADSTS codes that mean "no administrator of this tenant has consented to the app". */
const NO_CONSENT_AADSTS: ReadonlySet<number> = new Set([7000229]);

/** What an `error.type` value asks of whom: the alerts and the workbook name these. */
export const ERROR_TYPE_PROBLEMS = {
  consent: ["tenant_not_consented"],
  permission: ["graph_forbidden", "graph_unauthorized"],
} as const satisfies Record<string, readonly UserSyncErrorCode[]>;

/** Values besides the product's error codes: a stop (Ctrl+C, the host), and anything unexpected. */
export const OTHER_ERROR_TYPES = ["aborted", "error"] as const;

export function errorType(error: unknown): string {
  if (isUserSyncError(error)) {
    const aadsts = error.details.aadsts;
    if (error.code === "token_request_failed" && typeof aadsts === "number" && NO_CONSENT_AADSTS.has(aadsts)) return "tenant_not_consented";
    return error.code;
  }
  if ((error as { name?: string } | null)?.name === "AbortError") return "aborted";
  return "error";
}
