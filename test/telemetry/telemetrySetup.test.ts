/** When telemetry starts, with which identity and sampling; nothing without a connection string. */
import { describe, expect, it } from "vitest";
import { azureMonitorOptions, samplingRatio, startTelemetry, telemetryIdentity } from "../../src/telemetry/telemetrySetup.js";

const CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/";
const credential = { getToken: async () => null };

describe("startTelemetry", () => {
  it("does nothing without APPLICATIONINSIGHTS_CONNECTION_STRING (or with an empty one)", async () => {
    await expect(startTelemetry({})).resolves.toBe(false);
    await expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: "  " })).resolves.toBe(false);
  });

  it("an invalid sampling ratio turns telemetry off with a warning naming the setting, not the sync", async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warnings.push(m);
    try {
      await expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, USER_SYNC_TRACE_SAMPLING_RATIO: "2" })).resolves.toBe(false);
    } finally {
      console.warn = warn;
    }
    expect(warnings.join("\n")).toMatch(/USER_SYNC_TRACE_SAMPLING_RATIO must be a number from 0 to 1/);
  });
});

describe("telemetryIdentity", () => {
  it("the user-assigned identity of APPLICATIONINSIGHTS_AUTHENTICATION_STRING", () => {
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555" })).toEqual({ kind: "managedIdentity", clientId: "11111111-2222-3333-4444-555555555555" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=abc;Authorization=AAD" })).toEqual({ kind: "managedIdentity", clientId: "abc" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD" })).toEqual({ kind: "managedIdentity" });
  });

  it("DefaultAzureCredential otherwise", () => {
    expect(telemetryIdentity({})).toEqual({ kind: "default" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=Other" })).toEqual({ kind: "default" });
  });
});

describe("azureMonitorOptions", () => {
  it("Entra credential, whole-run sampling, the Azure SDK traced, no live metrics", () => {
    const options = azureMonitorOptions({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, USER_SYNC_TRACE_SAMPLING_RATIO: "0.25" }, credential);
    expect(options.azureMonitorExporterOptions).toEqual({ connectionString: CONNECTION, credential });
    expect(options).toMatchObject({ samplingRatio: 0.25, tracesPerSecond: 0, enableLiveMetrics: false, instrumentationOptions: { azureSdk: { enabled: true } } });
  });

  it("sampling ratio: 1 by default, 0 to 1 accepted, anything else refused", () => {
    expect(samplingRatio({})).toBe(1);
    expect(samplingRatio({ USER_SYNC_TRACE_SAMPLING_RATIO: "0" })).toBe(0);
    expect(samplingRatio({ USER_SYNC_TRACE_SAMPLING_RATIO: ".5" })).toBe(0.5);
    for (const bad of ["-0.1", "1.5", "half", "1e-1", "NaN"]) expect(() => samplingRatio({ USER_SYNC_TRACE_SAMPLING_RATIO: bad }), bad).toThrow(/USER_SYNC_TRACE_SAMPLING_RATIO/);
  });
});
