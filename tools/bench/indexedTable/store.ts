/**
 * The indexed table service's tables (indexedTableService.ts): each table a B+ tree of partitions
 * by PartitionKey, each partition a B+ tree of entities by RowKey (sorted-btree), so that a point
 * operation is O(log n) and a query over a key range reads only that range, however large the
 * table. An entity keeps its RowKey, its timestamp (its ETag is made from it) and its other
 * properties as JSON text (fewer objects for the collector at millions of rows).
 */
import btreeModule from "sorted-btree";
import { evaluate, keyConstraint, ordinal, UnsupportedFilter, type EdmType, type FilterNode, type KeyConstraint, type Typed } from "./filter.js";

// The package is CommonJS with `exports.default`: Node's ESM loader hands the exports object, vitest's the class.
const BTree: typeof btreeModule.default = (btreeModule as unknown as { default?: typeof btreeModule.default }).default ?? (btreeModule as unknown as typeof btreeModule.default);
type Tree<V> = InstanceType<typeof BTree<string, V>>;

export class TableError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StoredEntity {
  rk: string;
  /** ISO 8601 with 7 fraction digits, unique per write in this service. */
  ts: string;
  /** The other properties' JSON members, without braces ("" for none), typed values with their @odata.type. */
  props: string;
}

interface Partition {
  key: string;
  rows: Tree<StoredEntity>;
}

interface Table {
  name: string;
  partitions: Tree<Partition>;
}

export const etagOf = (entity: StoredEntity) => `W/"datetime'${encodeURIComponent(entity.ts)}'"`;

/** Types kept as an annotation; the others are inferred from the JSON value as the service does. */
const ANNOTATED = new Set(["Edm.Int64", "Edm.DateTime", "Edm.Guid", "Edm.Binary"]);
const KNOWN_TYPES = new Set(["Edm.String", "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Boolean", "Edm.DateTime", "Edm.Guid", "Edm.Binary"]);
/** The characters the service refuses in a key (slash, backslash, number sign, question mark, control characters), and keys over 1 KiB. */
function invalidKey(key: string): boolean {
  for (let i = 0; i < key.length; i += 1) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2f || c === 0x5c || c === 0x23 || c === 0x3f) return true;
  }
  return key.length > 1024;
}

export interface ParsedEntity {
  pk: string;
  rk: string;
  /** Properties without keys, metadata, nulls or inferable annotations. */
  props: Record<string, unknown>;
}

const bad = (message: string) => new TableError(400, "InvalidInput", message);

/** A request body's entity (keys from the body, or from the URL when given). */
export function parseEntity(body: string, keys?: { pk: string; rk: string }): ParsedEntity {
  let json: unknown;
  try {
    json = JSON.parse(body || "{}");
  } catch {
    throw bad("The request body is not valid JSON.");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("The request body is not a JSON object.");
  const source = json as Record<string, unknown>;
  const pk = keys?.pk ?? source.PartitionKey;
  const rk = keys?.rk ?? source.RowKey;
  if (typeof pk !== "string" || typeof rk !== "string") throw new TableError(400, "PropertiesNeedValue", "The values are not specified for all properties in the entity.");
  if (invalidKey(pk) || invalidKey(rk)) throw new TableError(400, "OutOfRangeInput", "One of the request inputs is out of range.");
  const props: Record<string, unknown> = {};
  for (const name of Object.keys(source)) {
    if (name === "PartitionKey" || name === "RowKey" || name === "Timestamp" || name.startsWith("odata.") || name.includes("@odata.")) continue;
    const value = source[name];
    if (value === null || value === undefined) continue;
    const type = source[`${name}@odata.type`];
    if (type !== undefined) {
      if (typeof type !== "string" || !KNOWN_TYPES.has(type)) throw bad(`Unknown type ${String(type)} of property ${name}.`);
      checkTyped(name, value, type);
      props[name] = value;
      if (ANNOTATED.has(type) || (type === "Edm.Double" && typeof value === "string")) props[`${name}@odata.type`] = type;
    } else {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw bad(`Property ${name} has a value of no Table type.`);
      props[name] = value;
    }
  }
  return { pk, rk, props };
}

function checkTyped(name: string, value: unknown, type: string): void {
  const ok =
    type === "Edm.Int64" ? typeof value === "string" && /^-?[0-9]+$/.test(value)
    : type === "Edm.DateTime" ? typeof value === "string" && !Number.isNaN(Date.parse(value))
    : type === "Edm.Guid" ? typeof value === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
    : type === "Edm.Binary" ? typeof value === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(value)
    : type === "Edm.Boolean" ? typeof value === "boolean"
    : type === "Edm.Int32" ? Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31
    : type === "Edm.Double" ? typeof value === "number" || value === "NaN" || value === "Infinity" || value === "-Infinity"
    : typeof value === "string";
  if (!ok) throw bad(`The value of property ${name} is not a valid ${type}.`);
}

const membersOf = (props: Record<string, unknown>) => JSON.stringify(props).slice(1, -1);
const propsOf = (entity: StoredEntity): Record<string, unknown> => (entity.props === "" ? {} : (JSON.parse(`{${entity.props}}`) as Record<string, unknown>));

function inferred(value: unknown): EdmType {
  if (typeof value === "string") return "Edm.String";
  if (typeof value === "boolean") return "Edm.Boolean";
  return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31 ? "Edm.Int32" : "Edm.Double";
}

/** What a transaction undoes when one of its operations fails. */
type Journal = Array<{ table: Table; pk: string; rk: string; before: StoredEntity | undefined }>;

export interface QueryPage {
  rows: Array<{ pk: string; entity: StoredEntity }>;
  next?: { pk: string; rk: string };
}

export class IndexedTables {
  readonly #tables = new Map<string, Table>();
  #lastTick = 0n;
  #journal: Journal | undefined;

  /** A timestamp unique to each write (100 ns ticks, strictly increasing). */
  #timestamp(): string {
    let tick = BigInt(Date.now()) * 10_000n;
    if (tick <= this.#lastTick) tick = this.#lastTick + 1n;
    this.#lastTick = tick;
    const ms = Number(tick / 10_000n);
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 23)}${String(tick % 10_000n).padStart(4, "0")}Z`;
  }

  tableNames(): string[] {
    return [...this.#tables.values()].map((t) => t.name);
  }

  createTable(name: string): void {
    if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(name)) throw new TableError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.");
    if (this.#tables.has(name.toLowerCase())) throw new TableError(409, "TableAlreadyExists", "The table specified already exists.");
    this.#tables.set(name.toLowerCase(), { name, partitions: new BTree<string, Partition>(undefined, ordinal) });
  }

  deleteTable(name: string): void {
    if (!this.#tables.delete(name.toLowerCase())) throw new TableError(404, "TableNotFound", "The table specified does not exist.");
  }

  #table(name: string): Table {
    const table = this.#tables.get(name.toLowerCase());
    if (!table) throw new TableError(404, "TableNotFound", "The table specified does not exist.");
    return table;
  }

  get(tableName: string, pk: string, rk: string): StoredEntity {
    const entity = this.#table(tableName).partitions.get(pk)?.rows.get(rk);
    if (!entity) throw new TableError(404, "ResourceNotFound", "The specified resource does not exist.");
    return entity;
  }

  #write(table: Table, pk: string, rk: string, entity: StoredEntity | undefined, before: StoredEntity | undefined): void {
    this.#journal?.push({ table, pk, rk, before });
    let partition = table.partitions.get(pk);
    if (entity) {
      if (!partition) table.partitions.set(pk, (partition = { key: pk, rows: new BTree<string, StoredEntity>(undefined, ordinal) }));
      partition.rows.set(rk, entity);
    } else if (partition) {
      partition.rows.delete(rk);
      if (partition.rows.size === 0) table.partitions.delete(pk);
    }
  }

  insert(tableName: string, parsed: ParsedEntity): StoredEntity {
    const table = this.#table(tableName);
    if (table.partitions.get(parsed.pk)?.rows.has(parsed.rk)) throw new TableError(409, "EntityAlreadyExists", "The specified entity already exists.");
    const entity = { rk: parsed.rk, ts: this.#timestamp(), props: membersOf(parsed.props) };
    this.#write(table, parsed.pk, parsed.rk, entity, undefined);
    return entity;
  }

  /** Update (If-Match `*` or an ETag: it must exist) or upsert (no If-Match); merge or replace. */
  put(tableName: string, parsed: ParsedEntity, ifMatch: string | undefined, merge: boolean): StoredEntity {
    const table = this.#table(tableName);
    const before = table.partitions.get(parsed.pk)?.rows.get(parsed.rk);
    this.#check(before, ifMatch);
    const props = merge && before ? { ...propsOf(before), ...parsed.props } : parsed.props;
    if (merge && before) for (const name of Object.keys(parsed.props)) if (!name.endsWith("@odata.type") && !(`${name}@odata.type` in parsed.props)) delete props[`${name}@odata.type`];
    const entity = { rk: parsed.rk, ts: this.#timestamp(), props: membersOf(props) };
    this.#write(table, parsed.pk, parsed.rk, entity, before);
    return entity;
  }

  delete(tableName: string, pk: string, rk: string, ifMatch: string | undefined): void {
    const table = this.#table(tableName);
    const before = table.partitions.get(pk)?.rows.get(rk);
    this.#check(before, ifMatch ?? "*");
    this.#write(table, pk, rk, undefined, before);
  }

  #check(before: StoredEntity | undefined, ifMatch: string | undefined): void {
    if (ifMatch === undefined) return;
    if (!before) throw new TableError(404, "ResourceNotFound", "The specified resource does not exist.");
    if (ifMatch !== "*" && ifMatch !== etagOf(before)) throw new TableError(412, "UpdateConditionNotSatisfied", "The update condition specified in the request was not satisfied.");
  }

  /** Runs `work` all or nothing: a throw undoes every write it made. */
  transaction<T>(work: () => T): T {
    if (this.#journal) throw new Error("transactions do not nest");
    const journal: Journal = (this.#journal = []);
    try {
      return work();
    } catch (error) {
      for (const step of journal.reverse()) {
        this.#journal = undefined;
        this.#write(step.table, step.pk, step.rk, step.before, undefined);
      }
      throw error;
    } finally {
      this.#journal = undefined;
    }
  }

  /** Up to `top` entities the filter accepts, from the continuation on, in key order, and where the next page starts. */
  query(tableName: string, filter: FilterNode | undefined, top: number, from: { pk?: string | undefined; rk?: string | undefined }): QueryPage {
    const table = this.#table(tableName);
    const pkRange = keyConstraint(filter, "PartitionKey");
    const rkRange = keyConstraint(filter, "RowKey");
    const rows: QueryPage["rows"] = [];
    for (const partition of keysIn(table.partitions, pkRange, from.pk)) {
      const resume = from.pk !== undefined && partition.key === from.pk ? from.rk : undefined;
      for (const entity of keysIn(partition.rows, rkRange, resume)) {
        if (filter && !evaluate(filter, reader(partition.key, entity))) continue;
        if (rows.length === top) return { rows, next: { pk: partition.key, rk: entity.rk } };
        rows.push({ pk: partition.key, entity });
      }
    }
    return { rows };
  }
}

/** The values of a tree whose keys meet the constraint, from `start` on (inclusive). */
function* keysIn<V>(tree: Tree<V>, constraint: KeyConstraint, start: string | undefined): IterableIterator<V> {
  if (constraint.kind === "points") {
    for (const key of constraint.keys) {
      if (start !== undefined && ordinal(key, start) < 0) continue;
      const value = tree.get(key);
      if (value !== undefined) yield value;
    }
    return;
  }
  const { low, high } = constraint;
  let from = low?.key;
  if (start !== undefined && (from === undefined || ordinal(start, from) > 0)) from = start;
  for (const [key, value] of tree.entries(from)) {
    if (low && !low.inclusive && key === low.key) continue;
    if (high && (ordinal(key, high.key) > 0 || (!high.inclusive && key === high.key))) return;
    yield value;
  }
}

/** The filter's view of an entity: keys, Timestamp, and its properties parsed once when asked. */
function reader(pk: string, entity: StoredEntity): (name: string) => Typed | undefined {
  let props: Record<string, unknown> | undefined;
  return (name) => {
    if (name === "PartitionKey") return { type: "Edm.String", value: pk };
    if (name === "RowKey") return { type: "Edm.String", value: entity.rk };
    if (name === "Timestamp") return { type: "Edm.DateTime", value: entity.ts };
    props ??= propsOf(entity);
    const value = props[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw new UnsupportedFilter(`property ${name} holds no comparable value`);
    const type = (props[`${name}@odata.type`] as EdmType | undefined) ?? inferred(value);
    return { type, value: type === "Edm.Guid" ? String(value).toLowerCase() : value };
  };
}

/** The entity's JSON for a response, at the asked metadata level, limited to `select` when given. */
export function entityJson(pk: string, entity: StoredEntity, level: "none" | "minimal" | "full", select: Set<string> | undefined, extra: Record<string, string> = {}): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(extra)) parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  if (level !== "none") parts.push(`"odata.etag":${JSON.stringify(etagOf(entity))}`);
  const want = (name: string) => !select || select.has(name);
  if (want("PartitionKey")) parts.push(`"PartitionKey":${JSON.stringify(pk)}`);
  if (want("RowKey")) parts.push(`"RowKey":${JSON.stringify(entity.rk)}`);
  if (want("Timestamp")) {
    parts.push(`"Timestamp":"${entity.ts}"`);
    if (level === "full") parts.push(`"Timestamp@odata.type":"Edm.DateTime"`);
  }
  if (level === "minimal" && !select) {
    if (entity.props !== "") parts.push(entity.props);
  } else if (entity.props !== "") {
    const props = propsOf(entity);
    for (const name of Object.keys(props)) {
      if (name.endsWith("@odata.type") || !want(name)) continue;
      parts.push(`${JSON.stringify(name)}:${JSON.stringify(props[name])}`);
      const type = (props[`${name}@odata.type`] as string | undefined) ?? (level === "full" ? inferred(props[name]) : undefined);
      if (level !== "none" && type !== undefined && type !== "Edm.String") parts.push(`${JSON.stringify(`${name}@odata.type`)}:"${type}"`);
    }
  }
  return `{${parts.join(",")}}`;
}
