/**
 * How one Graph user becomes one table entity, and back.
 *
 * Every selected property is its own column, so the snapshot table can be queried and filtered:
 * - strings and booleans are stored natively;
 * - numbers are stored natively when they are Int32 (Edm.Int32) or not integers (Edm.Double);
 *   integers outside Int32 are stored as JSON text, so they never change type on the way back;
 * - arrays and objects are stored as JSON text (Table Storage has no array type);
 * - null values have no column (the service cannot store a null), but their names are kept.
 *
 * The reserved column `_meta` holds what the columns alone cannot say: the order of Graph's keys,
 * which columns hold JSON text, which values are chunked over several columns (a value over 64 KiB,
 * e.g. thousands of proxyAddresses), and which Graph names are stored under generated column names
 * (names a table cannot hold). With it, decoding returns an object deep-equal to what Graph
 * returned, keys in the same order. The object id is the RowKey and has no column of its own.
 * Generated columns start with `_`; a Graph name starting with `_` is always mapped, so the two
 * can never collide.
 *
 * See docs/storage.md for the layout.
 */
import type { TableEntity } from "@azure/data-tables";
import type { GraphUser } from "../graph/types.js";
import { UserSyncError } from "../shared/errors.js";
import { setOwnProperty } from "../shared/ownProperty.js";

/** The reserved column with the encoding metadata. */
export const META_COLUMN = "_meta";
/**
 * Version of the `_meta` format; decoding refuses versions it does not know. Version 1 has only `o`
 * and `j`; an entity that needs `c` or `n` is written as version 2, so a reader that knows only
 * version 1 refuses it instead of misreading it.
 */
export const ENCODING_VERSION = 2;
const KNOWN_VERSIONS = new Set([1, 2]);

/** A string property holds at most 64 KiB: 32 Ki UTF-16 code units. */
export const MAX_STRING_LENGTH = 32 * 1024;
/** An entity holds at most 1 MiB, by the service's own size formula. */
export const MAX_ENTITY_BYTES = 1024 * 1024;
/** An entity holds at most 255 properties, PartitionKey, RowKey and Timestamp included. */
export const MAX_PROPERTIES = 255;
/** Keys are at most 1 KiB (512 UTF-16 code units) and may not contain / \ # ? or control characters. */
const MAX_KEY_LENGTH = 512;
// eslint-disable-next-line no-control-regex
const INVALID_KEY_CHARACTERS = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

/** Table property names follow C# identifier rules; the service also caps them at 255 characters. */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
/**
 * Names the SDK or the service treat specially, and names every ordinary object inherits
 * (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `__proto__`…), which stores and
 * serializers written in JavaScript can lose as column names (Azurite drops them, or answers 500).
 * Compared case-insensitively; such a Graph name is stored under a generated column.
 */
const RESERVED_NAMES = new Set(["partitionkey", "rowkey", "timestamp", "etag", "odata", ...Object.getOwnPropertyNames(Object.prototype).map((name) => name.toLowerCase())]);

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** What `_meta` holds. Short names: it is stored once per user. */
export interface UserEntityMetadata {
  /** Format version (1 when neither `c` nor `n` is needed, else 2). */
  v: number;
  /** Graph's keys, in Graph's order (including `id`, which lives in the RowKey). */
  o: string[];
  /** Keys whose value is JSON text (arrays, objects, integers outside Int32). */
  j?: string[];
  /** Keys whose text is split over several columns: the value is these columns' text concatenated, in order. */
  c?: Record<string, string[]>;
  /** Keys stored under a generated column name (the name is not a valid or free column name). */
  n?: Record<string, string>;
}

export type UserEntity = TableEntity<Record<string, unknown>>;

/** Why a user cannot be stored; the store records it as skipped. */
function notStorable(userId: string, property: string | undefined, reason: string, fix: string): UserSyncError {
  return new UserSyncError(
    "user_not_storable",
    `User ${userId}${property === undefined ? "" : `, property "${property}"`}: ${reason} ${fix}`,
    { details: { userId, ...(property === undefined ? {} : { property }) } },
  );
}

const DESELECT_FIX = "The user is recorded as skipped in the run; remove the property from USER_SYNC_SELECT to store the user.";

/** Throws unless `key` can be a PartitionKey or RowKey. */
export function assertValidKey(key: string, what: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || INVALID_KEY_CHARACTERS.test(key)) {
    throw new UserSyncError(
      "user_not_storable",
      `${what} "${key.slice(0, 80)}" cannot be a table key: keys are 1 to 512 characters without / \\ # ? or control characters.`,
      { details: { userId: key.slice(0, 80) } },
    );
  }
}

/** True when a Graph name can be its own column: a valid identifier, not reserved, not store-owned. */
export function isPlainColumnName(name: string): boolean {
  return COLUMN_NAME.test(name) && !name.startsWith("_") && !RESERVED_NAMES.has(name.toLowerCase());
}

/** What encoding needs of a Graph name: whether it can be its own column, and its lower case (the names in use are compared in it). */
interface ColumnNameFacts {
  plain: boolean;
  lower: string;
}

/**
 * Every user of a page has the same names (the selection): their facts are worked out once per
 * name, not once per user. Bounded: past MAX_REMEMBERED_NAMES names it starts over.
 */
const nameFacts = new Map<string, ColumnNameFacts>();
const MAX_REMEMBERED_NAMES = 4096;

function columnNameFacts(name: string): ColumnNameFacts {
  let facts = nameFacts.get(name);
  if (facts === undefined) {
    if (nameFacts.size >= MAX_REMEMBERED_NAMES) nameFacts.clear();
    facts = { plain: isPlainColumnName(name), lower: name.toLowerCase() };
    nameFacts.set(name, facts);
  }
  return facts;
}

/**
 * Cuts text into pieces of at most MAX_STRING_LENGTH UTF-16 units, never between the two halves of
 * a surrogate pair (a lone surrogate would not survive the service).
 */
export function chunkText(text: string, size: number = MAX_STRING_LENGTH): string[] {
  const chunks: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(at + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    chunks.push(text.slice(at, end));
    at = end;
  }
  return chunks;
}

/** The service's size of one property value (https://learn.microsoft.com, "Understanding the Table service data model"). */
function valueBytes(value: unknown): number {
  if (typeof value === "string") return 4 + value.length * 2;
  if (typeof value === "boolean") return 1;
  if (typeof value === "number") return Number.isInteger(value) ? 4 : 8;
  if (typeof value === "object" && value !== null && "value" in value) return 8; // typed Double
  return 0;
}

/** The service's size of an entity: 4 + 2×(PartitionKey + RowKey) + per property 8 + 2×name + value. */
export function entitySizeInBytes(entity: UserEntity): number {
  let size = 4 + (entity.partitionKey.length + entity.rowKey.length) * 2;
  // Own names only (an entity is a plain object; no entries array is built).
  for (const name in entity) {
    if (name === "partitionKey" || name === "rowKey" || !Object.hasOwn(entity, name)) continue;
    size += 8 + name.length * 2 + valueBytes(entity[name]);
  }
  return size;
}

/** The user's id, checked: a string that can be a RowKey. */
function storableUserId(user: GraphUser): string {
  const userId = user.id;
  if (typeof userId !== "string") {
    throw new UserSyncError("user_not_storable", `A user without a string id cannot be stored (got ${typeof userId}).`);
  }
  assertValidKey(userId, "The user id");
  return userId;
}

/** What `_meta` is made of, gathered while encoding one user's properties (see encodeUserEntity). */
interface EncodedLayout {
  order: string[];
  json: string[];
  /** Made only for a user that needs them (most need neither). */
  chunks: Map<string, string[]> | undefined;
  names: Map<string, string> | undefined;
  /** Generated column names handed out so far. */
  generated: number;
  /** Columns written so far (the keys and `_meta` not included). */
  columns: number;
}

/** The last `_meta` text without `c` or `n`, and what it was made of: the users of a page mostly share it. */
let lastMeta: { order: readonly string[]; json: readonly string[]; text: string } | undefined;

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The `_meta` text of a layout: the last one again when it is made of the same names. */
function metaTextOf(layout: EncodedLayout): string {
  const { order, json, chunks, names } = layout;
  if (!chunks && !names && lastMeta && sameNames(lastMeta.order, order) && sameNames(lastMeta.json, json)) return lastMeta.text;
  const metadata: UserEntityMetadata = { v: chunks || names ? ENCODING_VERSION : 1, o: order };
  if (json.length > 0) metadata.j = json;
  // Object.fromEntries defines own properties, `__proto__` included, and JSON.stringify writes them.
  if (chunks) metadata.c = Object.fromEntries(chunks);
  if (names) metadata.n = Object.fromEntries(names);
  const text = JSON.stringify(metadata);
  if (!chunks && !names) lastMeta = { order, json, text };
  return text;
}

/** Adds `_meta` to the encoded entity, then checks that the entity fits in one: its metadata column, its properties, its size. */
function sealEntity(entity: UserEntity, userId: string, layout: EncodedLayout): UserEntity {
  const { order } = layout;
  const metaText = metaTextOf(layout);
  if (metaText.length > MAX_STRING_LENGTH) {
    throw notStorable(userId, undefined, `the names of its ${order.length} properties need ${metaText.length} characters of metadata, over the 64 KiB of one column.`, "Select fewer properties in USER_SYNC_SELECT.");
  }
  entity[META_COLUMN] = metaText;

  // PartitionKey, RowKey and Timestamp count towards the limit; `id` has no column; `_meta` is one.
  const properties = layout.columns + 1 + 3;
  if (properties > MAX_PROPERTIES) {
    throw notStorable(userId, undefined, `its ${order.length} properties need ${properties} table properties (chunks included), over the limit of ${MAX_PROPERTIES}.`, "Select fewer properties in USER_SYNC_SELECT.");
  }
  const size = entitySizeInBytes(entity);
  if (size > MAX_ENTITY_BYTES) {
    throw notStorable(userId, undefined, `the entity would be ${size} bytes, over the table limit of 1 MiB.`, "Select fewer or smaller properties in USER_SYNC_SELECT.");
  }
  return entity;
}

/**
 * Column names in use while one user is encoded, lowercased: two names that differ only in case
 * never share an entity. One set, emptied for each user (encoding is synchronous and never
 * re-entered), not a new one per user.
 */
const usedColumns = new Set<string>();

/** A generated column name (`_n0`, `_c1`…) not in use yet. */
function newColumn(layout: EncodedLayout, kind: "n" | "c"): string {
  let name: string;
  do name = `_${kind}${layout.generated++}`;
  while (usedColumns.has(name.toLowerCase()));
  usedColumns.add(name.toLowerCase());
  return name;
}

/** Text over one column's limit, over several columns (recorded in `_meta`'s `c`). */
function putChunks(entity: UserEntity, layout: EncodedLayout, property: string, column: string, text: string): void {
  const pieces = chunkText(text);
  const columns = [column, ...pieces.slice(1).map(() => newColumn(layout, "c"))];
  pieces.forEach((piece, i) => (entity[columns[i]!] = piece));
  layout.columns += pieces.length;
  (layout.chunks ??= new Map()).set(property, columns);
}

/** The column a Graph name is stored under: its own name when it can be, else a generated one (recorded in `_meta`'s `n`). */
function columnOf(layout: EncodedLayout, property: string): string {
  const facts = columnNameFacts(property);
  if (facts.plain && !usedColumns.has(facts.lower)) {
    usedColumns.add(facts.lower);
    return property;
  }
  const column = newColumn(layout, "n");
  (layout.names ??= new Map()).set(property, column);
  return column;
}

/** Stores one non-null value under `column` (one column, or several for long text). */
function putValue(entity: UserEntity, layout: EncodedLayout, userId: string, property: string, column: string, value: unknown): void {
  switch (typeof value) {
    case "string":
      if (value.length > MAX_STRING_LENGTH) return putChunks(entity, layout, property, column, value);
      entity[column] = value;
      break;
    case "boolean":
      entity[column] = value;
      break;
    case "number":
      if (!Number.isFinite(value)) {
        throw notStorable(userId, property, `the number ${value} is not a JSON value.`, DESELECT_FIX);
      }
      if (Number.isInteger(value)) {
        if (value >= INT32_MIN && value <= INT32_MAX) {
          entity[column] = value;
        } else {
          entity[column] = JSON.stringify(value);
          layout.json.push(property);
        }
      } else {
        // Typed explicitly: the service must not mistake it for an integer.
        entity[column] = { value, type: "Double" };
      }
      break;
    case "object": {
      const text = JSON.stringify(value);
      layout.json.push(property);
      if (text.length > MAX_STRING_LENGTH) return putChunks(entity, layout, property, column, text);
      entity[column] = text;
      break;
    }
    default:
      throw notStorable(userId, property, `a ${typeof value} is not a JSON value.`, DESELECT_FIX);
  }
  layout.columns += 1;
}

/**
 * Encodes one user as an entity of partition `partitionKey`. Throws a UserSyncError
 * (`user_not_storable`) for a user that cannot fit in one entity at all (over 1 MiB or 255
 * properties, or an id that cannot be a RowKey); every other user is stored losslessly.
 */
export function encodeUserEntity(user: GraphUser, partitionKey: string): UserEntity {
  const userId = storableUserId(user);
  const entity: UserEntity = { partitionKey, rowKey: userId };
  // Maps, not objects, in the layout: a Graph name such as `__proto__` must stay a key.
  const layout: EncodedLayout = { order: [], json: [], chunks: undefined, names: undefined, generated: 0, columns: 0 };
  usedColumns.clear();
  // Own enumerable names in Object.entries' order, without its [name, value] pairs.
  for (const property in user) {
    if (!Object.hasOwn(user, property)) continue;
    layout.order.push(property);
    if (property === "id") continue;
    const column = columnOf(layout, property);
    const value = user[property];
    if (value !== null) putValue(entity, layout, userId, property, column, value);
  }
  return sealEntity(entity, userId, layout);
}

function readMetadata(entity: Record<string, unknown>): UserEntityMetadata {
  const raw = entity[META_COLUMN];
  let metadata: unknown;
  try {
    metadata = typeof raw === "string" ? JSON.parse(raw) : undefined;
  } catch {
    metadata = undefined;
  }
  const m = metadata as Partial<UserEntityMetadata> | undefined;
  if (
    !m ||
    typeof m.v !== "number" ||
    !KNOWN_VERSIONS.has(m.v) ||
    !Array.isArray(m.o) ||
    (m.j !== undefined && !Array.isArray(m.j)) ||
    (m.v === 1 && (m.c !== undefined || m.n !== undefined)) ||
    (m.c !== undefined && (typeof m.c !== "object" || m.c === null)) ||
    (m.n !== undefined && (typeof m.n !== "object" || m.n === null))
  ) {
    throw new UserSyncError(
      "storage_request_failed",
      `The snapshot entity ${String(entity.partitionKey)}/${String(entity.rowKey)} has no readable ${META_COLUMN} column (or a format version this version of entra-user-sync does not know). Read it with the version that wrote it, or write a new snapshot.`,
    );
  }
  return m as UserEntityMetadata;
}

/**
 * Decodes an entity as read by `TableClient` (type conversion on) back into the Graph user.
 * Columns that `_meta` does not name (added by hand, or system columns) are ignored.
 */
export function decodeUserEntity(entity: Record<string, unknown>): GraphUser {
  const metadata = readMetadata(entity);
  const json = new Set(metadata.j ?? []);
  const names = new Map(Object.entries(metadata.n ?? {}));
  const chunks = new Map(Object.entries(metadata.c ?? {}));
  const user: Record<string, unknown> = {};
  /** A column's value, when the entity has that column (never a method every object inherits). */
  const column = (name: string): unknown => (Object.hasOwn(entity, name) ? entity[name] : undefined);
  for (const property of metadata.o) {
    if (typeof property !== "string") continue;
    if (property === "id") {
      user.id = entity.rowKey;
      continue;
    }
    const columns = chunks.get(property);
    let value: unknown;
    if (columns !== undefined) {
      const pieces = columns.map((name) => column(name));
      if (pieces.some((piece) => typeof piece !== "string")) {
        throw new UserSyncError(
          "storage_request_failed",
          `The snapshot entity ${String(entity.partitionKey)}/${String(entity.rowKey)} lacks a chunk of "${property}" (columns ${columns.join(", ")}). Someone edited the entity; write a new snapshot.`,
        );
      }
      value = pieces.join("");
    } else {
      value = column(names.get(property) ?? property);
    }
    if (value === undefined || value === null) setOwnProperty(user, property, null);
    else if (json.has(property)) setOwnProperty(user, property, JSON.parse(value as string));
    else setOwnProperty(user, property, value);
  }
  if (!("id" in user)) user.id = entity.rowKey;
  return user as GraphUser;
}
