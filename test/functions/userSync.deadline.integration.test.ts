/**
 * The timer's deadline counts from the invocation, as the host's functionTimeout does: the registered
 * handler (captured through the stand-in for `@azure/functions-core`), with USER_SYNC_MAX_RUN_MINUTES=1,
 * storage that answers nothing for the invocation's first 25 seconds (tables, lease and what is due
 * all wait) and a Graph slow enough that the snapshot cannot finish in the minute. The snapshot must
 * pause at its checkpoint one minute after the handler was called, not one minute after the snapshot
 * started (which would be 25 seconds later, eating the margin before functionTimeout).
 */
import { InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { SnapshotStoreClient, type SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { installFunctionsHostStandIn, type CapturedRegistration } from "../support/functionsHost.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type TableProxy } from "../support/tableProxy.js";

/** USER_SYNC_MAX_RUN_MINUTES=1, the shortest the setting allows. */
const LIMIT_IN_MS = 60_000;
/** How long storage keeps every request of the invocation waiting (under STORAGE_REQUEST_TIMEOUT_SECONDS' 30 s). */
const SLOW_START_IN_MS = 25_000;
/** What may follow the deadline: the page being written is finished and checkpointed (a read in flight is dropped). */
const AFTER_DEADLINE_IN_MS = 10_000;

let world: SyncEnvironment;
let proxy: TableProxy;
let registration: CapturedRegistration;
let store: SnapshotStoreClient;
let slowUntil = 0;

beforeAll(async () => {
  // 9 pages of /users at 5 s each: 45 s of reading, more than the 35 s left after the slow start,
  // less than a minute (a snapshot that counted its minute from its own start would complete).
  world = await startSyncEnvironment({ userCount: 8_000, graphLatencyInMs: 5_000 });
  proxy = await startTableProxy(world.azurite);
  proxy.decide = () => (Date.now() < slowUntil ? new Promise((resolve) => setTimeout(resolve, slowUntil - Date.now())) : "pass");
  world.useInProcess();
  Object.assign(process.env, {
    SNAPSHOT_STORAGE: proxy.connectionString,
    USER_SYNC_SCHEDULE: "0 */15 * * * *",
    USER_SYNC_MAX_RUN_MINUTES: "1",
  });
  const host = installFunctionsHostStandIn();
  await import("../../src/functions/userSync.js");
  registration = host.registrations.find((r) => r.metadata.name === "userSync")!;
  store = new SnapshotStoreClient({ storage: loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }) });
});
afterAll(async () => Promise.all([proxy?.close(), world?.close()]));

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

describe("USER_SYNC_MAX_RUN_MINUTES under the timer", () => {
  it("counts from the invocation's start: time spent before the snapshot is inside the limit", async () => {
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "userSync",
      logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(" ")}`),
    });
    const invokedAt = Date.now();
    slowUntil = invokedAt + SLOW_START_IN_MS;
    await registration.callback(timer, context);
    const returnedAt = Date.now();

    const runs: SyncRunRecord[] = [];
    for await (const run of store.listRuns()) runs.push(run);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    // The time before the snapshot was significant...
    expect(run.startedAt.getTime() - invokedAt).toBeGreaterThanOrEqual(SLOW_START_IN_MS - 1_000);
    // ...and the snapshot paused at its checkpoint once the invocation's minute was up, not the snapshot's.
    expect(run.status, lines.join("\n")).toBe("paused");
    expect(run.checkpoint).toBeDefined();
    expect(run.stats.pages).toBeGreaterThan(0);
    const pausedAt = (run.endedAt ?? run.checkpoint!.at).getTime();
    expect(pausedAt - invokedAt).toBeGreaterThanOrEqual(LIMIT_IN_MS - 1_000);
    expect(pausedAt - invokedAt).toBeLessThan(LIMIT_IN_MS + AFTER_DEADLINE_IN_MS);
    expect(returnedAt - invokedAt).toBeLessThan(LIMIT_IN_MS + AFTER_DEADLINE_IN_MS + 5_000);
    expect(lines.some((l) => /paused/i.test(l))).toBe(true);
  }, 150_000);
});
