/**
 * The errors of reading groups and memberships, one factory for the area (as tenantErrors.ts does):
 * each code has one message that names the permission and where an administrator grants it.
 */
import { UserSyncError } from "../shared/errors.js";

/** The least-privilege application permission that lists groups and their members. */
export const GROUP_MEMBER_READ_ALL = "GroupMember.Read.All";

export const GROUP_ERROR_CODES = {
  /** The Graph token does not carry GroupMember.Read.All (nor a broader role): checked before any groups request. */
  permissionMissing: "graph_permission_missing",
  /** Graph answered 403 to a groups request. */
  forbidden: "graph_forbidden",
} as const;

export type GroupErrorCode = keyof typeof GROUP_ERROR_CODES;

export interface GroupErrorFacts {
  /** The tenant's admin-consent URL (src/credentials/consent.ts). */
  adminConsentUrl?: string | undefined;
  /** permissionMissing: the roles the token carries (never the token). */
  roles?: readonly string[];
  /** forbidden: what Graph said ("403 Authorization_RequestDenied: …"). */
  said?: string;
  details?: Record<string, string | number | undefined>;
}

const grant = (facts: GroupErrorFacts) =>
  `The app registration needs the Microsoft Graph application permission ${GROUP_MEMBER_READ_ALL} with admin consent (Group.Read.All or Directory.Read.All also cover it); ` +
  `deploy infra/entra with groups=true, or${facts.adminConsentUrl ? ` have an administrator grant it at ${facts.adminConsentUrl}` : " have an administrator grant it in the Entra admin center"}. ` +
  "New roles reach the app with its next token (up to an hour after consent).";

const MESSAGES: Record<GroupErrorCode, (facts: GroupErrorFacts) => string> = {
  permissionMissing: (facts) =>
    `The Graph token carries no permission to read groups and their members (its roles: ${facts.roles && facts.roles.length > 0 ? facts.roles.join(", ") : "none"}), so the groups part did not run. ${grant(facts)}`,
  forbidden: (facts) => `Microsoft Graph refused to list groups and their members (${facts.said ?? "403"}). ${grant(facts)}`,
};

/** The error of `code`; `details.permission` names the permission. */
export function createGroupError(code: GroupErrorCode, facts: GroupErrorFacts = {}): UserSyncError {
  return new UserSyncError(GROUP_ERROR_CODES[code], MESSAGES[code](facts), {
    details: { ...facts.details, permission: GROUP_MEMBER_READ_ALL, ...(facts.adminConsentUrl ? { adminConsentUrl: facts.adminConsentUrl } : {}) },
  });
}
