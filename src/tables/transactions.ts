/**
 * Splits entities into entity group transactions the service accepts: one partition each, at most
 * 100 operations, under the 4 MiB request limit. Azurite accepts batches that Azure rejects (mixed
 * partitions), so these rules are enforced here rather than left to the emulator.
 */
import type { UserEntity } from "./userEntity.js";

export interface TransactionLimits {
  /** Operations per transaction (service limit 100). */
  maxOperations: number;
  /** Estimated request body size per transaction (service limit 4 MiB, minus room for the envelope). */
  maxPayloadBytes: number;
}

export const SERVICE_TRANSACTION_LIMITS: Readonly<TransactionLimits> = {
  maxOperations: 100,
  maxPayloadBytes: 4 * 1024 * 1024 - 128 * 1024,
};

/** Multipart boundary, request line (with the URL-escaped keys) and headers of one operation. */
const OPERATION_OVERHEAD_BYTES = 1024;

/** An upper estimate of what one upsert adds to a transaction body. */
export function estimateOperationBytes(entity: UserEntity): number {
  const body = Buffer.byteLength(JSON.stringify(entity), "utf8");
  const keys = Buffer.byteLength(entity.partitionKey + entity.rowKey, "utf8");
  return OPERATION_OVERHEAD_BYTES + body + 3 * keys;
}

/**
 * An upper bound of estimateOperationBytes without serialising the entity: every UTF-16 unit of a
 * string at most 6 bytes in JSON (a `\u00XX` escape), room for each property's name, quotes and
 * type annotation, and keys at most 9 bytes a unit once URL-escaped.
 */
export function operationBytesBound(entity: UserEntity): number {
  let bytes = OPERATION_OVERHEAD_BYTES + 9 * (entity.partitionKey.length + entity.rowKey.length);
  for (const name in entity) {
    if (!Object.prototype.hasOwnProperty.call(entity, name)) continue;
    const value = entity[name];
    bytes += 64 + 6 * name.length;
    if (typeof value === "string") bytes += 6 * value.length;
    else if (typeof value === "number" || typeof value === "boolean") bytes += 32;
    else if (value !== null && value !== undefined) bytes += 2 * Buffer.byteLength(JSON.stringify(value), "utf8");
  }
  return bytes;
}

/**
 * Entities whose bound is at most this share of the payload limit are counted by their bound: a
 * transaction of `maxOperations` of them stays under `maxPayloadBytes` even by their bounds, so it is
 * cut by its count only, as it would be by exact sizes, and the transactions are the same. Larger
 * ones are measured (estimateOperationBytes), serialising them once.
 */
function measureAboveBytes(limits: TransactionLimits): number {
  return Math.floor(limits.maxPayloadBytes / limits.maxOperations);
}

/**
 * Groups `entities` by partition (first-seen order) and cuts each group into transactions. An
 * entity larger than the payload budget still gets a transaction of its own (the entity limit is
 * 1 MiB, well under the request limit, and encodeUserEntity enforces it).
 */
export function planTransactions(
  entities: Iterable<UserEntity>,
  limits: TransactionLimits = SERVICE_TRANSACTION_LIMITS,
): UserEntity[][] {
  const byPartition = new Map<string, UserEntity[]>();
  for (const entity of entities) {
    let group = byPartition.get(entity.partitionKey);
    if (!group) byPartition.set(entity.partitionKey, (group = []));
    group.push(entity);
  }
  const transactions: UserEntity[][] = [];
  const measureAbove = measureAboveBytes(limits);
  for (const group of byPartition.values()) {
    let current: UserEntity[] = [];
    let bytes = 0;
    for (const entity of group) {
      // Serialising every entity only to measure it costs a worker about as much as encoding it.
      const bound = operationBytesBound(entity);
      const size = bound <= measureAbove ? bound : estimateOperationBytes(entity);
      if (current.length > 0 && (current.length >= limits.maxOperations || bytes + size > limits.maxPayloadBytes)) {
        transactions.push(current);
        current = [];
        bytes = 0;
      }
      current.push(entity);
      bytes += size;
    }
    if (current.length > 0) transactions.push(current);
  }
  return transactions;
}
