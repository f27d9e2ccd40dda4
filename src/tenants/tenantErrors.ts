/**
 * The errors of the tenant registry and of tenant ids, one factory per area (as msal-node does):
 * each code has one message that says what to fix.
 */
import { UserSyncError } from "../shared/errors.js";

export const TENANT_ERROR_CODES = {
  invalidTenantId: "invalid_tenant_id",
  tenantNotRegistered: "tenant_not_registered",
  tenantAlreadyRegistered: "tenant_already_registered",
  tenantDomainUnresolved: "tenant_domain_unresolved",
  tenantModeMismatch: "tenant_mode_mismatch",
  tenantRecordContended: "tenant_record_contended",
  tenantBusy: "tenant_busy",
  tenantRemoved: "tenant_removed",
} as const;

export type TenantErrorCode = keyof typeof TENANT_ERROR_CODES;

const TENANT_ID_FIX =
  "Give the customer's directory (tenant) ID, a GUID shown on the tenant's Overview page in the Entra admin center, or one of its verified domains such as contoso.onmicrosoft.com.";

const MESSAGES: Record<TenantErrorCode, (detail: string, tenantId?: string) => string> = {
  tenantBusy: (detail, tenantId) =>
    `A run of tenant ${tenantId} is under way (${detail}), so none of its data was deleted. ` +
    `The tenant is no longer in the registry, so no new run of it starts. Delete its data once the run has ended (entra-user-sync tenants show ${tenantId}, or runs --tenant ${tenantId}): entra-user-sync tenants remove ${tenantId} --delete-data`,
  tenantRemoved: (detail, tenantId) =>
    `Tenant ${tenantId} was removed from the tenant registry (tenants remove) while this run was starting, so the run wrote nothing of it${detail ? ` (${detail})` : ""}. ` +
    `Nothing needs to be done; to sync it again, add it back: entra-user-sync tenants add ${tenantId}`,
  invalidTenantId: (detail) => `${detail} ${TENANT_ID_FIX}`,
  tenantNotRegistered: (tenantId) => `Tenant ${tenantId} is not in the tenant registry. Add it with: entra-user-sync tenants add ${tenantId} (see docs/tenants.md).`,
  tenantAlreadyRegistered: (tenantId) => `Tenant ${tenantId} is already in the tenant registry (see: entra-user-sync tenants show ${tenantId}).`,
  tenantDomainUnresolved: (detail) => `${detail} Check the domain's spelling and GRAPH_CLOUD, or give the tenant's GUID instead.`,
  tenantModeMismatch: (detail) => `${detail} See docs/tenants.md.`,
  tenantRecordContended: (attempts, tenantId) =>
    `The registry row of tenant ${tenantId} changed between reading and writing it, ${attempts} times in a row: other schedulers or workers were updating it at the same moment. ` +
    "Each update is fenced with the row's ETag, so nothing was overwritten and this one was not applied; the tenant is tried again (its queue message reappears, or the next timer tick queues it). " +
    "If this keeps happening, look for what else writes the registry table (entraUserTenants) in this storage account: another deployment or worker pointed at it, or a script rewriting its rows (docs/tenants.md, Limits).",
};

/** `details.tenantId` names the tenant when there is one. */
export function createTenantError(code: TenantErrorCode, detail: string, tenantId?: string): UserSyncError {
  const settings = code === "tenantModeMismatch" ? { settings: "USER_SYNC_TENANT_MODE" } : {};
  return new UserSyncError(TENANT_ERROR_CODES[code], MESSAGES[code](detail, tenantId), { details: { ...(tenantId ? { tenantId } : {}), ...settings } });
}
