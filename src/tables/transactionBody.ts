/**
 * The request body of an entity group transaction, built as `@azure/data-tables` 13.3 builds it,
 * byte for byte, without sending each operation through a client of its own.
 *
 * The SDK's `TableClient.submitTransaction` builds a new client per transaction and sends every
 * operation through it as if it were a request of its own (a tracing span, the entity through its
 * serializer, then the generic operation serializer, a URL template, a pipeline of three policies
 * that intercepts it), then joins the parts. That is a third of the sync process's busy time in a
 * full round (docs/performance.md). Here each operation becomes its part directly: the entity
 * serialized by the SDK's rules (`serialization.ts`: keys renamed, EDM types annotated), the part
 * laid out as the SDK's transaction policy lays it out. test/tables/transactionBody.test.ts holds the
 * two bodies equal for every action kind, key escaping and value type; what cannot be built here
 * (a value type the SDK encodes but this does not) returns undefined and the SDK sends it.
 * docs/decisions.md, "Entity group transactions without the SDK's per-operation client".
 */
import type { TransactionAction } from "@azure/data-tables";

const CRLF = "\r\n";

/** The SDK's property renames (its `propertyCaseMap`, internal name to wire name). */
const WIRE_NAMES: ReadonlyMap<string, string> = new Map([["partitionKey", "PartitionKey"], ["rowKey", "RowKey"], ["etag", "odata.etag"], ["timestamp", "Timestamp"]]);
const WIRE_NAME_SET = new Set(WIRE_NAMES.values());

/** The EDM types an explicitly typed value may name (`{ value, type }`). */
const EDM_TYPES = new Set(["Boolean", "DateTime", "Double", "Guid", "Int32", "Int64", "String", "Binary"]);

/** Sub-request headers, in the order the SDK's generated operations set them. */
const WRITE_HEADERS = `Content-Type: application/json${CRLF}DataServiceVersion: 3.0${CRLF}Accept: application/json`;
const CREATE_HEADERS = `Content-Type: application/json;odata=nometadata${CRLF}Accept: application/json;odata=minimalmetadata${CRLF}DataServiceVersion: 3.0${CRLF}Prefer: return-no-content`;
const DELETE_HEADERS = `Accept: application/json;odata=minimalmetadata${CRLF}DataServiceVersion: 3.0${CRLF}If-Match: *`;

/** Where a transaction's operations are addressed: the table's URL, as the SDK's sub-requests name it. */
export interface TransactionTarget {
  /** `<account URL>/<table>`, normalized as a URL (the SDK's sub-request URL up to the keys). */
  tableUrl: string;
}

/** The target for `tableName` of the account at `accountUrl`, or undefined when its URL carries a query (a SAS) or a fragment. */
export function transactionTarget(accountUrl: string, tableName: string): TransactionTarget | undefined {
  const parsed = new URL(accountUrl);
  if (parsed.search !== "" || parsed.hash !== "") return undefined;
  const path = parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`;
  parsed.pathname = `${path}${encodeURIComponent(tableName)}`;
  return { tableUrl: parsed.toString() };
}

/** A key as the URL of an operation holds it: quotes doubled (OData), then URL-escaped. */
function keyInUrl(key: string): string {
  return encodeURIComponent(key.replace(/'/g, "''"));
}

/**
 * The entity's JSON as the SDK writes it: each own enumerable property under its wire name, a typed
 * or typed-by-kind value followed by its `@odata.type` (the SDK's `serialize`), then
 * `JSON.stringify`. Undefined for a value the SDK encodes in a way not reproduced here (bytes) or
 * refuses (it then throws its own error).
 */
export function entityJson(entity: Record<string, unknown>): string | undefined {
  const out: string[] = [];
  return writeEntityJson(out, entity) ? out.join("") : undefined;
}

/** Appends the entity's JSON (see entityJson) to `out`, in pieces; false when it is not built here. */
function writeEntityJson(out: string[], entity: Record<string, unknown>): boolean {
  try {
    if (writeEntityText(out, entity)) return true;
    const json = entityJsonByObject(entity);
    if (json === undefined) return false;
    out.push(json);
    return true;
  } catch {
    // Whatever JSON.stringify refuses (a BigInt inside a typed value…) is left to the SDK, which throws its own error.
    return false;
  }
}

/** A property's value and its EDM type as the SDK's `serialize` gives them; `invalid` when not reproduced here. */
function wireValue(value: unknown): { out: unknown; type: string | undefined } | "invalid" {
  if (value === null || value === undefined || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return { out: value, type: undefined };
  if (value instanceof Date) return { out: value, type: "Edm.DateTime" };
  if (typeof value === "bigint") return { out: value.toString(), type: "Edm.Int64" };
  if (typeof value !== "object") return "invalid";
  const typed = value as { value?: unknown; type?: unknown };
  if (typed.value === undefined || typeof typed.type !== "string" || !EDM_TYPES.has(typed.type)) return "invalid";
  return { out: typed.value, type: `Edm.${typed.type}` };
}

/** The SDK's way itself: a new object under the wire names, then one JSON.stringify. */
function entityJsonByObject(entity: Record<string, unknown>): string | undefined {
  const wire: Record<string, unknown> = {};
  for (const name in entity) {
    if (!Object.hasOwn(entity, name)) continue;
    const key = WIRE_NAMES.get(name) ?? name;
    const value = wireValue(entity[name]);
    if (value === "invalid") return undefined;
    // Plain assignment, as the SDK does (a `__proto__` name behaves as it does there).
    wire[key] = value.out;
    if (value.type !== undefined) wire[`${key}@odata.type`] = value.type;
  }
  return JSON.stringify(wire);
}

/**
 * A name's pieces of JSON text: `"WireName":` first or after a comma, and the start of its type
 * annotation; `special` when an object would order or drop it otherwise than the text written in
 * order: a name that is another's wire name, contains `@` (a type annotation's), is `__proto__`,
 * or starts with a digit (an object puts array-index names first).
 */
interface NameText {
  first: string;
  next: string;
  annotation: string;
  special: boolean;
}

/** Worked out once per name (the names of a page's users are the same). Bounded. */
const nameTexts = new Map<string, NameText>();
const MAX_NAME_TEXTS = 4096;

function nameText(name: string): NameText {
  let text = nameTexts.get(name);
  if (text === undefined) {
    if (nameTexts.size >= MAX_NAME_TEXTS) nameTexts.clear();
    const wire = WIRE_NAMES.get(name) ?? name;
    const quoted = `${JSON.stringify(wire)}:`;
    const c = name.charCodeAt(0);
    const special = (c >= 48 && c <= 57) || name === "__proto__" || name.includes("@") || WIRE_NAME_SET.has(name);
    text = { first: quoted, next: `,${quoted}`, annotation: `,${JSON.stringify(`${wire}@odata.type`)}:"`, special };
    nameTexts.set(name, text);
  }
  return text;
}

/**
 * The same text written directly, in pieces, without the intermediate object. False (nothing
 * appended; the caller then builds the object) for a special name (NameText) or a value not built
 * here.
 */
function writeEntityText(out: string[], entity: Record<string, unknown>): boolean {
  const mark = out.length;
  out.push("{");
  let first = true;
  for (const name in entity) {
    if (!Object.hasOwn(entity, name)) continue;
    const text = nameText(name);
    const value = entity[name];
    let json: string | undefined;
    let type: string | undefined;
    if (text.special) json = undefined;
    else if (typeof value === "string") json = JSON.stringify(value);
    else if (typeof value === "number") json = Number.isFinite(value) ? String(value) : "null";
    else if (typeof value === "boolean") json = value ? "true" : "false";
    else if (value === undefined) continue;
    else {
      const wire = wireValue(value);
      if (wire !== "invalid") [json, type] = [JSON.stringify(wire.out), wire.type];
    }
    if (json === undefined) {
      out.length = mark;
      return false;
    }
    out.push(first ? text.first : text.next, json);
    if (type !== undefined) out.push(text.annotation, type, '"');
    first = false;
  }
  out.push("}");
  return true;
}

/** Appends one operation's part: its request line, headers and body, as the SDK's transaction policy lays it out. */
function writeOperation(out: string[], target: TransactionTarget, changesetPrefix: string, action: TransactionAction): boolean {
  const [kind, entity] = action;
  const { partitionKey, rowKey } = entity as { partitionKey?: unknown; rowKey?: unknown };
  if (typeof partitionKey !== "string" || typeof rowKey !== "string") return false;
  if (kind === "create") {
    out.push(CRLF, changesetPrefix, "POST ", target.tableUrl, " HTTP/1.1", CRLF, CREATE_HEADERS, CRLF, CRLF, CRLF);
    return writeEntityJson(out, entity);
  }
  const url = `${target.tableUrl}(PartitionKey='${keyInUrl(partitionKey)}',RowKey='${keyInUrl(rowKey)}')`;
  if (kind === "delete") {
    out.push(CRLF, changesetPrefix, "DELETE ", url, " HTTP/1.1", CRLF, DELETE_HEADERS, CRLF, CRLF);
    return true;
  }
  const mode = action[2] ?? "Merge";
  const method = mode === "Replace" ? "PUT " : mode === "Merge" ? "PATCH " : undefined;
  if (method === undefined || (kind !== "upsert" && kind !== "update")) return false;
  out.push(CRLF, changesetPrefix, method, url, " HTTP/1.1", CRLF, WRITE_HEADERS);
  // An update is conditional (the ETag given, else any); an upsert is not.
  if (kind === "update") out.push(CRLF, "If-Match: ", (action[3] as { etag?: string } | undefined)?.etag ?? "*");
  out.push(CRLF, CRLF, CRLF);
  return writeEntityJson(out, entity);
}

/**
 * The multipart body of a transaction of `actions` (one partition) with these batch and changeset
 * ids, or undefined when one of its operations is not built here (the caller lets the SDK send it).
 * Written as pieces joined once: no intermediate string per operation or per entity.
 */
export function transactionBody(target: TransactionTarget, actions: readonly TransactionAction[], transactionId: string, changesetId: string): string | undefined {
  const changesetPrefix = `--changeset_${changesetId}${CRLF}content-type: application/http${CRLF}content-transfer-encoding: binary${CRLF}${CRLF}`;
  const out: string[] = [`--batch_${transactionId}${CRLF}content-type: multipart/mixed; boundary=changeset_${changesetId}${CRLF}${CRLF}`];
  for (const action of actions) {
    if (!writeOperation(out, target, changesetPrefix, action)) return undefined;
  }
  out.push(CRLF, `--changeset_${changesetId}--`, CRLF, `--batch_${transactionId}--`, CRLF);
  return out.join("");
}
