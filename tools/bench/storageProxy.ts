/**
 * A counting proxy on loopback in front of Azurite's table and queue services, for the fleet
 * benchmark (fleetBench.ts): every request the product sends to storage passes through it and is
 * recorded (service, method, path, query, answer, when), so that a run's storage transactions can
 * be counted and classified without touching the product. Bodies are streamed through unchanged;
 * the shared-key signature covers the path and headers, not the host, so the signed requests stay
 * valid. One keep-alive agent per service carries the requests to Azurite.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type StorageService = "table" | "queue";

/** One request as it reached storage. */
export interface StorageRequest {
  service: StorageService;
  method: string;
  /** The path after the account, decoded: e.g. `/t0123…Runs(PartitionKey='lease',RowKey='writer')` or `/entra-user-sync-tenants/messages`. */
  path: string;
  /** The query string without the leading `?` (never holds a secret: shared-key requests carry none). */
  query: string;
  /** The answer's status; 0 when the request failed before an answer. */
  status: number;
  /** An insert's keys (POST of one entity to a table), or a transaction's first entity's, read from the first bytes of its body. */
  body?: { partitionKey?: string; rowKey?: string; table?: string };
  /** performance.now() when the request arrived and when its answer ended. */
  startedAt: number;
  endedAt: number;
}

export interface CountingProxy {
  /** Endpoints to put in the connection string (TableEndpoint, QueueEndpoint), with the account path. */
  tableEndpoint: string;
  queueEndpoint: string | undefined;
  /** Requests recorded since the last reset, in arrival order (an answer's status is filled in when it ends). */
  requests(): readonly StorageRequest[];
  reset(): void;
  close(): Promise<void>;
}

export interface CountingProxyTargets {
  /** e.g. http://127.0.0.1:54321/devstoreaccount1 */
  tableEndpoint: string;
  queueEndpoint?: string | undefined;
}

/** Azurite's connection string with the endpoints replaced by the proxy's. */
export function throughProxy(connectionString: string, targets: CountingProxyTargets, proxy: CountingProxy): string {
  let text = connectionString.replace(`TableEndpoint=${targets.tableEndpoint};`, `TableEndpoint=${proxy.tableEndpoint};`);
  if (targets.queueEndpoint && proxy.queueEndpoint) text = text.replace(`QueueEndpoint=${targets.queueEndpoint};`, `QueueEndpoint=${proxy.queueEndpoint};`);
  if (!text.includes(proxy.tableEndpoint)) throw new Error("The connection string does not name the table endpoint the proxy stands in front of.");
  return text;
}

export async function startCountingProxy(targets: CountingProxyTargets): Promise<CountingProxy> {
  let recorded: StorageRequest[] = [];
  const servers: Server[] = [];
  const agents: Agent[] = [];
  const listen = async (service: StorageService, endpoint: string): Promise<string> => {
    const target = new URL(endpoint);
    const account = target.pathname.replace(/\/$/, "");
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    agents.push(agent);
    const server = createServer((incoming, outgoing) => {
      const url = incoming.url ?? "/";
      const queryAt = url.indexOf("?");
      const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
      const entry: StorageRequest = {
        service,
        method: incoming.method ?? "GET",
        path: safeDecode(rawPath.startsWith(account) ? rawPath.slice(account.length) : rawPath),
        query: queryAt < 0 ? "" : safeDecode(url.slice(queryAt + 1)),
        status: 0,
        startedAt: performance.now(),
        endedAt: 0,
      };
      recorded.push(entry);
      // An insert's keys, and a transaction's first entity's (what its partition is for).
      if (service === "table" && entry.method === "POST" && entry.path !== "/Tables") readKeys(incoming, entry);
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: incoming.method, path: url, headers: incoming.headers, agent },
        (answer: IncomingMessage) => {
          entry.status = answer.statusCode ?? 0;
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
          answer.on("end", () => (entry.endedAt = performance.now()));
        },
      );
      upstream.on("error", (error) => {
        entry.endedAt = performance.now();
        if (!outgoing.headersSent) outgoing.writeHead(502);
        outgoing.end(String(error.message));
      });
      incoming.pipe(upstream);
    });
    server.keepAliveTimeout = 30_000;
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${account}`;
  };
  const tableEndpoint = await listen("table", targets.tableEndpoint);
  const queueEndpoint = targets.queueEndpoint ? await listen("queue", targets.queueEndpoint) : undefined;
  return {
    tableEndpoint,
    queueEndpoint,
    requests: () => recorded,
    reset: () => {
      recorded = [];
    },
    close: async () => {
      for (const agent of agents) agent.destroy();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** The keys of an inserted entity (or a transaction's first), from the first 8 KB of its body (the stream still flows to Azurite). */
function readKeys(incoming: IncomingMessage, entry: StorageRequest): void {
  let head = "";
  incoming.on("data", (chunk: Buffer) => {
    if (head.length >= 8192) return;
    head += chunk.toString("utf8", 0, Math.min(chunk.length, 8192));
    const partitionKey = /"PartitionKey"\s*:\s*"([^"]*)"/.exec(head)?.[1];
    const rowKey = /"RowKey"\s*:\s*"([^"]*)"/.exec(head)?.[1];
    // A transaction (POST /$batch) names its table in each operation's request line.
    const table = /^(?:POST|PUT|MERGE|PATCH|DELETE) \S*?\/([A-Za-z][A-Za-z0-9]*)[( ]/m.exec(head)?.[1];
    if (partitionKey !== undefined || rowKey !== undefined || table !== undefined) entry.body = { ...(partitionKey !== undefined ? { partitionKey } : {}), ...(rowKey !== undefined ? { rowKey } : {}), ...(table !== undefined ? { table } : {}) };
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
