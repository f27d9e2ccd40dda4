import { describe, expect, it } from "vitest";
import { installFunctionsHostStandIn } from "../support/functionsHost.js";

describe("the userSync function registration", () => {
  it("registers one timer trigger on %USER_SYNC_SCHEDULE% with the sync handler", async () => {
    const host = installFunctionsHostStandIn();
    const module = await import("../../src/functions/userSync.js");

    expect(host.programmingModel).toBeDefined();
    expect(host.registrations).toHaveLength(1);
    const [registration] = host.registrations;
    expect(registration!.metadata.name).toBe("userSync");
    const bindings = Object.values(registration!.metadata.bindings);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]).toMatchObject({
      type: "timerTrigger",
      direction: "in",
      schedule: "%USER_SYNC_SCHEDULE%",
      runOnStartup: false,
      useMonitor: true,
    });
    expect(typeof registration!.callback).toBe("function");
    expect(module.userSyncTimer).toBeTypeOf("function");
  });
});
