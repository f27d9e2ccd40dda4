/**
 * The tenant queue's requests are bounded by STORAGE_REQUEST_TIMEOUT_SECONDS, as the table
 * requests are: against a loopback server that accepts the connection and never answers (a dead
 * middlebox, a private endpoint whose route goes nowhere), each attempt is abandoned at the bound,
 * retried by the SDK's own retry policy, and the call fails with an error that names the endpoint
 * and the setting. The caller's abort still ends a stalled request as an abort.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadQueueSettings } from "../../src/configuration/queueSettings.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { isUserSyncError } from "../../src/shared/errors.js";

// Azurite's well-known development account (public, documented): the server below never checks it.
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/** A guard, not a measurement: far above the bound under test, far below "never". */
const GUARD_IN_MS = 15_000;

interface SilentServer {
  queueEndpoint: string;
  /** Connections accepted so far (one per attempt: a timed-out attempt's socket is closed). */
  readonly connections: number;
  close(): Promise<void>;
}

let server: SilentServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Accepts every connection, reads what it is sent, and never answers. */
async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const listener: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as { port: number };
  return {
    queueEndpoint: `http://127.0.0.1:${port}/devstoreaccount1`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        listener.close(() => resolve());
      }),
  };
}

function connectionStringFor(queueEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};QueueEndpoint=${queueEndpoint};`;
}

/** Settles with the call's error, or fails the test if the call is still waiting at the guard. */
async function failureWithin<T>(call: Promise<T>): Promise<unknown> {
  let guard: NodeJS.Timeout | undefined;
  const unbounded = new Promise<"unbounded">((resolve) => {
    guard = setTimeout(() => resolve("unbounded"), GUARD_IN_MS);
  });
  try {
    const outcome = await Promise.race([call.then(() => "answered" as const, (error: unknown) => ({ error })), unbounded]);
    expect(outcome, "the queue request was still waiting on a silent connection").not.toBe("unbounded");
    expect(outcome, "a silent server cannot answer").not.toBe("answered");
    return (outcome as { error: unknown }).error;
  } finally {
    clearTimeout(guard);
  }
}

describe("tenant queue requests on a stalled connection", () => {
  it("give up each attempt at STORAGE_REQUEST_TIMEOUT_SECONDS, are retried by the SDK, then fail naming the endpoint and the setting", async () => {
    server = await startSilentServer();
    const connectionString = connectionStringFor(server.queueEndpoint);
    const settings = loadQueueSettings({ USER_SYNC_QUEUE: connectionString, STORAGE_REQUEST_TIMEOUT_SECONDS: "1" });
    expect(settings.requestTimeoutInMs).toBe(1_000);
    // Two tries, a short pause between them: the SDK's retry policy, made quick for the test.
    const queue = new TenantQueueClient({ queue: settings, clientOptions: { retryOptions: { maxTries: 2, retryDelayInMs: 10 } } });
    const error = await failureWithin(queue.sendTenantMessage({ tenantId: "11111111-1111-4111-8111-111111111111", kind: "due", enqueuedAt: new Date().toISOString() }));
    expect(isUserSyncError(error, "storage_request_failed"), String(error)).toBe(true);
    const failure = error as Error & { details: Record<string, unknown> };
    expect(failure.message).toContain(`${server.queueEndpoint}/entra-user-sync-tenants`);
    expect(failure.message).toContain("gave no complete answer within STORAGE_REQUEST_TIMEOUT_SECONDS (1 s)");
    expect(failure.message).toContain("enqueuing tenant 11111111-1111-4111-8111-111111111111");
    expect(failure.message.includes(DEV_KEY)).toBe(false);
    expect(failure.details).toMatchObject({ queue: "entra-user-sync-tenants", errorCode: "ETIMEDOUT" });
    // Each attempt had its own connection, abandoned at the bound: the SDK retried once.
    expect(server.connections).toBe(2);
  }, GUARD_IN_MS + 5_000);

  it("bound every operation the worker uses (receive, visibility update, delete, properties)", async () => {
    server = await startSilentServer();
    const queue = new TenantQueueClient({
      queue: { kind: "connectionString", connectionString: connectionStringFor(server.queueEndpoint), requestTimeoutInMs: 200 },
      clientOptions: { retryOptions: { maxTries: 1 } },
    });
    const received = { messageId: "m", popReceipt: "p" };
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["receiving tenant messages", () => queue.receiveTenantMessages(4, 30)],
      ["extending a tenant message's visibility timeout", () => queue.extendVisibility(received, 30)],
      ["deleting a tenant message", () => queue.deleteTenantMessage(received)],
      ["reading the tenant queue's properties", () => queue.approximateMessageCount()],
    ];
    for (const [operation, call] of calls) {
      const error = await failureWithin(call());
      expect(isUserSyncError(error, "storage_request_failed"), `${operation}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain(`gave no complete answer within STORAGE_REQUEST_TIMEOUT_SECONDS (0.2 s), while ${operation}`);
    }
    expect(server.connections).toBe(calls.length);
  }, 4 * GUARD_IN_MS);

  it("still end as an abort when the caller aborts before the bound", async () => {
    server = await startSilentServer();
    const queue = new TenantQueueClient({
      queue: { kind: "connectionString", connectionString: connectionStringFor(server.queueEndpoint), requestTimeoutInMs: 60_000 },
      clientOptions: { retryOptions: { maxTries: 1 } },
    });
    const controller = new AbortController();
    const pending = failureWithin(queue.receiveTenantMessages(1, 30, { abortSignal: controller.signal }));
    while (server.connections === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const error = await pending;
    expect((error as Error).name).toBe("AbortError");
  }, GUARD_IN_MS + 5_000);
});
