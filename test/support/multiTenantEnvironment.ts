/**
 * Multi-tenant mode over a test world (syncEnvironment.ts): its settings in process, and tenants
 * registered with the registry table and the queues created.
 */
import type { TenantServices } from "../../src/app/tenantServices.js";
import type { SyncEnvironment } from "./syncEnvironment.js";

/**
 * The world's settings in multi-tenant mode (USER_SYNC_TENANT_MODE=multi, no GRAPH_TENANT_ID), then
 * `extra`; exported into process.env as well (GRAPH_TENANT_ID removed there too), for in-process
 * SDK clients.
 */
export function useMultiTenantInProcess(world: SyncEnvironment, extra: Record<string, string> = {}): Record<string, string> {
  const { GRAPH_TENANT_ID: _single, ...settings } = world.env;
  const env = { ...settings, USER_SYNC_TENANT_MODE: "multi", ...extra };
  Object.assign(process.env, env);
  delete process.env.GRAPH_TENANT_ID;
  return env;
}

/** Creates the registry table and the tenant queues when missing, then adds `tenantIds` to the registry. */
export async function registerTenants(services: TenantServices, tenantIds: readonly string[]): Promise<void> {
  await services.registry.createTableIfNotExists();
  await services.queue.createQueuesIfNotExist();
  for (const tenantId of tenantIds) await services.registry.addTenant(tenantId);
}
