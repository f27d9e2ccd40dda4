/**
 * Entity group transactions (`POST /<account>/$batch`, multipart/mixed with one changeset) for the
 * indexed table service (indexedTableService.ts): the changeset's operations parsed (insert,
 * update or upsert with merge or replace, delete), checked as the service checks them (one table,
 * one partition, at most 100 operations, an entity at most once), applied all or nothing, and
 * answered as the service and Azurite answer: 202 with a changeset response of every operation's
 * status and ETag, or of the one operation that failed (its index first in the message).
 */
import { randomUUID } from "node:crypto";
import { etagOf, parseEntity, TableError, type IndexedTables } from "./store.js";

const CRLF = "\r\n";
const MAX_OPERATIONS = 100;

export interface BatchOperation {
  method: string;
  /** The path after the account: `<table>` or `<table>(PartitionKey='…',RowKey='…')`. */
  table: string;
  keys: { pk: string; rk: string } | undefined;
  headers: Map<string, string>;
  body: string;
}

/** `<table>` or `<table>(PartitionKey='…',RowKey='…')` (quotes doubled, URL-escaped), or undefined. */
export function parseEntityPath(path: string): { table: string; keys: { pk: string; rk: string } | undefined } | undefined {
  const raw = path.replace(/%27/gi, "'");
  const keyed = /^([A-Za-z][A-Za-z0-9]*)\(PartitionKey='((?:[^']|'')*)',\s*RowKey='((?:[^']|'')*)'\)$/.exec(raw);
  const unquote = (text: string) => decodeURIComponent(text).replace(/''/g, "'");
  if (keyed) return { table: keyed[1]!, keys: { pk: unquote(keyed[2]!), rk: unquote(keyed[3]!) } };
  const plain = /^([A-Za-z][A-Za-z0-9]*)(?:\(\))?$/.exec(raw);
  return plain ? { table: plain[1]!, keys: undefined } : undefined;
}

function headerBlock(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split(CRLF)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** The changeset's operations; a TableError for a body not shaped as a transaction. */
export function parseBatch(body: string, account: string): BatchOperation[] {
  const changeset = /boundary=(changeset_[^\s;]+)/i.exec(body)?.[1];
  if (!changeset) throw new TableError(400, "InvalidInput", "The batch request has no changeset.");
  const pieces = body.split(`--${changeset}`);
  // Before the first boundary: the batch part's header; after the last (`--…`): the terminators.
  const parts = pieces.slice(1).filter((piece) => !piece.startsWith("--"));
  return parts.map((part) => {
    const request = part.slice(part.indexOf(CRLF + CRLF) + 4);
    const headerEnd = request.indexOf(CRLF + CRLF);
    const head = headerEnd === -1 ? request : request.slice(0, headerEnd);
    const [requestLine = "", ...headerLines] = head.split(CRLF);
    const match = /^(\w+) (\S+) HTTP\/1\.1$/.exec(requestLine.trim());
    if (!match) throw new TableError(400, "InvalidInput", "An operation of the batch has no request line.");
    let body = headerEnd === -1 ? "" : request.slice(headerEnd + 4);
    if (body.endsWith(CRLF)) body = body.slice(0, -2);
    const url = new URL(match[2]!, "http://localhost");
    const prefix = `/${account}/`;
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "";
    const target = parseEntityPath(path);
    if (!target) throw new TableError(400, "InvalidInput", `An operation of the batch addresses ${url.pathname}, not an entity.`);
    return { method: match[1]!.toUpperCase(), ...target, headers: headerBlock(headerLines.join(CRLF)), body };
  });
}

const REASONS: Record<number, string> = { 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed", 501: "Not Implemented" };

/** Runs the transaction; the response body (the status is 202) and its boundary. */
export function runBatch(store: IndexedTables, operations: BatchOperation[], errorBody: (code: string, message: string) => string): { body: string; contentType: string } {
  const batchId = `batchresponse_${randomUUID()}`;
  const changesetId = `changesetresponse_${randomUUID()}`;
  const answers: string[] = [];
  const part = (status: number, headers: string[], body = "") =>
    `--${changesetId}${CRLF}Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}${CRLF}HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}${CRLF}${headers.map((h) => h + CRLF).join("")}${CRLF}${body}${CRLF}`;
  try {
    store.transaction(() => {
      if (operations.length > MAX_OPERATIONS) throw Object.assign(new TableError(400, "InvalidInput", "The batch request operation exceeds the maximum 100 changes per change set."), { index: 0 });
      const seen = new Set<string>();
      operations.forEach((operation, index) => {
        try {
          answers.push(apply(store, operations, operation, seen, part));
        } catch (error) {
          throw Object.assign(error as Error, { index });
        }
      });
    });
  } catch (error) {
    const failure = error instanceof TableError ? error : new TableError(500, "InternalError", (error as Error).message);
    const index = (error as { index?: number }).index ?? 0;
    answers.length = 0;
    answers.push(part(failure.status, ["X-Content-Type-Options: nosniff", "Cache-Control: no-cache", "DataServiceVersion: 3.0;", "Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8"], errorBody(failure.code, `${index}:${failure.message}`)));
  }
  const body = `--${batchId}${CRLF}Content-Type: multipart/mixed; boundary=${changesetId}${CRLF}${CRLF}${answers.join("")}--${changesetId}--${CRLF}--${batchId}--${CRLF}`;
  return { body, contentType: `multipart/mixed; boundary=${batchId}` };
}

function apply(store: IndexedTables, operations: BatchOperation[], operation: BatchOperation, seen: Set<string>, part: (status: number, headers: string[], body?: string) => string): string {
  const first = operations[0]!;
  if (operation.table !== first.table) throw new TableError(400, "InvalidInput", "All operations of a batch must be on the same table.");
  const entity = operation.method === "POST" ? parseEntity(operation.body) : undefined;
  const keys = entity ? { pk: entity.pk, rk: entity.rk } : operation.keys;
  if (!keys) throw new TableError(400, "InvalidInput", `A ${operation.method} in a batch needs the entity's keys in its URL.`);
  const firstKeys = first.method === "POST" ? parseEntity(first.body) : first.keys;
  if (firstKeys && keys.pk !== firstKeys.pk) throw new TableError(400, "CommandsInBatchActOnDifferentPartitions", "All commands in a batch must operate on same entity group.");
  const id = `${keys.pk}\u0000${keys.rk}`;
  if (seen.has(id)) throw new TableError(400, "InvalidDuplicateRow", "The batch request contains multiple changes with same row key. An entity can appear only once in a batch request.");
  seen.add(id);
  const common = ["X-Content-Type-Options: nosniff", "Cache-Control: no-cache", "DataServiceVersion: 1.0;"];
  const ifMatch = operation.headers.get("if-match");
  switch (operation.method) {
    case "POST": {
      const stored = store.insert(first.table, entity!);
      const noContent = /return-no-content/i.test(operation.headers.get("prefer") ?? "");
      return noContent
        ? part(204, [...common, "Preference-Applied: return-no-content", `Location: ${entityUrl(first.table, keys)}`, `DataServiceId: ${entityUrl(first.table, keys)}`, `ETag: ${etagOf(stored)}`])
        : part(201, [...common, "Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8", `ETag: ${etagOf(stored)}`]);
    }
    case "PUT":
    case "PATCH":
    case "MERGE": {
      const stored = store.put(first.table, parseEntity(operation.body, keys), ifMatch, operation.method !== "PUT");
      return part(204, [...common, `ETag: ${etagOf(stored)}`]);
    }
    case "DELETE":
      store.delete(first.table, keys.pk, keys.rk, ifMatch);
      return part(204, common);
    default:
      throw new TableError(501, "NotImplemented", `${operation.method} in a batch is not supported by this benchmark store.`);
  }
}

const entityUrl = (table: string, keys: { pk: string; rk: string }) =>
  `${table}(PartitionKey='${encodeURIComponent(keys.pk.replace(/'/g, "''"))}',RowKey='${encodeURIComponent(keys.rk.replace(/'/g, "''"))}')`;
