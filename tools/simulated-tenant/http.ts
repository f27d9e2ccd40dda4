/**
 * The small HTTP framework the simulated services share: one HTTPS listener per service on
 * loopback, a route table per listener, a request log, and a hook that lets a test (or a later
 * fault script) answer any request in place of the service.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

export type ServiceName = "token" | "metadata" | "graph" | "keyVault" | "managedIdentity";

export interface SimulatedRequest {
  service: ServiceName;
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** The request body as text (token requests are form-encoded). */
  body: string;
  /** Groups from the route's pattern. */
  params: string[];
  /** A fresh GUID per request, used as request-id / trace id in answers. */
  requestId: string;
}

export interface SimulatedResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are. */
  body?: unknown;
  /** Waits this long before answering (simulated latency). */
  delayInMs?: number;
  /** Destroys the connection instead of answering (after delayInMs): the client sees a connection reset. */
  reset?: boolean;
}

export type RouteHandler = (request: SimulatedRequest) => SimulatedResponse | Promise<SimulatedResponse>;

export interface Route {
  service: ServiceName;
  method: string;
  /** Matched against the URL path (no query). */
  path: RegExp;
  handler: RouteHandler;
}

/**
 * Answers a request in place of the service when it returns a response; returns undefined to let
 * the service answer. Interceptors see every request of their service, in registration order.
 */
export type RequestInterceptor = (request: SimulatedRequest) => SimulatedResponse | undefined | Promise<SimulatedResponse | undefined>;

export interface RequestLogEntry {
  service: string;
  method: string;
  path: string;
  status: number;
}

const SECRET_QUERY_PARAMETERS = /^(client_assertion|client_secret|code|access_token|refresh_token|assertion|sig|password)$/i;
const MAX_LOG_ENTRIES = 10_000;

export class RequestLog {
  private counts = new Map<string, number>();
  private log: RequestLogEntry[] = [];

  record(entry: RequestLogEntry): void {
    this.counts.set(entry.service, (this.counts.get(entry.service) ?? 0) + 1);
    this.log.push(entry);
    if (this.log.length > MAX_LOG_ENTRIES) this.log.splice(0, this.log.length - MAX_LOG_ENTRIES);
  }
  count(service: ServiceName): number {
    return this.counts.get(service) ?? 0;
  }
  reset(): void {
    this.counts.clear();
    this.log = [];
  }
  /** The most recent entries (up to 10,000), oldest first. */
  entries(): ReadonlyArray<RequestLogEntry> {
    return [...this.log];
  }
}

/** The path and query of a URL with every secret-bearing query parameter's value removed. */
export function loggablePath(url: URL): string {
  const query = new URLSearchParams();
  for (const [name, value] of url.searchParams) query.append(name, SECRET_QUERY_PARAMETERS.test(name) ? "[redacted]" : value);
  const search = query.toString();
  return search === "" ? url.pathname : `${url.pathname}?${search}`;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): SimulatedResponse {
  return { status, body, headers: { "content-type": "application/json; charset=utf-8", ...headers } };
}

export interface ListenerOptions {
  /** Used when no route matches. */
  defaultService: ServiceName;
  routes: Route[];
  tls: { key: string; cert: string };
  log: RequestLog;
  interceptors: Map<ServiceName, RequestInterceptor[]>;
  /** Answer for a path no route knows (e.g. the service's own 404 shape). */
  notFound: RouteHandler;
}

export interface Listener {
  server: Server;
  /** https://127.0.0.1:<port> */
  origin: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, answer: SimulatedResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload: string | undefined;
  if (answer.body !== undefined) {
    if (typeof answer.body === "string") {
      payload = answer.body;
    } else {
      payload = JSON.stringify(answer.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json; charset=utf-8";
    }
    headers["content-length"] = String(Buffer.byteLength(payload));
  } else {
    headers["content-length"] = "0";
  }
  response.writeHead(answer.status, headers);
  response.end(payload);
}

export async function startListener(options: ListenerOptions): Promise<Listener> {
  const server = createServer({ key: options.tls.key, cert: options.tls.cert }, (request, response) => {
    void handle(request, response);
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "https://127.0.0.1");
    const method = (request.method ?? "GET").toUpperCase();
    let service = options.defaultService;
    let answer: SimulatedResponse;
    try {
      const body = await readBody(request);
      let handler = options.notFound;
      let params: string[] = [];
      for (const route of options.routes) {
        const match = route.path.exec(url.pathname);
        if (match && route.method === method) {
          handler = route.handler;
          service = route.service;
          params = match.slice(1).map((p) => (p === undefined ? "" : decodeURIComponent(p)));
          break;
        }
      }
      const simulated: SimulatedRequest = { service, method, url, headers: request.headers, body, params, requestId: randomUUID() };
      let intercepted: SimulatedResponse | undefined;
      for (const interceptor of options.interceptors.get(service) ?? []) {
        intercepted = await interceptor(simulated);
        if (intercepted !== undefined) break;
      }
      answer = intercepted ?? (await handler(simulated));
    } catch (error) {
      answer = jsonResponse(500, { error: { code: "InternalServerError", message: `The simulated tenant failed: ${(error as Error).message}` } });
    }
    if (answer.delayInMs !== undefined && answer.delayInMs > 0) await new Promise((resolve) => setTimeout(resolve, answer.delayInMs));
    options.log.record({ service, method, path: loggablePath(url), status: answer.reset ? 0 : answer.status });
    if (answer.reset) request.socket.destroy();
    else if (!response.destroyed) send(response, answer);
  }

  return { server, ...(await listenOnLoopback(server)) };
}

/**
 * Starts an HTTPS server on a free loopback port. `close` stops it and drops its open connections
 * (a second call does nothing).
 */
export async function listenOnLoopback(server: Server): Promise<{ origin: string; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    origin: `https://127.0.0.1:${port}`,
    close: () =>
      closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            closed = true;
            server.close(() => resolve());
            server.closeAllConnections();
          }),
  };
}
