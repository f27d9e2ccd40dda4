/**
 * The errors of reading groups and memberships, in one place (the shape of graphErrors.ts and
 * mirrorErrors.ts): what went wrong (`GroupProblem`), the facts each message names, its code and its
 * fix, and one factory (`createGroupError`). A permission problem's message names the permission and
 * where an administrator grants it; messages carry status lines and page numbers, never a token.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

type Details = UserSyncError["details"];

/** The least-privilege application permission that lists groups and their members. */
export const GROUP_MEMBER_READ_ALL = "GroupMember.Read.All";

/** The facts each problem's message names. */
export interface GroupProblemFacts {
  /** The Graph token does not carry GroupMember.Read.All (nor a broader role): checked before any groups request. */
  permissionMissing: { adminConsentUrl: string | undefined; roles: readonly string[] };
  /** Graph answered 403 to a groups request; `said` is what Graph said ("403 Authorization_RequestDenied: …"). */
  forbidden: { adminConsentUrl: string | undefined; said: string };
  /** A saved groups delta token Graph no longer accepts; `why` says what Graph answered. */
  deltaTokenInvalid: { why: string; said: string };
  /** A `/groups/delta` page that is not what Graph sends. */
  badDeltaPage: { pageNumber: number; what: string };
}

export type GroupProblem = keyof GroupProblemFacts;

const grant = (adminConsentUrl: string | undefined) =>
  `The app registration needs the Microsoft Graph application permission ${GROUP_MEMBER_READ_ALL} with admin consent (Group.Read.All or Directory.Read.All also cover it); ` +
  `deploy infra/entra with groups=true, or${adminConsentUrl ? ` have an administrator grant it at ${adminConsentUrl}` : " have an administrator grant it in the Entra admin center"}. ` +
  "New roles reach the app with its next token (up to an hour after consent).";

/** `details.permission` names the permission, and `details.adminConsentUrl` where it is granted. */
const permissionDetails = (adminConsentUrl: string | undefined): Details => ({ permission: GROUP_MEMBER_READ_ALL, ...(adminConsentUrl ? { adminConsentUrl } : {}) });

/** Each problem's code, message and details. */
export const GroupProblems: { [P in GroupProblem]: { code: UserSyncErrorCode; message: (facts: GroupProblemFacts[P]) => string; details?: (facts: GroupProblemFacts[P]) => Details } } = {
  permissionMissing: {
    code: "graph_permission_missing",
    message: (f) =>
      `The Graph token carries no permission to read groups and their members (its roles: ${f.roles.length > 0 ? f.roles.join(", ") : "none"}), so the groups part did not run. ${grant(f.adminConsentUrl)}`,
    details: (f) => permissionDetails(f.adminConsentUrl),
  },
  forbidden: {
    code: "graph_forbidden",
    message: (f) => `Microsoft Graph refused to list groups and their members (${f.said}). ${grant(f.adminConsentUrl)}`,
    details: (f) => permissionDetails(f.adminConsentUrl),
  },
  deltaTokenInvalid: {
    code: "graph_delta_token_invalid",
    message: (f) => `Microsoft Graph ${f.why} for groups (${f.said}). A full round of groups is needed.`,
  },
  badDeltaPage: {
    code: "graph_bad_response",
    message: (f) => `Graph groups delta page ${f.pageNumber} ${f.what}; the run stopped and its delta link was not saved.`,
    details: (f) => ({ pageNumber: f.pageNumber }),
  },
};

/** `options.details` adds to the problem's own details (which win: the permission is always named); `options.cause` is kept. */
export function createGroupError<P extends GroupProblem>(problem: P, facts: GroupProblemFacts[P], options: { cause?: unknown; details?: Details } = {}): UserSyncError {
  const entry = GroupProblems[problem] as { code: UserSyncErrorCode; message: (facts: GroupProblemFacts[P]) => string; details?: (facts: GroupProblemFacts[P]) => Details };
  const details = { ...options.details, ...entry.details?.(facts) };
  return new UserSyncError(entry.code, entry.message(facts), { details, ...(options.cause === undefined ? {} : { cause: options.cause }) });
}
