/**
 * What the fan-out needs of multi-tenant mode's composition (src/app/tenantServices.ts, on the
 * floor above: docs/architecture.md): the registry, the tenant queue, and a tenant's sync service
 * with the clients it was built over, for the length of its run.
 */
import type { AppClients } from "../sync/syncClients.js";
import type { UserSyncService } from "../sync/userSyncService.js";
import type { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import type { TenantQueueClient } from "./tenantQueue.js";

export interface WithTenantSyncServiceOptions {
  /**
   * The tenant's tables are known to exist (its registry row says its last run succeeded): its run
   * skips the table check even in a process that has not run it yet (`worker --once` per tick). A
   * run that fails leaves the next to check again; a lease table deleted meanwhile is created again
   * (UserSyncService).
   */
  tablesExist?: boolean;
}

export interface TenantSyncServices {
  readonly registry: TenantRegistryClient;
  /** The tenant queue (USER_SYNC_QUEUE); its settings are read on first use. */
  readonly queue: TenantQueueClient;
  /**
   * Runs `work` with the tenant's sync service, which lives while runs of the tenant are under way,
   * and the clients it was built over (the service keeps its own to itself): what the handler reads
   * of the tenant's stores besides the run (the lease's holder, the tenant's health, telemetry).
   */
  withTenantSyncService<T>(tenantId: string, work: (service: UserSyncService, clients: AppClients) => Promise<T>, options?: WithTenantSyncServiceOptions): Promise<T>;
}
