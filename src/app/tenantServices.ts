/**
 * Multi-tenant mode's composition (docs/tenants.md): the process-wide clients built once (the Azure
 * credential, the Key Vault certificate cache, one MSAL confidential client, one Graph connection
 * pool), and each tenant's sync service built for its run and let go after it. Runs of different
 * tenants may go on at once in one process: each run's logger lives in its own async context
 * (withRunLogger).
 *
 * Memory follows the tenants running, not the tenants served: a tenant's service (its pipelines,
 * stores and readers) lives while a run of that tenant is under way; between runs the process
 * keeps only the tenant's id, in a bounded set of tenants whose tables are known to exist (so a
 * later run does not check them again). Tokens stay in the shared MSAL cache.
 */
import { currentRunLogger, type Logger } from "../shared/logger.js";
import type { OperationOptions } from "../shared/abort.js";
import { UserSyncService } from "../sync/userSyncService.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { assertTenantGuid } from "../tenants/tenantId.js";
import type { TenantRegistryClient } from "../tenants/tenantRegistryClient.js";
import { loadQueueSettings } from "../configuration/queueSettings.js";
import { TenantQueueClient } from "../fanout/tenantQueue.js";
import type { TenantSyncServices, WithTenantSyncServiceOptions } from "../fanout/tenantSyncServices.js";
import type { AppClients } from "../sync/syncClients.js";
import { composeProcess, composeRegistry, composeTenant, type ProcessClients } from "./compose.js";
import type { ComposedSync } from "./syncService.js";

/**
 * Tenants whose tables a process remembers as created (least recently used first out): about a
 * hundred bytes each, so at most about a megabyte however many tenants a long-lived worker or host
 * instance serves. A forgotten tenant's next run checks its tables again (two requests).
 */
export const MAX_REMEMBERED_TENANTS = 10_000;

export interface TenantServicesOptions {
  /** Default MAX_REMEMBERED_TENANTS. */
  maxRememberedTenants?: number;
}

interface ActiveService {
  sync: ComposedSync;
  /** Runs of this tenant under way in this process (normally one: the tenant's lease admits one writer). */
  runs: number;
}

export class TenantServices implements TenantSyncServices {
  readonly process: ProcessClients;
  readonly registry: TenantRegistryClient;
  readonly #active = new Map<string, ActiveService>();
  /** Tenant ids whose tables exist, most recently used last. */
  readonly #tablesExist = new Set<string>();
  readonly #maxRemembered: number;
  readonly #env: Record<string, string | undefined>;
  #queue: TenantQueueClient | undefined;

  /** Validates every setting (before any network request); throws `tenant_mode_mismatch` in single-tenant mode. */
  constructor(env: Record<string, string | undefined> = process.env, logger: Logger = currentRunLogger, options: TenantServicesOptions = {}) {
    this.#env = env;
    this.#maxRemembered = options.maxRememberedTenants ?? MAX_REMEMBERED_TENANTS;
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

  /**
   * A sync service for the tenant, built now over the process-wide clients and not kept here (a
   * one-off command: `run --tenant`). It does not check the registry: see
   * getRegisteredTenantSyncService. The fan-out's runs use withTenantSyncService.
   */
  getTenantSyncService(tenantId: string): UserSyncService {
    return this.getTenantSync(tenantId).service;
  }

  /** getTenantSyncService's service, with the tenant's clients it was built over (the stores, the tokens, the settings). */
  getTenantSync(tenantId: string): ComposedSync {
    const id = assertTenantGuid(tenantId);
    return this.#active.get(id)?.sync ?? this.#build(id);
  }

  /** The tenant's sync service, once the registry says the tenant is registered (`tenant_not_registered` otherwise). */
  async getRegisteredTenantSyncService(tenantId: string, options: OperationOptions = {}): Promise<UserSyncService> {
    const id = assertTenantGuid(tenantId);
    const record = await this.registry.getTenant(id, options);
    if (record === undefined) throw createTenantError("tenantNotRegistered", id, id);
    return this.getTenantSyncService(id);
  }

  /**
   * Runs `work` with the tenant's sync service, which lives as long as runs of the tenant are under
   * way in this process (concurrent calls for one tenant share it), then is let go. Afterwards the
   * process remembers only that the tenant's tables exist; when `work` fails, it forgets that too
   * (its tables may be gone: `tenants remove --delete-data`), and the next run checks them.
   * `tablesExist`: the caller knows the tables exist (the registry says the tenant's last run
   * succeeded), so a process that has not run the tenant yet need not check them either.
   */
  async withTenantSyncService<T>(tenantId: string, work: (service: UserSyncService, clients: AppClients) => Promise<T>, options: WithTenantSyncServiceOptions = {}): Promise<T> {
    const id = assertTenantGuid(tenantId);
    let active = this.#active.get(id);
    if (active === undefined) {
      active = { sync: this.#build(id, options.tablesExist === true), runs: 0 };
      this.#active.set(id, active);
    }
    active.runs += 1;
    let failed = true;
    try {
      const result = await work(active.sync.service, active.sync.clients);
      failed = false;
      return result;
    } finally {
      active.runs -= 1;
      if (active.runs === 0) this.#active.delete(id);
      this.#tablesExist.delete(id);
      if (!failed && active.sync.service.tablesExist) this.#remember(id);
    }
  }

  /** Tenants whose services are alive now (their runs are under way). */
  get activeTenantCount(): number {
    return this.#active.size;
  }

  /** Tenants this process remembers as having their tables (bounded by maxRememberedTenants). */
  get rememberedTenantCount(): number {
    return this.#tablesExist.size;
  }

  /** Whether a run of the tenant would skip the table check. */
  knowsTablesOf(tenantId: string): boolean {
    return this.#tablesExist.has(assertTenantGuid(tenantId));
  }

  /** Forgets what the process knows of a tenant (after `tenants remove`): its next run checks its tables. */
  forget(tenantId: string): void {
    this.#tablesExist.delete(assertTenantGuid(tenantId));
  }

  #build(id: string, tablesExist = false): ComposedSync {
    const clients = composeTenant(this.process, id);
    return { service: new UserSyncService(clients, { tablesExist: tablesExist || this.#tablesExist.has(id) }), clients };
  }

  #remember(id: string): void {
    // Most recently used last; the oldest goes once there are too many.
    this.#tablesExist.add(id);
    if (this.#tablesExist.size > this.#maxRemembered) {
      const oldest = this.#tablesExist.values().next().value;
      if (oldest !== undefined) this.#tablesExist.delete(oldest);
    }
  }
}

let processTenantServices: TenantServices | undefined;

/** The process-wide TenantServices, created on first use (so that bad settings fail the first invocation, clearly). */
export function getTenantServices(): TenantServices {
  processTenantServices ??= new TenantServices();
  return processTenantServices;
}
