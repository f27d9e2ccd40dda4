/**
 * Multi-tenant mode's composition (docs/tenants.md): the process-wide clients built once (the Azure
 * credential, the Key Vault certificate cache, one MSAL confidential client), and each tenant's
 * sync service built on first use and kept for the life of the process (its Graph request stage,
 * its tokens, its tables). Runs of different tenants may go on at once in one process: each run's
 * logger lives in its own async context (withRunLogger).
 */
import { currentRunLogger, type Logger } from "../shared/logger.js";
import { UserSyncService } from "../sync/userSyncService.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { assertTenantGuid } from "../tenants/tenantId.js";
import type { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import { loadQueueSettings } from "../configuration/queueSettings.js";
import { TenantQueueClient } from "../fanout/tenantQueue.js";
import { composeProcess, composeRegistry, composeTenant, type ProcessClients } from "./compose.js";

/**
 * Tenants whose services are kept at once (least recently used first out): a long-lived worker or
 * host instance serving thousands of tenants keeps bounded memory. An evicted tenant's service is
 * rebuilt on its next message (its tables are then checked again; tokens come from the shared
 * MSAL cache).
 */
export const MAX_CACHED_TENANT_SERVICES = 64;

export class TenantServices {
  readonly process: ProcessClients;
  readonly registry: TenantRegistryClient;
  readonly #services = new Map<string, UserSyncService>();
  readonly #env: Record<string, string | undefined>;
  #queue: TenantQueueClient | undefined;

  /** Validates every setting (before any network request); throws `tenant_mode_mismatch` in single-tenant mode. */
  constructor(env: Record<string, string | undefined> = process.env, logger: Logger = currentRunLogger) {
    this.#env = env;
    this.process = composeProcess(env, logger);
    if (this.process.settings.tenantMode !== "multi") {
      throw createTenantError("tenantModeMismatch", "USER_SYNC_TENANT_MODE is single (the default): this deployment syncs GRAPH_TENANT_ID only and has no tenant registry. Set USER_SYNC_TENANT_MODE=multi to sync the registry's tenants.");
    }
    this.registry = composeRegistry(this.process.settings.storage, this.process.credential);
  }

  /**
   * The tenant queue (USER_SYNC_QUEUE), built on first use: `run --tenant` needs no queue, the
   * scheduler and the worker read it before anything else (so its settings fail first).
   */
  get queue(): TenantQueueClient {
    this.#queue ??= new TenantQueueClient({ queue: loadQueueSettings(this.#env), credential: this.process.credential });
    return this.#queue;
  }

  /** The tenant's sync service (built once per process). It does not check the registry: see getRegisteredTenantSyncService. */
  getTenantSyncService(tenantId: string): UserSyncService {
    const id = assertTenantGuid(tenantId);
    let service = this.#services.get(id);
    if (service === undefined) {
      service = new UserSyncService(process.env, composeTenant(this.process, id));
    }
    // Most recently used last; the oldest goes once there are too many.
    this.#services.delete(id);
    this.#services.set(id, service);
    if (this.#services.size > MAX_CACHED_TENANT_SERVICES) {
      const oldest = this.#services.keys().next().value;
      if (oldest !== undefined) this.#services.delete(oldest);
    }
    return service;
  }

  /** The tenant's sync service, once the registry says the tenant is registered (`tenant_not_registered` otherwise). */
  async getRegisteredTenantSyncService(tenantId: string, options: { abortSignal?: AbortSignal } = {}): Promise<UserSyncService> {
    const id = assertTenantGuid(tenantId);
    const record = await this.registry.getTenant(id, options);
    if (record === undefined) throw createTenantError("tenantNotRegistered", id, id);
    return this.getTenantSyncService(id);
  }

  /** Forgets a tenant's service (after `tenants remove`). */
  forget(tenantId: string): void {
    this.#services.delete(assertTenantGuid(tenantId));
  }
}

let processTenantServices: TenantServices | undefined;

/** The process-wide TenantServices, created on first use (so that bad settings fail the first invocation, clearly). */
export function getTenantServices(): TenantServices {
  processTenantServices ??= new TenantServices();
  return processTenantServices;
}
