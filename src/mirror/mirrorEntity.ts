/**
 * A mirror object as a table entity: its kind's snapshot encoding (for users, userEntity.ts: one
 * column per property, `_meta`) plus the mirror's own `_`-prefixed state columns. See
 * docs/mirror.md.
 */
import type { GraphUser } from "../graph/types.js";
import { createMirrorError } from "./mirrorErrors.js";
import type { EntityCodec } from "../kinds/objectKind.js";
import { USERS } from "../kinds/users.js";
import { shardOf } from "../tables/keys.js";
import { MAX_PROPERTIES, type UserEntity } from "../tables/userEntity.js";

/**
 * Where a user stands in the mirror:
 * - `present`: in the directory;
 * - `softDeleted`: Graph reported `@removed` reason `changed` (in the deleted items, restorable about 30 days);
 * - `deleted`: Graph reported `@removed` reason `deleted` (permanently deleted);
 * - `missing`: not seen in a full round (deleted while no delta token was followed: soft or hard is unknown).
 */
export type MirrorUserState = "present" | "softDeleted" | "deleted" | "missing";

/** What an incremental run did to a user. */
export type MirrorChangeKind = "added" | "updated" | "restored" | "removed";

/** The reason written with a removal: Graph's `changed` / `deleted`, or `notSeen` after a full round. */
export type MirrorRemovedReason = "changed" | "deleted" | "notSeen";

export interface MirrorUser {
  /** The user as Graph last showed it (for removed users: the last known properties). */
  user: GraphUser;
  state: MirrorUserState;
  /** When the mirror first saw the user's current removed state. */
  removedAt?: Date;
  /** The full round whose marks the user carries (mark and sweep). */
  round: string;
  /** The run that last wrote the user. */
  runId: string;
  /** What that run did, when it was an incremental change. */
  change?: MirrorChangeKind;
}

/** Users are spread over this many partitions, `u-00` … `u-0f`. Fixed: a user's partition never moves. */
export const MIRROR_PARTITION_COUNT = 16;
/** Users' partitions sort between these two keys (the state and runs partitions do not). */
export const USER_PARTITION_LOW = "u-";
export const USER_PARTITION_HIGH = "u.";

export const STATE_COLUMN = "_state";
export const REMOVED_AT_COLUMN = "_removedAt";
export const ROUND_COLUMN = "_round";
export const RUN_COLUMN = "_runId";
export const CHANGE_COLUMN = "_change";
const MIRROR_COLUMNS = 5;

export function mirrorPartitionKey(objectId: string): string {
  return `${USER_PARTITION_LOW}${shardOf(objectId, MIRROR_PARTITION_COUNT)}`;
}

export function removedReasonOf(state: MirrorUserState): MirrorRemovedReason | undefined {
  if (state === "softDeleted") return "changed";
  if (state === "deleted") return "deleted";
  if (state === "missing") return "notSeen";
  return undefined;
}

/**
 * The entity of a mirror user (Replace-mode write: every column, so cleared values are cleared);
 * `codec`: the encoding of the mirror's kind.
 */
export function encodeMirrorEntity(mirrorUser: MirrorUser, codec: EntityCodec<GraphUser> = USERS.entity): UserEntity {
  const entity = codec.encode(mirrorUser.user, mirrorPartitionKey(mirrorUser.user.id));
  if (Object.keys(entity).length - 2 + 3 + MIRROR_COLUMNS > MAX_PROPERTIES) {
    throw createMirrorError("notStorable", { userId: mirrorUser.user.id, stateColumns: MIRROR_COLUMNS, maxProperties: MAX_PROPERTIES });
  }
  Object.assign(entity, stateColumns(mirrorUser));
  return entity;
}

/** Only the state columns (a Merge-mode write that keeps the last known properties). */
export function stateColumns(m: Omit<MirrorUser, "user">): Record<string, unknown> {
  const columns: Record<string, unknown> = { [STATE_COLUMN]: m.state, [ROUND_COLUMN]: m.round, [RUN_COLUMN]: m.runId };
  if (m.removedAt !== undefined) columns[REMOVED_AT_COLUMN] = m.removedAt;
  if (m.change !== undefined) columns[CHANGE_COLUMN] = m.change;
  return columns;
}

const STATES = new Set<MirrorUserState>(["present", "softDeleted", "deleted", "missing"]);
const CHANGES = new Set<MirrorChangeKind>(["added", "updated", "restored", "removed"]);

export function decodeMirrorEntity(entity: Record<string, unknown>, codec: EntityCodec<GraphUser> = USERS.entity): MirrorUser {
  const user = codec.decode(entity);
  const state = entity[STATE_COLUMN] as MirrorUserState;
  if (!STATES.has(state)) {
    throw createMirrorError("stateEdited", { partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey), column: STATE_COLUMN });
  }
  const mirrorUser: MirrorUser = { user, state, round: String(entity[ROUND_COLUMN] ?? ""), runId: String(entity[RUN_COLUMN] ?? "") };
  const removedAt = entity[REMOVED_AT_COLUMN];
  if (removedAt !== undefined && removedAt !== null) mirrorUser.removedAt = new Date(removedAt as string | Date);
  const change = entity[CHANGE_COLUMN] as MirrorChangeKind | undefined;
  if (change !== undefined && CHANGES.has(change)) mirrorUser.change = change;
  return mirrorUser;
}

/**
 * The user as Graph would show it, for exports: present users as they are; removed users with their
 * last known properties and an `@removed` annotation (reason and when the mirror saw it).
 */
export function toGraphObject(mirrorUser: MirrorUser): Record<string, unknown> {
  const reason = removedReasonOf(mirrorUser.state);
  if (reason === undefined) return mirrorUser.user;
  return { ...mirrorUser.user, "@removed": { reason, ...(mirrorUser.removedAt ? { removedAt: mirrorUser.removedAt.toISOString() } : {}) } };
}
