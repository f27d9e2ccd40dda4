/**
 * Every failure the product reports on purpose is a UserSyncError: a stable machine-readable
 * `code` (like msal-node's error codes) and a message that says what to fix.
 */
export type UserSyncErrorCode =
  // configuration
  | "missing_setting"
  | "invalid_setting"
  | "conflicting_settings"
  // credentials
  | "key_vault_access_denied"
  | "key_vault_not_found"
  | "key_vault_unavailable"
  | "no_azure_credential"
  | "certificate_unreadable"
  | "certificate_no_private_key"
  | "certificate_key_mismatch"
  | "certificate_expired"
  | "certificate_not_yet_valid"
  | "token_request_failed"
  | "token_endpoint_unreachable"
  /** An identity endpoint (Entra, the managed identity, Key Vault) did not answer within IDENTITY_REQUEST_TIMEOUT_SECONDS, retries included. */
  | "identity_endpoint_timeout"
  // graph
  | "graph_request_failed"
  | "graph_throttled"
  | "graph_forbidden"
  /** The Graph token lacks a permission a part of the run needs (GroupMember.Read.All for groups: src/graph/groupErrors.ts). */
  | "graph_permission_missing"
  | "graph_unauthorized"
  | "graph_bad_response"
  | "graph_untrusted_next_link"
  /** The saved delta token cannot be used (400 syncStateNotFound, 410 Gone): a full round is needed. */
  | "graph_delta_token_invalid"
  // storage
  | "storage_request_failed"
  | "snapshot_not_found"
  /** The live mirror has not completed its first round (export --current before any run). */
  | "mirror_not_ready"
  /** No run with that id (export --changes). */
  | "run_not_found"
  /** No groups or memberships are stored where the command looked (export --groups / --memberships): USER_SYNC_GROUPS was off, or no groups round has run. */
  | "group_data_not_found"
  /** A reader's source changed while it was read (retention, a concurrent writer): the output is not whole. */
  | "read_incomplete"
  | "user_not_storable"
  // run
  | "run_in_progress"
  | "run_aborted"
  | "lease_lost"
  // tenants (src/tenants/tenantErrors.ts)
  | "invalid_tenant_id"
  | "tenant_not_registered"
  | "tenant_already_registered"
  | "tenant_domain_unresolved"
  | "tenant_mode_mismatch"
  /** A tenant's registry row kept changing under its ETag-fenced updates (other schedulers or workers). */
  | "tenant_record_contended"
  | "tenant_busy"
  /** The tenant was removed from the registry while its run was starting: the run wrote nothing. */
  | "tenant_removed"
  /** The app has no service principal (no admin consent) in the tenant. */
  | "tenant_not_consented"
  // the analytics lane (src/lane/laneErrors.ts)
  /** The analytics lane could not write a set (its container, its permission, a conflicting manifest): the sync is not failed, the next run retries. */
  | "lane_write_failed";

export interface UserSyncErrorOptions {
  cause?: unknown;
  /** Extra, non-secret facts that help an operator (status code, request id, AADSTS code...). */
  details?: Record<string, string | number | boolean | undefined>;
}

export class UserSyncError extends Error {
  readonly code: UserSyncErrorCode;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(code: UserSyncErrorCode, message: string, options: UserSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UserSyncError";
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isUserSyncError(error: unknown, code?: UserSyncErrorCode): error is UserSyncError {
  return error instanceof UserSyncError && (code === undefined || error.code === code);
}

/** A one-line description of any thrown value, safe to log (see redact). */
export function describeError(error: unknown): string {
  if (error instanceof UserSyncError) return `${error.message} [${error.code}]`;
  if (error instanceof Error) return error.message;
  return String(error);
}
