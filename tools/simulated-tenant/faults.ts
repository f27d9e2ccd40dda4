/**
 * Per-request fault scripts for the simulated Graph, built on the listeners' `intercept` hook: a test
 * queues steps, and each of the next Graph requests takes one step, in order. A step either answers
 * in place of Graph (an error status, a reset, a body that is not JSON) or lets Graph answer and
 * alters its page (no `value`, a user without `id`, a foreign nextLink, a nextLink back to an earlier
 * request, repeated users, properties left out or added, throttle headers, latency). An empty step `{}` lets one request through untouched.
 */
import { createServer, type Server } from "node:https";
import { decodeSkipToken, graphError } from "./graph.js";
import { listenOnLoopback, type RequestInterceptor, type Route, type RouteHandler, type ServiceName, type SimulatedRequest, type SimulatedResponse } from "./http.js";
import type { TenantState } from "./state.js";
import { resolveSelect } from "./users.js";

export interface GraphFaultStep {
  /** Answer with this status and Graph's error body instead of the page. */
  status?: 401 | 403 | 429 | 500 | 502 | 503 | 504;
  /** With `status`: a `Retry-After` in seconds. */
  retryAfterSeconds?: number;
  /** With `status`: a `Retry-After` as an HTTP date. */
  retryAfterDate?: Date;
  /** Destroy the connection instead of answering (a connection reset). */
  reset?: boolean;
  /** Wait this long before answering (beyond the client's timeout: a timeout). */
  delayInMs?: number;
  /** Answer 200 with an HTML body, as a misbehaving proxy would. */
  notJson?: boolean;
  /** Graph's page without its `value` array. */
  withoutValue?: boolean;
  /** Graph's page with the `id` of its first user removed. */
  userWithoutId?: boolean;
  /** Graph's page with this `@odata.nextLink`. */
  nextLink?: string;
  /**
   * Graph's page (of `/users` or `/users/delta`) with its `@odata.nextLink` pointing back at the URL of
   * the Graph request this many requests before this one (0: this request itself), as a paging loop
   * would. The simulator remembers the last 16 Graph requests.
   */
  nextLinkBack?: number;
  /**
   * Graph's page with these properties left out of every user on it, as Graph leaves out a
   * directory extension a user has no value for.
   */
  omitProperties?: string[];
  /**
   * Graph's page with these properties added to its first user (replacing any of the same name).
   * Build it with JSON.parse to carry names such as `__proto__` as own properties.
   */
  addProperties?: Record<string, unknown>;
  /** Graph's page, preceded by the last N users of the page before it (as a shifting page boundary repeats them). */
  repeatUsers?: number;
  /** Adds `x-ms-throttle-limit-percentage` (Graph sends 0.8–1.8 once past 80 % of a limit) to the answer. */
  throttleLimitPercentage?: number;
}

export interface FaultScript {
  /** Steps of this script not yet taken by a request. */
  readonly pending: number;
  /** Steps of this script taken so far. */
  readonly applied: number;
  /** Drops this script's pending steps. */
  cancel(): void;
}

export interface GraphFaults {
  /** Queues steps for the next Graph requests (after any steps already queued). */
  script(steps: readonly GraphFaultStep[]): FaultScript;
  /** Steps queued and not yet taken, across scripts. */
  readonly pending: number;
  /** Drops every pending step. */
  clear(): void;
}

/** An HTTPS listener the simulator's CA vouches for, on another origin than Graph: a place the token must never go. */
export interface ForeignHost {
  /** https://127.0.0.1:<port> */
  origin: string;
  /** Every request it received; `authorization` tells whether one carried an Authorization header. */
  readonly requests: ReadonlyArray<{ method: string; path: string; authorization: boolean }>;
  close(): Promise<void>;
}

/** Requests of one service held open: accepted, read, and never answered until released. */
export interface HeldRequests {
  /** How many requests it has held so far. */
  readonly held: number;
  /** Stops holding: the requests it holds are dropped (connection reset), later ones are answered. */
  release(): void;
}

export interface TenantFaults {
  graph: GraphFaults;
  /**
   * Holds every request of `service` (those `matches` accepts) open without an answer, as a stalled
   * endpoint does, until released or the tenant closes.
   */
  hold(service: ServiceName, matches?: (request: SimulatedRequest) => boolean): HeldRequests;
  /** Starts a foreign host; it is closed with the tenant. */
  startForeignHost(): Promise<ForeignHost>;
}

export interface TenantFaultsOptions {
  state: TenantState;
  intercept(service: ServiceName, interceptor: RequestInterceptor): () => void;
  /** Graph's routes, to let Graph answer a request a step then alters. */
  graphRoutes: Route[];
  graphNotFound: RouteHandler;
  tls: { key: string; cert: string };
}

const RECENT_URLS = 16;

interface QueuedStep {
  step: GraphFaultStep;
  script: { applied: number; cancelled: boolean };
}

export function createTenantFaults(options: TenantFaultsOptions): TenantFaults & { close(): Promise<void> } {
  const queue: QueuedStep[] = [];
  const foreignHosts: ForeignHost[] = [];
  const holds: HeldRequests[] = [];
  let removeInterceptor: (() => void) | undefined;
  /** The URLs of the latest Graph requests, newest last (for `nextLinkBack`). */
  const recentUrls: string[] = [];

  const serveGraph = (request: SimulatedRequest): SimulatedResponse | Promise<SimulatedResponse> => {
    const route = options.graphRoutes.find((r) => r.method === request.method && r.path.test(request.url.pathname));
    return (route?.handler ?? options.graphNotFound)(request);
  };

  const interceptor: RequestInterceptor = async (request) => {
    recentUrls.push(`${options.state.graphEndpoint}${request.url.pathname}${request.url.search}`);
    if (recentUrls.length > RECENT_URLS) recentUrls.shift();
    let next = queue.shift();
    while (next?.script.cancelled) next = queue.shift();
    if (next === undefined) return undefined;
    next.script.applied += 1;
    return applyStep(next.step, request);
  };

  async function applyStep(step: GraphFaultStep, request: SimulatedRequest): Promise<SimulatedResponse> {
    const extraHeaders: Record<string, string> = {};
    if (step.throttleLimitPercentage !== undefined) extraHeaders["x-ms-throttle-limit-percentage"] = String(step.throttleLimitPercentage);
    const delay = step.delayInMs !== undefined ? { delayInMs: step.delayInMs } : {};
    if (step.reset) return { status: 0, reset: true, ...delay };
    if (step.status !== undefined) {
      if (step.retryAfterSeconds !== undefined) extraHeaders["retry-after"] = String(step.retryAfterSeconds);
      if (step.retryAfterDate !== undefined) extraHeaders["retry-after"] = step.retryAfterDate.toUTCString();
      return { ...errorFor(request, step.status, extraHeaders), ...delay };
    }
    if (step.notJson) {
      return {
        status: 200,
        headers: { "content-type": "text/html; charset=utf-8", ...extraHeaders },
        body: "<html><body><h1>Service temporarily unavailable</h1></body></html>",
        ...delay,
      };
    }
    const real = await serveGraph(request);
    const answer: SimulatedResponse = { ...real, headers: { ...real.headers, ...extraHeaders } };
    if (step.delayInMs !== undefined) answer.delayInMs = (real.delayInMs ?? 0) + step.delayInMs;
    if (real.status !== 200 || typeof real.body !== "object" || real.body === null) return answer;
    const body = { ...(real.body as Record<string, unknown>) };
    let value = Array.isArray(body.value) ? [...(body.value as Array<Record<string, unknown>>)] : [];
    if (step.repeatUsers !== undefined && step.repeatUsers > 0) value = [...usersBefore(request, step.repeatUsers), ...value];
    if (step.omitProperties !== undefined) {
      const omit = new Set(step.omitProperties);
      value = value.map((user) => Object.fromEntries(Object.entries(user).filter(([key]) => !omit.has(key))));
    }
    if (step.addProperties !== undefined && value.length > 0) {
      // Own properties, whatever their names: a spread or Object.assign would set a prototype for `__proto__`.
      const first: Record<string, unknown> = {};
      for (const [key, property] of [...Object.entries(value[0]!), ...Object.entries(step.addProperties)]) {
        Object.defineProperty(first, key, { value: property, enumerable: true, writable: true, configurable: true });
      }
      value[0] = first;
    }
    if (step.userWithoutId && value.length > 0) {
      const { id: _id, ...rest } = value[0]!;
      value[0] = rest;
    }
    if (step.nextLink !== undefined) body["@odata.nextLink"] = step.nextLink;
    if (step.nextLinkBack !== undefined) {
      const earlier = recentUrls.at(-1 - step.nextLinkBack);
      if (earlier === undefined) throw new Error(`nextLinkBack ${step.nextLinkBack}: the simulator saw fewer Graph requests`);
      body["@odata.nextLink"] = earlier;
    }
    if (step.withoutValue) delete body.value;
    else body.value = value;
    answer.body = body;
    return answer;
  }

  /** The last `count` users before this page's first one, as Graph would list them. */
  function usersBefore(request: SimulatedRequest, count: number): Array<Record<string, unknown>> {
    const token = request.url.searchParams.get("$skiptoken");
    const decoded = token === null ? undefined : decodeSkipToken(options.state.skipTokenKey, token);
    if (decoded === undefined) return [];
    const properties = resolveSelect(decoded.select);
    const users: Array<Record<string, unknown>> = [];
    for (let index = Math.max(0, decoded.offset - count); index < decoded.offset; index++) users.push(options.state.directory.userAt(index, properties));
    return users;
  }

  function errorFor(request: SimulatedRequest, status: NonNullable<GraphFaultStep["status"]>, headers: Record<string, string>): SimulatedResponse {
    switch (status) {
      case 401:
        return graphError(request, 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", headers);
      case 403:
        return graphError(request, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", headers);
      case 429:
        return graphError(request, 429, "TooManyRequests", "Too many requests.", headers);
      case 503:
        return graphError(request, 503, "serviceNotAvailable", "Service Unavailable", headers);
      case 504:
        return graphError(request, 504, "UnknownError", "Gateway timeout.", headers);
      default:
        return graphError(request, status, "generalException", "An unexpected error occurred.", headers);
    }
  }

  return {
    graph: {
      script(steps) {
        const script = { applied: 0, cancelled: false };
        for (const step of steps) queue.push({ step, script });
        removeInterceptor ??= options.intercept("graph", interceptor);
        return {
          get pending() {
            return script.cancelled ? 0 : queue.filter((q) => q.script === script).length;
          },
          get applied() {
            return script.applied;
          },
          cancel() {
            script.cancelled = true;
          },
        };
      },
      get pending() {
        return queue.filter((q) => !q.script.cancelled).length;
      },
      clear() {
        queue.length = 0;
      },
    },
    hold(service, matches = () => true) {
      const waiting: Array<() => void> = [];
      let held = 0;
      let released = false;
      const remove = options.intercept(service, (request) => {
        if (released || !matches(request)) return undefined;
        held += 1;
        return new Promise<SimulatedResponse>((resolve) => waiting.push(() => resolve({ status: 0, reset: true })));
      });
      const handle: HeldRequests = {
        get held() {
          return held;
        },
        release() {
          if (released) return;
          released = true;
          remove();
          for (const drop of waiting.splice(0)) drop();
        },
      };
      holds.push(handle);
      return handle;
    },
    async startForeignHost() {
      const host = await startForeignHost(options.tls);
      foreignHosts.push(host);
      return host;
    },
    async close() {
      removeInterceptor?.();
      for (const handle of holds) handle.release();
      await Promise.all(foreignHosts.map((h) => h.close()));
    },
  };
}

async function startForeignHost(tls: { key: string; cert: string }): Promise<ForeignHost> {
  const requests: Array<{ method: string; path: string; authorization: boolean }> = [];
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    requests.push({ method: request.method ?? "GET", path: new URL(request.url ?? "/", "https://127.0.0.1").pathname, authorization: request.headers.authorization !== undefined });
    request.resume();
    // A plausible Graph page, so that a client that followed the link would carry on as if nothing happened.
    const body = JSON.stringify({ value: [{ id: "00000000-0000-0000-0000-0000000f0e19" }] });
    response.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
    response.end(body);
  });
  const { origin, close } = await listenOnLoopback(server);
  return { origin, requests, close };
}
