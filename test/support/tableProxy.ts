/**
 * A loopback HTTP proxy in front of Azurite's table endpoint, for tests that need a table request
 * to be late or never answered: each request is shown to `decide`, which lets it through, holds it
 * (the client sees a request in flight) until a promise settles and then sends it on, or stalls it
 * for good (the connection stays open and silent, as a dead middlebox would leave it).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** Path and query, e.g. /devstoreaccount1/$batch */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** 1 for the first request through the proxy. */
  sequence: number;
}

/**
 * `pass`: send on now. `stall`: never answer. `loseAnswer`: send on (the service applies it) but
 * never answer, as a connection dropped after the request arrived. A promise: send on once it settles.
 */
export type ProxyDecision = "pass" | "stall" | "loseAnswer" | Promise<unknown>;

export interface TableProxy {
  /** The proxy's table endpoint, e.g. http://127.0.0.1:5555/devstoreaccount1 */
  tableEndpoint: string;
  /** `connectionString` (Azurite's) with its TableEndpoint pointed at the proxy. */
  connectionString: string;
  /** What to do with each request; the default lets everything through. */
  decide: (request: ProxiedRequest) => ProxyDecision;
  /** Requests seen so far (bodies included). */
  readonly seen: ProxiedRequest[];
  /** What the service answered to requests that were sent on (status per sequence number). */
  readonly answered: Map<number, { status: number; body: string }>;
  close(): Promise<void>;
}

export async function startTableProxy(target: { tableEndpoint: string; connectionString: string }): Promise<TableProxy> {
  const upstream = new URL(target.tableEndpoint);
  const stalled = new Set<ServerResponse>();
  let sequence = 0;
  const proxy: TableProxy = {
    tableEndpoint: "",
    connectionString: "",
    decide: () => "pass",
    seen: [],
    answered: new Map(),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: body.toString("utf8"), sequence: ++sequence };
      proxy.seen.push(seen);
      const decision = proxy.decide(seen);
      if (decision === "stall") {
        stalled.add(res);
        return;
      }
      const forward = () => {
        const out = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: seen.method, path: seen.path, headers: { ...req.headers, host: upstream.host } },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on("data", (chunk: Buffer) => parts.push(chunk));
            answer.on("end", () => {
              const answerBody = Buffer.concat(parts);
              proxy.answered.set(seen.sequence, { status: answer.statusCode ?? 0, body: answerBody.toString("utf8") });
              if (res.destroyed) return;
              if (decision === "loseAnswer") {
                stalled.add(res);
                return;
              }
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(answerBody);
            });
          },
        );
        out.on("error", () => res.destroy());
        out.end(body);
      };
      if (decision === "pass" || decision === "loseAnswer") forward();
      else void decision.then(forward, forward);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  proxy.tableEndpoint = `http://127.0.0.1:${port}${upstream.pathname}`;
  proxy.connectionString = target.connectionString.replace(/TableEndpoint=[^;]+/, `TableEndpoint=${proxy.tableEndpoint}`);
  proxy.close = async () => {
    for (const res of stalled) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** True for an entity group transaction whose operations target `table` (its body names the table's URL). */
export function isBatchTo(request: ProxiedRequest, table: string): boolean {
  return request.path.includes("$batch") && (request.body.includes(`/${table}(`) || request.body.includes(`/${table} HTTP`));
}
