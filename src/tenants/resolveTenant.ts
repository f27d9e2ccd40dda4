/**
 * Resolves a verified domain to its tenant's GUID, from the OpenID configuration the authority
 * publishes for it (`{authority host}/{domain}/v2.0/.well-known/openid-configuration`, whose
 * `issuer` is `{authority host}/{tenant GUID}/v2.0`). Used once, when a tenant is added by domain:
 * the registry keys every tenant by its GUID, so that a renamed or removed domain never orphans one.
 */
import { createTenantError } from "./tenantErrors.js";
import { isTenantGuid, parseTenantId } from "./tenantId.js";
import type { OperationOptions } from "../shared/abort.js";
import { DEFAULT_TENANT_RESOLVE_TIMEOUT_IN_MS } from "../configuration/defaults.js";

export interface ResolveTenantOptions extends OperationOptions {
  /** e.g. https://login.microsoftonline.com (the configured cloud's). */
  authorityHost: string;
  /** Default DEFAULT_TENANT_RESOLVE_TIMEOUT_IN_MS (15 s). */
  timeoutInMs?: number;
}

export interface ResolvedTenant {
  tenantId: string;
  /** The domain it was given by, if any. */
  domain?: string;
}

export async function resolveTenant(tenant: string, options: ResolveTenantOptions): Promise<ResolvedTenant> {
  const parsed = parseTenantId(tenant);
  if (parsed.kind === "guid") return { tenantId: parsed.tenantId };
  const host = options.authorityHost.replace(/\/+$/, "");
  const url = `${host}/${encodeURIComponent(parsed.domain)}/v2.0/.well-known/openid-configuration`;
  const signals = [AbortSignal.timeout(options.timeoutInMs ?? DEFAULT_TENANT_RESOLVE_TIMEOUT_IN_MS), ...(options.abortSignal ? [options.abortSignal] : [])];
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any(signals), headers: { accept: "application/json" } });
  } catch (error) {
    options.abortSignal?.throwIfAborted();
    throw createTenantError("tenantDomainUnresolved", `Could not read the OpenID configuration of ${parsed.domain} at ${host}: ${(error as Error).message}.`);
  }
  const body = (await response.json().catch(() => undefined)) as { issuer?: unknown; error_description?: unknown } | undefined;
  if (!response.ok) {
    const said = typeof body?.error_description === "string" ? ` ${body.error_description.split("\n")[0]!.slice(0, 300)}` : "";
    throw createTenantError("tenantDomainUnresolved", `${host} does not know the domain ${parsed.domain} (HTTP ${response.status}).${said}`);
  }
  const issuer = typeof body?.issuer === "string" ? body.issuer : "";
  const segment = /^https:\/\/[^/]+\/([^/]+)\/v2\.0\/?$/.exec(issuer)?.[1];
  if (segment === undefined || !isTenantGuid(segment)) {
    throw createTenantError("tenantDomainUnresolved", `The OpenID configuration of ${parsed.domain} at ${host} names no tenant GUID in its issuer.`);
  }
  return { tenantId: segment.toLowerCase(), domain: parsed.domain };
}
