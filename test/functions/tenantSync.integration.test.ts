/**
 * Multi-tenant mode as the Functions host runs it: the registration contract of the queue-triggered
 * `tenantSync` (captured through a stand-in for `@azure/functions-core`), host.json's queue settings
 * matching what the worker applies, the timer as the scheduler (one message per tenant, none for a
 * tenant already queued), and the queue handler invoked with a real InvocationContext against
 * Azurite's queues and the simulated cloud (its runs record the trigger `queue`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadQueueSettings } from "../../src/configuration/queueSettings.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { MAX_DEQUEUE_COUNT, TENANT_QUEUE_NAME, TenantQueueClient, parseTenantMessage } from "../../src/fanout/tenantQueue.js";
import { RETRY_DELAY_IN_SECONDS } from "../../src/configuration/defaults.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { startAzurite } from "../../tools/azurite.js";
import { installFunctionsHostStandIn, type CapturedRegistration } from "../support/functionsHost.js";
import { startTrustedSimulatedTenant } from "../support/simulatedTenant.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import type { AzuriteInstance } from "../../tools/azurite.js";

const T1 = "b1b1b1b1-0000-4000-8000-000000000001";
const T2 = "b2b2b2b2-0000-4000-8000-000000000002";

let azurite: AzuriteInstance;
let cloud: SimulatedTenant;
let timerRegistration: CapturedRegistration;
let queueRegistration: CapturedRegistration | undefined;
let registry: TenantRegistryClient;
let queue: TenantQueueClient;

beforeAll(async () => {
  [azurite, cloud] = await Promise.all([
    startAzurite({ queue: true }),
    startTrustedSimulatedTenant({ userCount: 3, customerTenants: [{ tenantId: T1, userCount: 150 }, { tenantId: T2, userCount: 30 }] }),
  ]);
  const env = { ...cloud.settingsEnv(), SNAPSHOT_STORAGE: azurite.connectionString, USER_SYNC_QUEUE: azurite.connectionString, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_SCHEDULE: "0 */15 * * * *" };
  delete (env as Record<string, string | undefined>).GRAPH_TENANT_ID;
  Object.assign(process.env, env);
  delete process.env.GRAPH_TENANT_ID;
  const host = installFunctionsHostStandIn();
  await import("../../src/functions/userSync.js");
  await import("../../src/functions/tenantSync.js");
  timerRegistration = host.registrations.find((r) => r.metadata.name === "userSync")!;
  queueRegistration = host.registrations.find((r) => r.metadata.name === "tenantSync");
  registry = new TenantRegistryClient({ storage: loadStorageSettings(process.env) });
  queue = new TenantQueueClient({ queue: loadQueueSettings(process.env) });
  await registry.createTableIfNotExists();
  await registry.addTenant(T1);
  await registry.addTenant(T2);
}, 120_000);
afterAll(async () => Promise.all([cloud?.close(), azurite?.close()]));

function invocation(functionName: string, dequeueCount = 1) {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: crypto.randomUUID(),
    functionName,
    triggerMetadata: { dequeueCount },
    logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(" ")}`),
  });
  return { context, lines };
}

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

describe("the tenantSync queue function", () => {
  it("is registered as a queue trigger on the tenant queue, through the USER_SYNC_QUEUE connection", () => {
    expect(queueRegistration).toBeDefined();
    const bindings = Object.values(queueRegistration!.metadata.bindings) as unknown as Array<Record<string, unknown>>;
    expect(bindings).toHaveLength(1);
    expect(bindings[0]).toMatchObject({ type: "queueTrigger", direction: "in", queueName: TENANT_QUEUE_NAME, connection: "USER_SYNC_QUEUE" });
  });

  it("host.json's queue settings are the ones the worker applies, and the host decodes base64 as the scheduler encodes", () => {
    const host = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "host.json"), "utf8")) as { extensions?: { queues?: Record<string, unknown> } };
    const queues = host.extensions?.queues;
    expect(queues?.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
    expect(queues?.visibilityTimeout).toBe(`00:00:${String(RETRY_DELAY_IN_SECONDS).padStart(2, "0")}`);
    expect(queues?.messageEncoding).toBe("base64");
    expect(typeof queues?.batchSize).toBe("number");
    expect(typeof queues?.newBatchThreshold).toBe("number");
  });

  it("the timer queues one message per tenant, and none for a tenant already queued", async () => {
    const first = invocation("userSync");
    await timerRegistration.callback(timer, first.context);
    const second = invocation("userSync");
    await timerRegistration.callback(timer, second.context);
    expect(second.lines.join("\n")).toContain("Queued 0 tenants; 2 already queued or running");
    const messages = await queue.receiveTenantMessages(32, 60);
    expect(messages.map((m) => m.message?.tenantId).sort()).toEqual([T1, T2]);
    for (const received of messages) {
      // The host hands the handler the decoded message; run each as the host would.
      const decoded = JSON.parse(Buffer.from(received.messageText, "base64").toString("utf8")) as unknown;
      expect(parseTenantMessage(decoded)?.tenantId).toBe(received.message?.tenantId);
      const { context } = invocation("tenantSync", received.dequeueCount);
      await queueRegistration!.callback(decoded, context);
      await queue.deleteTenantMessage(received);
    }
    for (const [tenantId, count] of [[T1, 150], [T2, 30]] as const) {
      const store = new SnapshotStoreClient({ storage: loadStorageSettings(process.env), tablePrefix: tenantTablePrefix(tenantId) });
      const latest = await store.getLatestSnapshot();
      expect(latest).toBeDefined();
      let users = 0;
      for await (const _user of store.listSnapshotUsers(latest!.snapshotId)) users += 1;
      expect(users).toBe(count);
      // Started by a tenant message: the run records the trigger `queue`.
      expect((await Array.fromAsync(store.listRuns())).map((r) => r.trigger)).toEqual(["queue"]);
      expect(await registry.getTenant(tenantId)).toMatchObject({ lastOutcome: "succeeded" });
      expect((await registry.getTenant(tenantId))?.queuedAt).toBeUndefined();
    }
  });

  it("a message that is not a tenant message fails every attempt (the host poisons it)", async () => {
    const { context } = invocation("tenantSync");
    await expect(queueRegistration!.callback({ hello: "world" }, context)).rejects.toThrow(/not a tenant message/);
  });
});
