/**
 * USER_SYNC_TENANT_MODE alone, for the commands that need only storage (runs, export, diff,
 * tenants): the same check and message as loadSettings.
 */
import { TENANT_MODES, type TenantMode } from "./schema.js";
import { settingsError } from "./settingsError.js";
import { DEFAULT_TENANT_MODE } from "./defaults.js";

export function loadTenantMode(env: Record<string, string | undefined> = process.env): TenantMode {
  const raw = env.USER_SYNC_TENANT_MODE?.trim();
  if (raw === undefined || raw === "") return DEFAULT_TENANT_MODE;
  if ((TENANT_MODES as readonly string[]).includes(raw)) return raw as TenantMode;
  throw settingsError(
    [`USER_SYNC_TENANT_MODE must be single (one tenant: GRAPH_TENANT_ID, the default) or multi (the tenants of the tenant registry; see docs/tenants.md).`],
    ["USER_SYNC_TENANT_MODE"],
  );
}
