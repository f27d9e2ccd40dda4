/**
 * The timer as the host calls it: the handler that `@azure/functions` registered (captured through a
 * stand-in for the host's `@azure/functions-core`), invoked with a real InvocationContext, with app
 * settings in the environment, against Azurite and the simulated tenant.
 */
import { InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installFunctionsHostStandIn, type CapturedRegistration } from "../support/functionsHost.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;
let registration: CapturedRegistration;

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: 2_345 });
  world.useInProcess();
  process.env.USER_SYNC_SCHEDULE = "0 */30 * * * *";
  const host = installFunctionsHostStandIn();
  await import("../../src/functions/userSync.js");
  registration = host.registrations.find((r) => r.metadata.name === "userSync")!;
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
  it("syncs the tenant and logs a one-line summary", async () => {
    const { context, lines } = invocation();
    await registration.callback(timer, context);
    const summaries = lines.filter((l) => l.text.startsWith("User sync succeeded"));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.level).toBe("information");
    expect(summaries[0]!.text).toMatch(/2,345 users in 3 pages, 2,345 entities/);
    expectNoSecrets(lines.map((l) => l.text).join("\n"), [world.azurite.connectionString]);
  });

  it("fails the invocation when the run fails, saying what to fix", async () => {
    const remove = world.tenant.intercept("graph", () => ({
      status: 403,
      body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } },
    }));
    const { context, lines } = invocation();
    try {
      await expect(registration.callback(timer, context)).rejects.toThrow(/User sync failed: Microsoft Graph refused to list users .*User\.Read\.All.*adminconsent\?client_id=/);
    } finally {
      remove();
    }
    expect(lines.some((l) => l.level === "error" && l.text.startsWith("User sync failed"))).toBe(true);
    expectNoSecrets(lines.map((l) => l.text).join("\n"), [world.azurite.connectionString]);
  });
});
