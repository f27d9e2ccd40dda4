/**
 * What a storage request was for, from what the counting proxy saw (storageProxy.ts): the fleet
 * benchmark's kinds (registry, queue, lease, fences, delta state, run records, …) and, within each,
 * the operation, named one by one (e.g. "lease: take (insert)"). Tenant tables are named
 * `t<32 hex>` + a suffix (src/tenants/tenantId.ts); the registry is `<prefix>Tenants`; the queues are
 * the tenant queue and its poison queue. The layout it reads (partition and row keys) is the
 * product's: docs/storage.md.
 */
import type { StorageRequest } from "./storageProxy.js";

export const STORAGE_KINDS = ["registry", "queue", "lease", "fences", "delta state", "run records", "change log", "users", "tables", "other"] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

export interface ClassifiedRequest {
  kind: StorageKind;
  /** e.g. "registry: read row", "queue: send". */
  operation: string;
  /** The tenant's table prefix (`t<hex>`), when the request is about one tenant's tables. */
  tenantTables?: string;
}

const TENANT_TABLE = /^\/(t[0-9a-f]{32})([A-Za-z]*)(\(|$|\/)/;
const KEYS = /\(PartitionKey='([^']*)',RowKey='([^']*)'\)/;

function verb(request: StorageRequest, keyed: boolean): string {
  switch (request.method) {
    case "GET":
      return keyed ? "read" : "query";
    case "PUT":
      return "write (replace)";
    case "MERGE":
    case "PATCH":
      return "write (merge)";
    case "POST":
      return "insert";
    case "DELETE":
      return "delete";
    default:
      return request.method;
  }
}

function classifyQueue(request: StorageRequest): ClassifiedRequest {
  const poison = request.path.includes("-poison");
  const where = poison ? "poison queue" : "tenant queue";
  if (request.path.endsWith("/messages") && request.method === "POST") return { kind: "queue", operation: `queue: send (${where})` };
  if (request.path.endsWith("/messages") && request.method === "GET") return { kind: "queue", operation: `queue: receive (${where})` };
  if (request.path.includes("/messages/") && request.method === "DELETE") return { kind: "queue", operation: `queue: delete message (${where})` };
  if (request.path.includes("/messages/") && request.method === "PUT") return { kind: "queue", operation: `queue: update visibility (${where})` };
  if (request.query.includes("comp=metadata")) return { kind: "queue", operation: `queue: read properties (${where})` };
  if (request.method === "PUT") return { kind: "queue", operation: `queue: create (${where})` };
  return { kind: "queue", operation: `queue: ${request.method} ${where}` };
}

export function classifyStorageRequest(request: StorageRequest): ClassifiedRequest {
  if (request.service === "queue") return classifyQueue(request);
  if (request.path === "/Tables" || request.path.startsWith("/Tables(")) return { kind: "tables", operation: `tables: ${request.method === "POST" ? "create (exists: 409)" : request.method}` };
  const keys = KEYS.exec(request.path);
  // A transaction is sent to the account (`/$batch`): its table is the one its operations name.
  const tenant = TENANT_TABLE.exec(request.path === "/$batch" && request.body?.table ? `/${request.body.table}` : request.path);
  if (!tenant) {
    if (/^\/[A-Za-z0-9]*Tenants(\(|$)/.test(request.path)) return { kind: "registry", operation: `registry: ${verb(request, keys !== null)} ${keys ? "row" : "rows"}` };
    return { kind: "other", operation: `other: ${request.method} ${request.path.replace(/\(.*$/, "")}` };
  }
  const [, prefix, suffix] = tenant;
  const tenantTables = prefix!;
  const batch = request.path.endsWith("$batch");
  const [partitionKey, rowKey] = keys ? [keys[1]!, keys[2]!] : [request.body?.partitionKey, request.body?.rowKey];
  const what = verb(request, keys !== null);
  // The mirror's round ends with its run record and delta state in one transaction of the runs partition.
  if (batch && suffix === "Mirror" && partitionKey === "runs") return { kind: "run records", operation: "run records: the mirror run's end with the delta state (one transaction)", tenantTables };
  if (batch) return { kind: "users", operation: `users: $batch (${suffix})`, tenantTables };
  if (suffix === "Runs") {
    if (rowKey === "lease") return { kind: "lease", operation: `lease: ${request.method === "POST" ? "take (insert)" : request.method === "DELETE" ? "release (delete)" : request.method === "GET" ? "read" : "renew or take over (replace)"}`, tenantTables };
    if (rowKey === "latest") return { kind: "run records", operation: `run records: ${what} the latest snapshot's pointer`, tenantTables };
    if (request.method === "GET" && !keys && request.query.includes("RowKey eq 'latest'")) return { kind: "run records", operation: "run records: query the latest snapshot's pointer and unfinished snapshot runs", tenantTables };
    if (request.method === "GET" && !keys) return { kind: "run records", operation: `run records: query snapshot runs${request.query.includes("status eq 'running'") ? " (unfinished)" : ""}`, tenantTables };
    return { kind: "run records", operation: `run records: ${what} a snapshot run`, tenantTables };
  }
  if (rowKey === "" && partitionKey !== undefined) return { kind: "fences", operation: `fences: ${what} a partition's fence row (${suffix})`, tenantTables };
  if (suffix === "Mirror") {
    if (partitionKey === "state" || (partitionKey === "runs" && rowKey === "delta")) return { kind: "delta state", operation: `delta state: ${what}`, tenantTables };
    if (!keys && request.query.includes("RowKey eq 'delta'")) return { kind: "delta state", operation: "delta state: query it with the unfinished mirror runs", tenantTables };
    if (partitionKey === "runs" || (!keys && request.query.includes("PartitionKey eq 'runs'"))) return { kind: "run records", operation: `run records: ${what} mirror run${keys || partitionKey ? "" : "s"}`, tenantTables };
    return { kind: "users", operation: `users: ${what} (Mirror)`, tenantTables };
  }
  if (suffix === "MirrorChanges") return { kind: "change log", operation: `change log: ${what}`, tenantTables };
  return { kind: "users", operation: `users: ${what} (${suffix})`, tenantTables };
}
