/**
 * The tenant registry: one row per customer tenant in the `<prefix>Tenants` table of the storage
 * account that holds the snapshots (multi-tenant mode). A row says who the tenant is, and carries
 * the fan-out's markers (queued, running) and the outcome of its latest run. Every update is fenced
 * with the row's ETag, so that two schedulers or workers never both mark one tenant.
 */
import type { TokenCredential } from "@azure/identity";
import type { TableClient, TableEntityResult, TableServiceClientOptions } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import { storageError } from "../tables/storageErrors.js";
import { createTableClient } from "../tables/tableClient.js";
import { tenantsTableName } from "../kinds/tableNames.js";
import { checkedTablePrefix } from "../kinds/tablePrefix.js";
import { isStatusCode, queryEntities } from "../tables/tableStore.js";
import { createTenantError } from "./tenantErrors.js";
import { assertTenantGuid, tenantTablePrefix } from "./tenantId.js";
import type { OperationOptions } from "../shared/abort.js";

export interface TenantRegistryClientOptions {
  storage: TableStorageSettings;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential;
  /** The registry table is `<prefix>Tenants`. Default "entraUser". */
  tablePrefix?: string;
  clientOptions?: TableServiceClientOptions;
}

/** What the registry knows about one tenant. */
export interface TenantRecord {
  /** The tenant's GUID, lower case (the row key). */
  tenantId: string;
  /** A person's label for the tenant (`tenants add --name`). */
  name?: string;
  /** The verified domain the tenant was added by, when it was added by one. */
  domain?: string;
  /** Prefix of the tenant's own tables (derived from the id; see tenantTablePrefix). */
  tablePrefix: string;
  addedAt: Date;
  /** Set by the scheduler when it enqueues the tenant's message; cleared when a worker finishes. */
  queuedAt?: Date;
  /** Set by the worker that runs the tenant; cleared when it finishes. */
  runningSince?: Date;
  /** The occurrence of USER_SYNC_SCHEDULE the tenant was last queued for by `worker`'s schedule (kept: one message per occurrence, however many workers). */
  scheduledFor?: Date;
  /**
   * When the writer lease of the newest run that recorded its start or outcome here was taken: the
   * fence of the row's run state. A run whose lease is older (it lost it to a newer run) records
   * nothing (src/fanout/tenantRecords.ts).
   */
  leaseAcquiredAt?: Date;
  /** The latest run's outcome as the worker saw it: succeeded, paused, failed or poisoned. */
  lastOutcome?: string;
  lastOutcomeAt?: Date;
  /** Why the latest run failed (one line, no secrets). */
  lastError?: string;
  /** The latest failure's error code (src/telemetry/errorTypes.ts), e.g. tenant_not_consented; cleared by a success. */
  lastErrorCode?: string;
  /** When a run of the tenant last succeeded. */
  lastSuccessAt?: Date;
  /** Users in the tenant's latest complete snapshot, as of its latest run. */
  userCount?: number;
  /** When the tenant's mirror last completed a round, as of its latest run. */
  mirrorRoundAt?: Date;
  /** The row's ETag (for fenced updates). */
  etag?: string;
}

export interface AddTenantOptions extends OperationOptions {
  name?: string;
  domain?: string;
}

export interface UpdateTenantOptions extends OperationOptions {
  /** Only if the row is still this version (default: the record's own `etag`). */
  etag?: string;
}

export interface DeleteTenantOptions extends OperationOptions {
  etag?: string;
}

const PARTITION = "tenant";
const MAX_ERROR_LENGTH = 2000;

interface TenantEntity {
  partitionKey: string;
  rowKey: string;
  name?: string;
  domain?: string;
  tablePrefix: string;
  addedAt: Date;
  queuedAt?: Date;
  runningSince?: Date;
  scheduledFor?: Date;
  leaseAcquiredAt?: Date;
  lastOutcome?: string;
  lastOutcomeAt?: Date;
  lastError?: string;
  lastErrorCode?: string;
  lastSuccessAt?: Date;
  userCount?: number;
  mirrorRoundAt?: Date;
}

export class TenantRegistryClient {
  readonly tableName: string;
  readonly #table: TableClient;
  readonly #storage: TableStorageSettings;

  constructor(options: TenantRegistryClientOptions) {
    const prefix = checkedTablePrefix(options.tablePrefix);
    this.tableName = tenantsTableName(prefix);
    this.#storage = options.storage;
    this.#table = createTableClient({
      storage: options.storage,
      tableName: this.tableName,
      credential: options.credential,
      clientOptions: options.clientOptions,
      owner: "TenantRegistryClient",
    });
  }

  async createTableIfNotExists(options: OperationOptions = {}): Promise<void> {
    await this.#call("creating the tenant registry table", () => this.#table.createTable({ abortSignal: options.abortSignal }));
  }

  /** The tenant's record, or undefined when it is not registered. */
  async getTenant(tenantId: string, options: OperationOptions = {}): Promise<TenantRecord | undefined> {
    const id = assertTenantGuid(tenantId);
    try {
      const entity = await this.#table.getEntity<TenantEntity>(PARTITION, id, { abortSignal: options.abortSignal });
      return fromEntity(entity);
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.tableName, `reading tenant ${id}`, error);
    }
  }

  /** Every registered tenant, in tenant id order, one page in memory at a time. */
  async *listTenants(options: OperationOptions = {}): AsyncIterableIterator<TenantRecord> {
    const entities = queryEntities<TenantEntity>(this.#table, this.#storage, "listing the tenant registry", {
      filter: `PartitionKey eq '${PARTITION}'`,
      abortSignal: options.abortSignal,
      tableMayNotExist: true,
    });
    for await (const entity of entities) yield fromEntity(entity);
  }

  /** Registers a tenant; throws `tenant_already_registered` when it is. */
  async addTenant(tenantId: string, options: AddTenantOptions = {}): Promise<TenantRecord> {
    const id = assertTenantGuid(tenantId);
    const entity: TenantEntity = {
      partitionKey: PARTITION,
      rowKey: id,
      tablePrefix: tenantTablePrefix(id),
      addedAt: new Date(),
      ...(options.name ? { name: options.name } : {}),
      ...(options.domain ? { domain: options.domain } : {}),
    };
    try {
      const response = await this.#table.createEntity(entity, { abortSignal: options.abortSignal });
      return { ...fromEntity(entity), ...(response.etag ? { etag: response.etag } : {}) };
    } catch (error) {
      if (isStatusCode(error, 409)) throw createTenantError("tenantAlreadyRegistered", id, id);
      throw storageError(this.#storage, this.tableName, `adding tenant ${id}`, error);
    }
  }

  /**
   * Replaces the tenant's row with `record`, only if it is still the version `etag` names. Returns
   * the new record (new ETag), or undefined when the row changed or went away meanwhile (the caller
   * lost the race and must read again).
   */
  async updateTenant(record: TenantRecord, options: UpdateTenantOptions = {}): Promise<TenantRecord | undefined> {
    const id = assertTenantGuid(record.tenantId);
    const etag = options.etag ?? record.etag;
    const entity = toEntity(record);
    try {
      const response = await this.#table.updateEntity(entity, "Replace", { etag: etag ?? "*", abortSignal: options.abortSignal });
      return { ...fromEntity(entity), ...(response.etag ? { etag: response.etag } : {}) };
    } catch (error) {
      if (isStatusCode(error, 404, 412)) return undefined;
      throw storageError(this.#storage, this.tableName, `updating tenant ${id}`, error);
    }
  }

  /** Removes the tenant's row; true when it was there. */
  async deleteTenant(tenantId: string, options: DeleteTenantOptions = {}): Promise<boolean> {
    const id = assertTenantGuid(tenantId);
    try {
      await this.#table.deleteEntity(PARTITION, id, { etag: options.etag ?? "*", abortSignal: options.abortSignal });
      return true;
    } catch (error) {
      if (isStatusCode(error, 404)) return false;
      throw storageError(this.#storage, this.tableName, `removing tenant ${id}`, error);
    }
  }

  async #call<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw storageError(this.#storage, this.tableName, operation, error);
    }
  }
}

function fromEntity(entity: TenantEntity | TableEntityResult<TenantEntity>): TenantRecord {
  const etag = (entity as { etag?: string }).etag;
  return {
    tenantId: entity.rowKey,
    tablePrefix: entity.tablePrefix,
    addedAt: asDate(entity.addedAt)!,
    ...(entity.name ? { name: entity.name } : {}),
    ...(entity.domain ? { domain: entity.domain } : {}),
    ...(entity.queuedAt ? { queuedAt: asDate(entity.queuedAt)! } : {}),
    ...(entity.runningSince ? { runningSince: asDate(entity.runningSince)! } : {}),
    ...(entity.scheduledFor ? { scheduledFor: asDate(entity.scheduledFor)! } : {}),
    ...(entity.leaseAcquiredAt ? { leaseAcquiredAt: asDate(entity.leaseAcquiredAt)! } : {}),
    ...(entity.lastOutcome ? { lastOutcome: entity.lastOutcome } : {}),
    ...(entity.lastOutcomeAt ? { lastOutcomeAt: asDate(entity.lastOutcomeAt)! } : {}),
    ...(entity.lastError ? { lastError: entity.lastError } : {}),
    ...(entity.lastErrorCode ? { lastErrorCode: entity.lastErrorCode } : {}),
    ...(entity.lastSuccessAt ? { lastSuccessAt: asDate(entity.lastSuccessAt)! } : {}),
    ...(typeof entity.userCount === "number" ? { userCount: entity.userCount } : {}),
    ...(entity.mirrorRoundAt ? { mirrorRoundAt: asDate(entity.mirrorRoundAt)! } : {}),
    ...(etag ? { etag } : {}),
  };
}

function toEntity(record: TenantRecord): TenantEntity {
  return {
    partitionKey: PARTITION,
    rowKey: record.tenantId,
    tablePrefix: record.tablePrefix,
    addedAt: record.addedAt,
    ...(record.name ? { name: record.name } : {}),
    ...(record.domain ? { domain: record.domain } : {}),
    ...(record.queuedAt ? { queuedAt: record.queuedAt } : {}),
    ...(record.runningSince ? { runningSince: record.runningSince } : {}),
    ...(record.scheduledFor ? { scheduledFor: record.scheduledFor } : {}),
    ...(record.leaseAcquiredAt ? { leaseAcquiredAt: record.leaseAcquiredAt } : {}),
    ...(record.lastOutcome ? { lastOutcome: record.lastOutcome } : {}),
    ...(record.lastOutcomeAt ? { lastOutcomeAt: record.lastOutcomeAt } : {}),
    ...(record.lastError ? { lastError: record.lastError.slice(0, MAX_ERROR_LENGTH) } : {}),
    ...(record.lastErrorCode ? { lastErrorCode: record.lastErrorCode } : {}),
    ...(record.lastSuccessAt ? { lastSuccessAt: record.lastSuccessAt } : {}),
    ...(record.userCount !== undefined ? { userCount: record.userCount } : {}),
    ...(record.mirrorRoundAt ? { mirrorRoundAt: record.mirrorRoundAt } : {}),
  };
}

function asDate(value: unknown): Date | undefined {
  if (value === undefined || value === null) return undefined;
  return value instanceof Date ? value : new Date(String(value));
}
