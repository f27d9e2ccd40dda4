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
} as const;

export type TenantErrorCode = keyof typeof TENANT_ERROR_CODES;

const TENANT_ID_FIX =
  "Give the customer's directory (tenant) ID, a GUID shown on the tenant's Overview page in the Entra admin center, or one of its verified domains such as contoso.onmicrosoft.com.";

const MESSAGES: Record<TenantErrorCode, (detail: string) => string> = {
  invalidTenantId: (detail) => `${detail} ${TENANT_ID_FIX}`,
  tenantNotRegistered: (tenantId) => `Tenant ${tenantId} is not in the tenant registry. Add it with: entra-user-sync tenants add ${tenantId} (see docs/tenants.md).`,
  tenantAlreadyRegistered: (tenantId) => `Tenant ${tenantId} is already in the tenant registry (see: entra-user-sync tenants show ${tenantId}).`,
  tenantDomainUnresolved: (detail) => `${detail} Check the domain's spelling and GRAPH_CLOUD, or give the tenant's GUID instead.`,
  tenantModeMismatch: (detail) => `${detail} See docs/tenants.md.`,
};

/** `details.tenantId` names the tenant when there is one. */
export function createTenantError(code: TenantErrorCode, detail: string, tenantId?: string): UserSyncError {
  const settings = code === "tenantModeMismatch" ? { settings: "USER_SYNC_TENANT_MODE" } : {};
  return new UserSyncError(TENANT_ERROR_CODES[code], MESSAGES[code](detail), { details: { ...(tenantId ? { tenantId } : {}), ...settings } });
}
