/**
 * The errors of the tenant registry and of tenant ids, in the shape of every area's (as msal-node
 * does): a table of code, message and details keyed by what went wrong, and one factory.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

type Details = UserSyncError["details"];

export type TenantErrorCode =
  | "invalidTenantId"
  | "tenantNotRegistered"
  | "tenantAlreadyRegistered"
  | "tenantDomainUnresolved"
  | "tenantModeMismatch"
  | "tenantRecordContended"
  | "tenantBusy"
  | "tenantRemoved";

/** The facts each message names: what was found (`detail`, the attempts for tenantRecordContended) and the tenant. */
export interface TenantErrorFacts {
  detail: string;
  tenantId?: string | undefined;
}

const TENANT_ID_FIX =
  "Give the customer's directory (tenant) ID, a GUID shown on the tenant's Overview page in the Entra admin center, or one of its verified domains such as contoso.onmicrosoft.com.";

/** Each failure's code, message and details. */
export const TenantFailures: Record<TenantErrorCode, { code: UserSyncErrorCode; message: (facts: TenantErrorFacts) => string; details?: (facts: TenantErrorFacts) => Details }> = {
  invalidTenantId: { code: "invalid_tenant_id", message: ({ detail }) => `${detail} ${TENANT_ID_FIX}` },
  tenantNotRegistered: {
    code: "tenant_not_registered",
    message: ({ detail: tenantId }) => `Tenant ${tenantId} is not in the tenant registry. Add it with: entra-user-sync tenants add ${tenantId} (see docs/tenants.md).`,
  },
  tenantAlreadyRegistered: {
    code: "tenant_already_registered",
    message: ({ detail: tenantId }) => `Tenant ${tenantId} is already in the tenant registry (see: entra-user-sync tenants show ${tenantId}).`,
  },
  tenantDomainUnresolved: { code: "tenant_domain_unresolved", message: ({ detail }) => `${detail} Check the domain's spelling and GRAPH_CLOUD, or give the tenant's GUID instead.` },
  tenantModeMismatch: { code: "tenant_mode_mismatch", message: ({ detail }) => `${detail} See docs/tenants.md.`, details: () => ({ settings: "USER_SYNC_TENANT_MODE" }) },
  tenantRecordContended: {
    code: "tenant_record_contended",
    message: ({ detail: attempts, tenantId }) =>
      `The registry row of tenant ${tenantId} changed between reading and writing it, ${attempts} times in a row: other schedulers or workers were updating it at the same moment. ` +
      "Each update is fenced with the row's ETag, so nothing was overwritten and this one was not applied; the tenant is tried again (its queue message reappears, or the next timer tick queues it). " +
      "If this keeps happening, look for what else writes the registry table (entraUserTenants) in this storage account: another deployment or worker pointed at it, or a script rewriting its rows (docs/tenants.md, Limits).",
  },
  tenantBusy: {
    code: "tenant_busy",
    message: ({ detail, tenantId }) =>
      `A run of tenant ${tenantId} is under way (${detail}), so none of its data was deleted. ` +
      `The tenant is no longer in the registry, so no new run of it starts. Delete its data once the run has ended (entra-user-sync tenants show ${tenantId}, or runs --tenant ${tenantId}): entra-user-sync tenants remove ${tenantId} --delete-data`,
  },
  tenantRemoved: {
    code: "tenant_removed",
    message: ({ detail, tenantId }) =>
      `Tenant ${tenantId} was removed from the tenant registry (tenants remove) while this run was starting, so the run wrote nothing of it${detail ? ` (${detail})` : ""}. ` +
      `Nothing needs to be done; to sync it again, add it back: entra-user-sync tenants add ${tenantId}`,
  },
};

/** `details.tenantId` names the tenant when there is one. */
export function createTenantError(code: TenantErrorCode, detail: string, tenantId?: string): UserSyncError {
  const entry = TenantFailures[code];
  const facts = { detail, tenantId };
  return new UserSyncError(entry.code, entry.message(facts), { details: { ...(tenantId ? { tenantId } : {}), ...entry.details?.(facts) } });
}
