/**
 * A benchmark-only Table service with indexed tables (docs/decisions.md, "An indexed table service
 * for the groups benchmark"): an HTTP server on 127.0.0.1 speaking the Azure Table REST protocol
 * (JSON) as far as the product and `@azure/data-tables` use it, over tables held in memory as
 * B+ trees by PartitionKey then RowKey (indexedTable/store.ts). A point operation costs O(log n)
 * and a query over a key range reads only that range, so a store of millions of rows costs per row
 * what a small one does; Azurite's in-memory tables scan the whole table for inserts and queries,
 * which makes a round of the issue's size quadratic there (docs/performance.md, "The groups round").
 *
 * Not a product dependency and not a test double for correctness: test/tools/bench/
 * indexedTableService.test.ts drives it through the real SDK clients and compares the compiled CLI's
 * exports against Azurite's, line for line. Served: tables (create, delete, list), entities (insert,
 * get, update and upsert with merge or replace, If-Match `*` or an ETag, delete), queries
 * (`$filter`, `$select`, `$top` up to 1,000, continuation headers), entity group transactions
 * (`$batch`). JSON only, with `odata=nometadata|minimalmetadata|fullmetadata`. A `$filter` it
 * cannot evaluate (indexedTable/filter.ts) is answered 501 NotImplemented, never guessed.
 *
 * Authentication is NOT checked: the SDK signs every request with the account's shared key (the
 * Azurite development account's connection string works as is) and this service accepts any
 * account name in the path and any signature. Loopback only; the benchmark's own data.
 *
 * Run as a child process by startIndexedTableService() (its CPU and memory apart from the sync's,
 * as Azurite's are); `node dist/tools/bench/indexedTableService.js` prints {"port":…} and serves
 * until its parent goes away.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBatch, parseEntityPath, runBatch } from "./indexedTable/batch.js";
import { parseFilter, UnsupportedFilter, type FilterNode } from "./indexedTable/filter.js";
import { entityJson, etagOf, IndexedTables, parseEntity, TableError } from "./indexedTable/store.js";

/** The development account's name and key (public, documented by Microsoft), as Azurite's. */
const ACCOUNT_NAME = "devstoreaccount1";
const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const MAX_TOP = 1000;

type Level = "none" | "minimal" | "full";

function levelOf(request: IncomingMessage, url: URL): Level {
  const asked = `${url.searchParams.get("$format") ?? ""} ${request.headers.accept ?? ""}`;
  return asked.includes("odata=nometadata") ? "none" : asked.includes("odata=fullmetadata") ? "full" : "minimal";
}

const contentTypeOf = (level: Level) => `application/json;odata=${level}metadata;streaming=true;charset=utf-8`;

function errorBody(code: string, message: string): string {
  return JSON.stringify({ "odata.error": { code, message: { lang: "en-US", value: `${message}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}` } } });
}

/** Continuation tokens: opaque to the client (the keys may hold any character), as the service's are. */
const token = (key: string) => `1!${Buffer.from(key, "utf8").toString("base64url")}`;
const untoken = (text: string | null) => (text === null || text === "" ? undefined : Buffer.from(text.replace(/^1!/, ""), "base64url").toString("utf8"));

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

export function createIndexedTableServer(store = new IndexedTables()): Server {
  return createServer((request, response) => {
    void handle(store, request, response).catch((error: unknown) => {
      const failure = error instanceof TableError ? error : error instanceof UnsupportedFilter ? new TableError(501, "NotImplemented", `This benchmark store cannot evaluate the $filter: ${error.message}.`) : new TableError(500, "InternalError", String((error as Error)?.message ?? error));
      if (response.headersSent) return void response.destroy();
      send(response, failure.status, { "Content-Type": contentTypeOf("minimal"), "x-ms-error-code": failure.code }, errorBody(failure.code, failure.message));
    });
  });
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body = ""): void {
  response.writeHead(status, { "x-ms-request-id": randomUUID(), "x-ms-version": "2019-02-02", Date: new Date().toUTCString(), ...headers, ...(body ? {} : { "Content-Length": "0" }) });
  response.end(body);
}

async function handle(store: IndexedTables, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const [, account = "", ...rest] = url.pathname.split("/");
  const path = rest.join("/");
  const method = (request.headers["x-http-method"] as string | undefined) ?? request.method ?? "GET";
  const body = await readBody(request);
  const level = levelOf(request, url);
  const noContent = /return-no-content/i.test(String(request.headers.prefer ?? ""));
  const base = `http://${request.headers.host ?? "127.0.0.1"}/${account}`;

  if (path === "$batch" && method === "POST") {
    const answer = runBatch(store, parseBatch(body, account), errorBody);
    return send(response, 202, { "Content-Type": answer.contentType }, answer.body);
  }
  if (path === "Tables" && method === "POST") {
    const name = (JSON.parse(body || "{}") as { TableName?: unknown }).TableName;
    if (typeof name !== "string") throw new TableError(400, "InvalidInput", "TableName is missing.");
    store.createTable(name);
    if (noContent) return send(response, 204, { "Preference-Applied": "return-no-content" });
    return send(response, 201, { "Content-Type": contentTypeOf(level) }, JSON.stringify({ ...(level === "none" ? {} : { "odata.metadata": `${base}/$metadata#Tables/@Element` }), TableName: name }));
  }
  if (path === "Tables" && method === "GET") {
    if (url.searchParams.has("$filter")) throw new TableError(501, "NotImplemented", "Listing tables with a $filter is not supported by this benchmark store.");
    return send(response, 200, { "Content-Type": contentTypeOf(level) }, JSON.stringify({ value: store.tableNames().map((TableName) => ({ TableName })) }));
  }
  const deleted = /^Tables\('([^']+)'\)$/.exec(decodeURIComponent(path));
  if (deleted && method === "DELETE") {
    store.deleteTable(deleted[1]!);
    return send(response, 204, {});
  }
  const target = parseEntityPath(path);
  if (!target) throw new TableError(400, "InvalidUri", `The request URI ${url.pathname} is not a table or an entity.`);
  const ifMatch = request.headers["if-match"] as string | undefined;
  const { table, keys } = target;
  switch (method) {
    case "GET": {
      const select = url.searchParams.get("$select");
      const selected = select ? new Set(select.split(",").map((s) => s.trim()).filter(Boolean)) : undefined;
      if (keys) {
        const entity = store.get(table, keys.pk, keys.rk);
        const metadata: Record<string, string> = level === "none" ? {} : { "odata.metadata": `${base}/$metadata#${table}/@Element` };
        return send(response, 200, { "Content-Type": contentTypeOf(level), ETag: etagOf(entity) }, entityJson(keys.pk, entity, level, selected, metadata));
      }
      const filterText = url.searchParams.get("$filter");
      const filter: FilterNode | undefined = filterText ? parseFilter(filterText) : undefined;
      const topText = url.searchParams.get("$top");
      const top = topText === null ? MAX_TOP : Number(topText);
      if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) throw new TableError(400, "InvalidInput", `$top must be from 1 to ${MAX_TOP}.`);
      const page = store.query(table, filter, top, { pk: untoken(url.searchParams.get("NextPartitionKey")), rk: untoken(url.searchParams.get("NextRowKey")) });
      const rows = page.rows.map(({ pk, entity }) => entityJson(pk, entity, level, selected));
      const metadata = level === "none" ? "" : `"odata.metadata":${JSON.stringify(`${base}/$metadata#${table}`)},`;
      const next: Record<string, string> = page.next ? { "x-ms-continuation-NextPartitionKey": token(page.next.pk), "x-ms-continuation-NextRowKey": token(page.next.rk) } : {};
      return send(response, 200, { "Content-Type": contentTypeOf(level), ...next }, `{${metadata}"value":[${rows.join(",")}]}`);
    }
    case "POST": {
      if (keys) throw new TableError(400, "InvalidInput", "An insert is posted to the table, not to an entity.");
      const parsed = parseEntity(body);
      const entity = store.insert(table, parsed);
      if (noContent) return send(response, 204, { ETag: etagOf(entity), "Preference-Applied": "return-no-content" });
      return send(response, 201, { "Content-Type": contentTypeOf(level), ETag: etagOf(entity) }, entityJson(parsed.pk, entity, level, undefined));
    }
    case "PUT":
    case "PATCH":
    case "MERGE": {
      if (!keys) throw new TableError(400, "InvalidInput", `A ${method} needs the entity's keys in its URL.`);
      const entity = store.put(table, parseEntity(body, keys), ifMatch, method !== "PUT");
      return send(response, 204, { ETag: etagOf(entity) });
    }
    case "DELETE": {
      if (!keys) throw new TableError(400, "InvalidInput", "A DELETE needs the entity's keys in its URL.");
      if (ifMatch === undefined) throw new TableError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified (If-Match).");
      store.delete(table, keys.pk, keys.rk, ifMatch);
      return send(response, 204, {});
    }
    default:
      throw new TableError(501, "NotImplemented", `${method} is not supported by this benchmark store.`);
  }
}

export interface IndexedTableService {
  /** e.g. http://127.0.0.1:54321/devstoreaccount1 */
  tableEndpoint: string;
  /** The development account with this endpoint (secret-shaped though public: never print it). */
  connectionString: string;
  /** The service's process (the benchmark reads its CPU time), when run as a child. */
  pid: number | undefined;
  close(): Promise<void>;
}

const connectionStringFor = (endpoint: string) => `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};TableEndpoint=${endpoint};`;

/** In this process (tests). */
export async function startIndexedTableServer(): Promise<IndexedTableService> {
  const server = createIndexedTableServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
  const tableEndpoint = `http://127.0.0.1:${port}/${ACCOUNT_NAME}`;
  return { tableEndpoint, connectionString: connectionStringFor(tableEndpoint), pid: process.pid, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export interface StartIndexedTableServiceOptions {
  /** The V8 heap's ceiling of the service's process (the tables live there). Default 16,384 MiB. */
  maxHeapMib?: number;
  /** How long to wait for it to listen. Default 30 s. */
  startTimeoutInMs?: number;
}

/** As its own child process (the benchmark): it exits when this process goes away. */
export function startIndexedTableService(options: StartIndexedTableServiceOptions = {}): Promise<IndexedTableService> {
  const self = fileURLToPath(import.meta.url);
  // From TypeScript (tests), the compiled file next to the compiled CLI (`npm run build`).
  const script = self.endsWith(".ts") ? join(dirname(self), "..", "..", "dist", "tools", "bench", "indexedTableService.js") : self;
  const child: ChildProcess = spawn(process.execPath, [`--max-old-space-size=${options.maxHeapMib ?? 16_384}`, script], { stdio: ["ignore", "pipe", "inherit", "ipc"], env: { ...process.env, NODE_OPTIONS: "" } });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (kill(), reject(new Error(`The indexed table service did not start within ${options.startTimeoutInMs ?? 30_000} ms.`))), options.startTimeoutInMs ?? 30_000);
    let out = "";
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`The indexed table service exited (code ${code}) before it listened.`))));
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const port = /\{"port":(\d+)\}/.exec(out)?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.unref();
      child.channel?.unref();
      const tableEndpoint = `http://127.0.0.1:${port}/${ACCOUNT_NAME}`;
      resolve({
        tableEndpoint,
        connectionString: connectionStringFor(tableEndpoint),
        pid: child.pid,
        close: () =>
          new Promise((done) => {
            process.off("exit", kill);
            if (child.exitCode !== null) return done();
            // Referenced again until it has gone, so that this process waits for it.
            child.ref();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const server = createIndexedTableServer();
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
  const stop = () => process.exit(0);
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
}
