/**
 * In the Functions host with a connection string: the registration file starts OpenTelemetry before
 * the host finishes startup, and tells the host (worker capability WorkerOpenTelemetryEnabled) that
 * the worker sends its own telemetry. Nothing reaches a real endpoint: the ingestion endpoint is a
 * closed loopback port.
 */
import { afterAll, describe, expect, it } from "vitest";
import { installFunctionsHostStandIn } from "../support/functionsHost.js";

afterAll(async () => {
  const { stopTelemetry } = await import("../../src/telemetry/telemetrySetup.js");
  await stopTelemetry(2_000);
});

describe("the userSync function with APPLICATIONINSIGHTS_CONNECTION_STRING", () => {
  it("registers the timer and declares the worker's OpenTelemetry capability", async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000017;IngestionEndpoint=https://127.0.0.1:9/";
    process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=00000000-0000-0000-0000-0000000000aa";
    process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = "true";
    const host = installFunctionsHostStandIn();
    await import("../../src/functions/userSync.js");
    expect(host.registrations.map((r) => r.metadata.name)).toEqual(["userSync"]);
    const model = host.programmingModel as { getCapabilities(c: Record<string, string>): Promise<Record<string, unknown>> };
    const capabilities = await model.getCapabilities({});
    expect(capabilities.WorkerOpenTelemetryEnabled).toBe("true"); // capabilities are strings
  });
});
