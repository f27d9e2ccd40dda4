/**
 * The writer lease in storage: one entity (`runs`/`lease`), created or taken over when expired,
 * and only ever replaced or deleted with If-Match of the holder's last ETag. See docs/storage.md.
 */
import { randomUUID } from "node:crypto";
import type { TableClient, TableEntityResult } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import { isUserSyncError, UserSyncError } from "../shared/errors.js";
import { newRunId } from "../tables/keys.js";
import { storageError } from "../tables/storageErrors.js";
import { isStatusCode } from "../tables/tableStore.js";
import { decodeLease, LEASE_ROW, RUNS_PARTITION, type LeaseEntity, type LeaseInfo, type SyncTrigger } from "./runRecords.js";
import { deadLocalHolder, localHolder } from "./leaseHolder.js";
import { WriterLease } from "./writerLease.js";
import { createLeaseLostError } from "../tables/leaseErrors.js";
import type { OperationOptions } from "../shared/abort.js";
import { DEFAULT_LEASE_DURATION_IN_MS } from "../configuration/defaults.js";


export interface AcquireLeaseOptions extends OperationOptions {
  trigger: SyncTrigger;
  /** How long the lease lasts without renewal. Default 5 minutes. */
  leaseDurationInMs?: number;
}

/** A create of the lease entity: the lease it wrote (held once `created`, or once the entity read back carries `writeId`). */
interface CreateAttempt {
  created: boolean;
  lease: WriterLease;
  writeId: string;
  expiresAt: Date;
  sentAt: number;
}

/** The lease entity's ETag when its last write carried `writeId` (a write of ours that was applied), else undefined. */
function etagIfWrittenBy(entity: TableEntityResult<LeaseEntity> | undefined, writeId: string): string | undefined {
  return entity !== undefined && entity.writeId === writeId ? entity.etag : undefined;
}

export class LeaseStore {
  readonly #table: TableClient;
  readonly #storage: TableStorageSettings;

  constructor(table: TableClient, storage: TableStorageSettings) {
    this.#table = table;
    this.#storage = storage;
  }

  /**
   * Takes the writer lease, or throws `run_in_progress` (reading and writing nothing else) when
   * another holder's lease has not expired. An expired lease, or one whose holder is a process of
   * this machine that no longer exists (leaseHolder.ts), is taken over with its ETag, so of two
   * contenders exactly one wins.
   */
  async acquire(options: AcquireLeaseOptions): Promise<WriterLease> {
    const durationInMs = options.leaseDurationInMs ?? DEFAULT_LEASE_DURATION_IN_MS;
    if (!Number.isFinite(durationInMs) || durationInMs < 1000) {
      throw new UserSyncError("invalid_setting", `The lease duration ${durationInMs} ms is too short: use at least 1 second.`);
    }
    const abortSignal = options.abortSignal;
    const operationOptions = { abortSignal };
    const owner = `${newRunId().slice(-6)}${Math.random().toString(16).slice(2, 10)}`;
    // Most runs find no lease (the last holder released it): it is created without a read first.
    const attempt = await this.#create(owner, options.trigger, durationInMs, abortSignal);
    if (attempt.created) return attempt.lease;
    const current = await this.#read(abortSignal);
    // A create the SDK retried after its first attempt was applied (a timeout) finds its own entity: not another run's.
    const own = etagIfWrittenBy(current, attempt.writeId);
    if (own !== undefined) {
      attempt.lease.renewed(own, attempt.expiresAt, attempt.sentAt);
      return attempt.lease;
    }
    const now = Date.now();
    // A holder that is a process of this machine that no longer exists (killed, crashed) is not waited for.
    const gone = current && new Date(current.expiresAt).getTime() > now ? deadLocalHolder(current) : undefined;
    if (current && new Date(current.expiresAt).getTime() > now && gone === undefined) throw this.#inProgress(current);
    const sentAt = performance.now();
    const expiresAt = new Date(now + durationInMs);
    const lease = new WriterLease({
      owner,
      trigger: options.trigger,
      durationInMs,
      acquiredAt: new Date(now),
      ...(current
        ? { tookOverFrom: { owner: current.owner, ...(current.runId ? { runId: current.runId } : {}), expiredAt: new Date(current.expiresAt), reason: gone ? "holderGone" : "expired", host: current.host } }
        : {}),
    });
    const writeId = randomUUID();
    const entity = this.entityFor(lease, expiresAt, writeId);
    try {
      const response = current
        ? await this.#table.updateEntity(entity, "Replace", { ...operationOptions, etag: current.etag })
        : await this.#table.createEntity(entity, operationOptions);
      await this.afterWrite(lease, response.etag, expiresAt, sentAt, abortSignal);
    } catch (error) {
      if (isStatusCode(error, 409, 412)) {
        // Our own write, applied by an attempt the SDK then retried; else someone else created or took over the lease between our read and our write.
        const latest = await this.#read(abortSignal);
        const own = etagIfWrittenBy(latest, writeId);
        if (own === undefined) throw this.#inProgress(latest);
        lease.renewed(own, expiresAt, sentAt);
        return lease;
      }
      if (isUserSyncError(error)) throw error;
      throw storageError(this.#storage, this.#table.tableName, "taking the writer lease", error);
    }
    return lease;
  }

  /**
   * Creates the lease entity (Insert: it fails with 409 when one exists, held or expired). Not
   * `created` when an entity exists: the caller reads it and decides (it may be this very write,
   * applied by an attempt the SDK retried: then it carries `writeId`).
   */
  async #create(owner: string, trigger: SyncTrigger, durationInMs: number, abortSignal: AbortSignal | undefined): Promise<CreateAttempt> {
    const now = Date.now();
    const sentAt = performance.now();
    const expiresAt = new Date(now + durationInMs);
    const lease = new WriterLease({ owner, trigger, durationInMs, acquiredAt: new Date(now) });
    const writeId = randomUUID();
    try {
      const response = await this.#table.createEntity(this.entityFor(lease, expiresAt, writeId), { abortSignal });
      await this.afterWrite(lease, response.etag, expiresAt, sentAt, abortSignal);
      return { created: true, lease, writeId, expiresAt, sentAt };
    } catch (error) {
      if (isStatusCode(error, 409)) return { created: false, lease, writeId, expiresAt, sentAt };
      if (isUserSyncError(error)) throw error;
      throw storageError(this.#storage, this.#table.tableName, "taking the writer lease", error);
    }
  }

  /**
   * Extends the lease; throws `lease_lost` (and marks the lease lost) when another holder has
   * taken it over, or when this process let it lapse by its own clocks (it was frozen).
   */
  async renew(lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    const abortSignal = options.abortSignal;
    await lease.exclusive(async () => {
      lease.assertHeld();
      const sentAt = performance.now();
      const expiresAt = new Date(Date.now() + lease.durationInMs);
      const writeId = randomUUID();
      try {
        const response = await this.#table.updateEntity(this.entityFor(lease, expiresAt, writeId), "Replace", { abortSignal, etag: lease.etag });
        await this.afterWrite(lease, response.etag, expiresAt, sentAt, abortSignal);
      } catch (error) {
        if (isStatusCode(error, 404, 412)) {
          // A retried renewal whose first attempt was applied finds its own write, not a takeover.
          const etag = await this.etagIfWrittenBy(writeId, abortSignal);
          if (etag === undefined) throw this.lost(lease);
          lease.renewed(etag, expiresAt, sentAt);
          return;
        }
        if (isUserSyncError(error)) throw error;
        throw storageError(this.#storage, this.#table.tableName, "renewing the writer lease", error);
      }
    });
  }

  /** Gives the lease up (only if we still hold it), so the next run need not wait for it to expire. */
  async release(lease: WriterLease, options: OperationOptions = {}): Promise<void> {
    const abortSignal = options.abortSignal;
    await lease.exclusive(async () => {
      try {
        await this.#table.deleteEntity(RUNS_PARTITION, LEASE_ROW, { abortSignal, etag: lease.etag });
      } catch (error) {
        if (isStatusCode(error, 404, 412)) return; // expired and taken over, or gone: not ours anymore
        throw storageError(this.#storage, this.#table.tableName, "releasing the writer lease", error);
      }
    });
  }

  /** The current holder, or undefined when no lease is held (none, or expired). */
  async get(options: OperationOptions = {}): Promise<LeaseInfo | undefined> {
    const entity = await this.#read(options.abortSignal);
    if (!entity || new Date(entity.expiresAt).getTime() <= Date.now()) return undefined;
    return decodeLease(entity);
  }

  /** The lease entity's ETag (it changes whenever a writer takes or renews the lease), or undefined when there is none. */
  async getVersion(options: OperationOptions = {}): Promise<{ etag: string; held: boolean; info: LeaseInfo } | undefined> {
    const entity = await this.#read(options.abortSignal);
    if (!entity) return undefined;
    return { etag: entity.etag, held: new Date(entity.expiresAt).getTime() > Date.now(), info: decodeLease(entity) };
  }

  /** The lease entity as `lease` writes it, expiring at `expiresAt`. */
  entityFor(lease: WriterLease, expiresAt: Date, writeId: string = randomUUID()): LeaseEntity & { partitionKey: string; rowKey: string } {
    return {
      writeId,
      partitionKey: RUNS_PARTITION,
      rowKey: LEASE_ROW,
      kind: "lease",
      owner: lease.owner,
      ...(lease.runId ? { runId: lease.runId } : {}),
      trigger: lease.trigger,
      ...localHolder(),
      acquiredAt: lease.acquiredAt,
      expiresAt,
    };
  }

  /** Records a successful write of the lease entity, sent at `sentAt`; without an ETag in the answer, reads it back and checks it is still ours. */
  async afterWrite(lease: WriterLease, etag: string | undefined, expiresAt: Date, sentAt: number, abortSignal: AbortSignal | undefined): Promise<void> {
    if (etag) {
      lease.renewed(etag, expiresAt, sentAt);
      return;
    }
    const entity = await this.#read(abortSignal);
    if (!entity || entity.owner !== lease.owner) throw this.lost(lease);
    lease.renewed(entity.etag, expiresAt, sentAt);
  }

  /** True when the lease entity is still the one `lease` last wrote. */
  async holds(lease: WriterLease, abortSignal: AbortSignal | undefined): Promise<boolean> {
    const entity = await this.#read(abortSignal);
    return entity !== undefined && entity.owner === lease.owner && entity.etag === lease.etag;
  }

  /** The lease entity's ETag when its last write carried `writeId` (a write of ours that was applied), else undefined. */
  async etagIfWrittenBy(writeId: string, abortSignal: AbortSignal | undefined): Promise<string | undefined> {
    return etagIfWrittenBy(await this.#read(abortSignal), writeId);
  }

  /** Marks `lease` lost (another run took it over) and returns the error to throw. */
  lost(lease: WriterLease): UserSyncError {
    lease.markLost(createLeaseLostError("takenOver", { runId: lease.runId }));
    return lease.lost as UserSyncError;
  }

  #inProgress(entity: LeaseEntity | undefined): UserSyncError {
    const info = entity ? decodeLease(entity) : undefined;
    const who = info
      ? `a ${info.trigger} run${info.runId ? ` (run ${info.runId})` : ""} on ${info.host} holds the writer lease until ${info.expiresAt.toISOString()}`
      : "another run took the writer lease a moment ago";
    return new UserSyncError(
      "run_in_progress",
      `Another sync is writing to this snapshot store: ${who}. This run read and wrote nothing. Wait for it to finish (entra-user-sync runs); a lease whose holder died expires by itself and the next run takes over.`,
      { details: { ...(info?.runId ? { runId: info.runId } : {}), ...(info ? { expiresAt: info.expiresAt.toISOString() } : {}) } },
    );
  }

  async #read(abortSignal: AbortSignal | undefined): Promise<TableEntityResult<LeaseEntity> | undefined> {
    try {
      return await this.#table.getEntity<LeaseEntity>(RUNS_PARTITION, LEASE_ROW, { abortSignal });
    } catch (error) {
      if (isStatusCode(error, 404)) return undefined;
      throw storageError(this.#storage, this.#table.tableName, "reading the writer lease", error);
    }
  }
}
