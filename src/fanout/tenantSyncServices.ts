/**
 * What the fan-out needs of multi-tenant mode's composition (src/app/tenantServices.ts, on the
 * floor above: docs/architecture.md): the registry, the tenant queue, and a tenant's sync service
 * for the length of its run.
 */
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
  /** Runs `work` with the tenant's sync service, which lives while runs of the tenant are under way. */
  withTenantSyncService<T>(tenantId: string, work: (service: UserSyncService) => Promise<T>, options?: WithTenantSyncServiceOptions): Promise<T>;
}
