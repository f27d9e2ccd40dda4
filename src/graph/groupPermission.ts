/**
 * Whether the groups part of a run may run: the app's Graph token must carry GroupMember.Read.All,
 * or a broader application role that includes it (Group.Read.All, Directory.Read.All). Checked from
 * the token's `roles` claim before any groups request, so that a missing grant fails the groups
 * part with a message naming the permission and the tenant's admin-consent URL, and the users part
 * still runs.
 */
import type { OperationOptions } from "../shared/abort.js";
import type { UserSyncError } from "../shared/errors.js";
import { createGroupError, GROUP_MEMBER_READ_ALL } from "./groupErrors.js";
import type { GraphTokenProvider } from "./graphRequestClient.js";

/** Application roles of Microsoft Graph that let the app list groups and their members: the least privilege first. */
export const GROUP_READ_ROLES: readonly string[] = [GROUP_MEMBER_READ_ALL, "Group.Read.All", "Directory.Read.All"];

/** The role of `roles` (a token's `roles` claim) that allows reading groups and members, or undefined. */
export function groupReadRoleOf(roles: unknown): string | undefined {
  if (!Array.isArray(roles)) return undefined;
  return GROUP_READ_ROLES.find((role) => roles.includes(role));
}

/**
 * Undefined when `roles` allows the groups part; otherwise UserSyncError `graph_permission_missing`
 * naming GroupMember.Read.All and `adminConsentUrl`.
 */
export function groupPermissionProblem(roles: unknown, adminConsentUrl: string | undefined): UserSyncError | undefined {
  if (groupReadRoleOf(roles) !== undefined) return undefined;
  const granted = Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [];
  return createGroupError("permissionMissing", { adminConsentUrl, roles: granted });
}

/**
 * The `roles` claim of an access token, read without verifying it (Graph verifies it; this only
 * decides whether to ask). Undefined when the token is not a readable JWT. The token itself is
 * never kept or reported.
 */
export function rolesOfAccessToken(token: string): unknown {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { roles?: unknown }).roles;
  } catch {
    return undefined;
  }
}

export interface AssertGroupPermissionOptions extends OperationOptions {
  /** The tenant's admin-consent URL (src/credentials/consent.ts: adminConsentUrlFor). */
  adminConsentUrl: string | undefined;
}

/**
 * Gets the Graph token (from the provider's cache when it has one) and throws
 * `graph_permission_missing` unless its roles allow reading groups and members. Returns the role
 * that does. A token that is not a readable JWT is let through: Graph's own 403 (`graph_forbidden`)
 * then says the same.
 */
export async function assertGroupPermission(tokens: GraphTokenProvider, options: AssertGroupPermissionOptions): Promise<string | undefined> {
  const { token } = await tokens.getToken({ abortSignal: options.abortSignal });
  const roles = rolesOfAccessToken(token);
  if (roles === undefined && token.split(".").length !== 3) return undefined;
  const problem = groupPermissionProblem(roles ?? [], options.adminConsentUrl);
  if (problem) throw problem;
  return groupReadRoleOf(roles);
}
