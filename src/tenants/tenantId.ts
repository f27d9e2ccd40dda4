/**
 * Tenant ids as the registry keeps them: a directory (tenant) GUID, lower case, or a verified
 * domain (resolved to its GUID when the tenant is added). The multi-tenant authorities `common`,
 * `organizations` and `consumers` are refused: client credentials need one tenant.
 */
import { createTenantError } from "./tenantErrors.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MULTI_TENANT_AUTHORITIES = new Set(["common", "organizations", "consumers"]);

export type ParsedTenantId = { kind: "guid"; tenantId: string } | { kind: "domain"; domain: string };

export function isTenantGuid(value: string): boolean {
  return GUID.test(value);
}

/** Validates a tenant id given by a person; throws `invalid_tenant_id` naming what is wrong. */
export function parseTenantId(value: string): ParsedTenantId {
  const text = value.trim();
  if (text === "") throw createTenantError("invalidTenantId", "The tenant id is empty.");
  if (MULTI_TENANT_AUTHORITIES.has(text.toLowerCase())) {
    throw createTenantError("invalidTenantId", `"${text}" is a multi-tenant authority, but app-only tokens are requested from one tenant.`);
  }
  if (GUID.test(text)) return { kind: "guid", tenantId: text.toLowerCase() };
  if (DOMAIN.test(text)) return { kind: "domain", domain: text.toLowerCase() };
  throw createTenantError("invalidTenantId", `"${text}" is neither a GUID nor a domain name.`);
}

/** The tenant's GUID; throws `invalid_tenant_id` for anything else (a domain must be resolved first). */
export function assertTenantGuid(value: string): string {
  const parsed = parseTenantId(value);
  if (parsed.kind !== "guid") {
    throw createTenantError("invalidTenantId", `"${value}" is a domain; registered tenants are named by their GUID (see: entra-user-sync tenants list).`);
  }
  return parsed.tenantId;
}

/**
 * The table prefix of a tenant's stores: `t` and the GUID's 32 hex digits (tables
 * `t<hex>Snapshots`, `t<hex>Runs`, `t<hex>Mirror`, `t<hex>MirrorChanges`, all within Azure's 63
 * characters). Deterministic, so that the prefix never needs to be stored to be found.
 */
export function tenantTablePrefix(tenantId: string): string {
  return `t${assertTenantGuid(tenantId).replace(/-/g, "")}`;
}
