/**
 * The timer as the host calls it: the handler that `@azure/functions` registered (captured through a
 * stand-in for the host's `@azure/functions-core`), invoked with a real InvocationContext, with app
 * settings in the environment, against Azurite and the simulated tenant. Each tick does what is due:
 * the mirror's round every time, the snapshot on the full schedule.
 */
import { InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { installFunctionsHostStandIn, type CapturedRegistration } from "../support/functionsHost.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;
let registration: CapturedRegistration;
let store: SnapshotStoreClient;
let mirror: UserMirrorClient;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: 2_345 });
  world.useInProcess();
  process.env.USER_SYNC_SCHEDULE = "0 */15 * * * *";
  // Not due again during the test (29 February at midnight UTC): after the first tick, only the mirror runs.
  process.env.USER_SYNC_FULL_SCHEDULE = "0 0 0 29 2 *";
  const host = installFunctionsHostStandIn();
  await import("../../src/functions/userSync.js");
  registration = host.registrations.find((r) => r.metadata.name === "userSync")!;
  const storage = loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString });
  store = new SnapshotStoreClient({ storage });
  mirror = new UserMirrorClient({ storage });
});
afterAll(async () => world?.close());

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

function invocation() {
  const lines: Array<{ level: string; text: string }> = [];
  const context = new InvocationContext({
    invocationId: crypto.randomUUID(),
    functionName: "userSync",
    logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(" ") }),
  });
  return { context, lines };
}

describe("the userSync timer", () => {
  it("first tick: writes the first snapshot and seeds the mirror with a full round, logging a summary of each", async () => {
    const { context, lines } = invocation();
    await registration.callback(timer, context);
    const snapshot = lines.filter((l) => l.text.startsWith("User sync succeeded"));
    expect(snapshot).toHaveLength(1);
    expect(snapshot[0]!.level).toBe("information");
    expect(snapshot[0]!.text).toMatch(/2,345 users in 3 pages, 2,345 entities/);
    const mirrorLines = lines.filter((l) => l.text.startsWith("Mirror full round (first round)"));
    expect(mirrorLines).toHaveLength(1);
    expect((await mirror.listRuns().next()).value).toMatchObject({ mode: "full", reason: "firstRound", trigger: "timer", status: "succeeded" });
    expectNoSecrets(lines.map((l) => l.text).join("\n"), [world.azurite.connectionString]);
  });

  it("next tick: an incremental round of the mirror only, which reads only what changed", async () => {
    const snapshotsBefore = (await Array.fromAsync(store.listRuns())).length;
    world.tenant.changes.changeUser(7, { jobTitle: "Timer Tested" });
    world.tenant.changes.softDeleteUser(8);
    world.tenant.requests.reset();
    const { context, lines } = invocation();
    await registration.callback(timer, context);
    expect(lines.some((l) => l.text.startsWith("User sync succeeded"))).toBe(false);
    expect(lines.filter((l) => l.text.startsWith("Mirror updated incrementally: 0 added, 1 updated, 0 restored, 1 removed"))).toHaveLength(1);
    expect(world.tenant.requests.count("graph")).toBe(1);
    expect((await Array.fromAsync(store.listRuns())).length).toBe(snapshotsBefore);
    expect((await mirror.listRuns().next()).value).toMatchObject({ mode: "incremental", reason: "deltaLink", trigger: "timer" });
  });

  it("logs a warning and succeeds when another run holds the writer lease (nothing read or written)", async () => {
    const lease = await store.acquireLease({ trigger: "cli" });
    try {
      const mirrorRunsBefore = (await Array.fromAsync(mirror.listRuns())).length;
      world.tenant.requests.reset();
      const { context, lines } = invocation();
      await expect(registration.callback(timer, context)).resolves.toBeUndefined();
      const warnings = lines.filter((l) => l.level === "warning" && l.text.startsWith("User sync skipped this time"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.text).toContain("holds the writer lease");
      expect(lines.some((l) => l.level === "error")).toBe(false);
      expect(world.tenant.requests.count("graph")).toBe(0);
      expect((await Array.fromAsync(mirror.listRuns())).length).toBe(mirrorRunsBefore);
    } finally {
      await store.releaseLease(lease);
    }
  });

  it("fails the invocation when the run fails, saying what to fix", async () => {
    const remove = world.tenant.intercept("graph", () => ({
      status: 403,
      body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } },
    }));
    const { context, lines } = invocation();
    try {
      await expect(registration.callback(timer, context)).rejects.toThrow(/User sync failed: Microsoft Graph refused to list user changes .*User\.Read\.All.*adminconsent\?client_id=/);
    } finally {
      remove();
    }
    expect(lines.some((l) => l.level === "error" && l.text.startsWith("User sync failed"))).toBe(true);
    expectNoSecrets(lines.map((l) => l.text).join("\n"), [world.azurite.connectionString]);
  });
});
