/** When telemetry starts, with which identity and sampling; nothing without a connection string. */
import { describe, expect, it } from "vitest";
import { azureMonitorOptions, samplingRatio, startTelemetry, telemetryIdentity, telemetrySettingsProblems } from "../../src/telemetry/telemetrySetup.js";

const CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/";
const credential = { getToken: async () => null };

/** What `action` wrote with console.warn. */
async function warningsOf(action: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => warnings.push(m);
  try {
    await action();
  } finally {
    console.warn = warn;
  }
  return warnings;
}

describe("startTelemetry", () => {
  it("does nothing without APPLICATIONINSIGHTS_CONNECTION_STRING (or with an empty one)", async () => {
    await expect(startTelemetry({})).resolves.toBe(false);
    await expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: "  " })).resolves.toBe(false);
  });

  it("an invalid sampling ratio turns telemetry off with a warning naming the setting, not the sync", async () => {
    const warnings = await warningsOf(() => startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, USER_SYNC_TRACE_SAMPLING_RATIO: "2" }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/USER_SYNC_TRACE_SAMPLING_RATIO must be a number from 0 to 1.*Telemetry is off until it is fixed; the sync runs as usual\.$/);
  });

  it("an invalid connection or authentication string: one warning naming the setting, never its value, and no telemetry", async () => {
    const SECRETISH = "c0ffee00-dead-beef-0000-5ec2e75ec2e7";
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: `not a connection string ${SECRETISH}` }, /^APPLICATIONINSIGHTS_CONNECTION_STRING is not a connection string/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${SECRETISH.slice(0, 20)};IngestionEndpoint=https://127.0.0.1:9/` }, /^APPLICATIONINSIGHTS_CONNECTION_STRING has no valid InstrumentationKey/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: `IngestionEndpoint=https://127.0.0.1:9/;ApplicationId=${SECRETISH}` }, /^APPLICATIONINSIGHTS_CONNECTION_STRING has no valid InstrumentationKey/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${SECRETISH};IngestionEndpoint=127.0.0.1:9` }, /^APPLICATIONINSIGHTS_CONNECTION_STRING has an IngestionEndpoint that is not an https URL/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${SECRETISH.slice(0, 30)}` }, /^APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not an Entra authentication string/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=Key;Secret=${SECRETISH}` }, /^APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not an Entra authentication string/],
      [{ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `${SECRETISH}` }, /^APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not an Entra authentication string/],
    ];
    for (const [env, expected] of cases) {
      const warnings = await warningsOf(() => expect(startTelemetry(env)).resolves.toBe(false));
      expect(warnings, JSON.stringify(env)).toHaveLength(1);
      expect(warnings[0]).toMatch(expected);
      expect(warnings[0]).toMatch(/Telemetry is off until it is fixed; the sync runs as usual\.$/);
      expect(warnings[0]).not.toContain(SECRETISH.slice(0, 20));
    }
  });

  it("an exporter that fails to start: one warning, without the setting values", async () => {
    // The Functions instrumentation refuses a module that is not @azure/functions, after the exporter started.
    const notFunctions = {} as unknown as NonNullable<Parameters<typeof startTelemetry>[1]>["functions"];
    const warnings = await warningsOf(() => expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true" }, { credential, functions: notFunctions })).resolves.toBe(false));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Telemetry did not start: .* Check APPLICATIONINSIGHTS_CONNECTION_STRING and APPLICATIONINSIGHTS_AUTHENTICATION_STRING\. Telemetry is off until it is fixed; the sync runs as usual\.$/);
    expect(warnings[0]).not.toContain("00000000-0000-0000-0000-000000000000");
  });

  it("both strings invalid: still one warning, naming both", () => {
    const problems = telemetrySettingsProblems({ APPLICATIONINSIGHTS_CONNECTION_STRING: "x", APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "y" });
    expect(problems.map((p) => p.split(" ")[0])).toEqual(["APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
  });

  it("valid strings have no problems", () => {
    expect(telemetrySettingsProblems({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION })).toEqual([]);
    expect(telemetrySettingsProblems({ APPLICATIONINSIGHTS_CONNECTION_STRING: `${CONNECTION};LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;ApplicationId=abc`, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD" })).toEqual([]);
    expect(telemetrySettingsProblems({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=11111111-2222-3333-4444-555555555555; authorization=aad" })).toEqual([]);
  });
});

describe("telemetryIdentity", () => {
  it("the user-assigned identity of APPLICATIONINSIGHTS_AUTHENTICATION_STRING", () => {
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555" })).toEqual({ kind: "managedIdentity", clientId: "11111111-2222-3333-4444-555555555555" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=abcdef01-2222-3333-4444-555555555555;Authorization=AAD" })).toEqual({ kind: "managedIdentity", clientId: "abcdef01-2222-3333-4444-555555555555" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD" })).toEqual({ kind: "managedIdentity" });
  });

  it("DefaultAzureCredential without one", () => {
    expect(telemetryIdentity({})).toEqual({ kind: "default" });
    expect(telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: " " })).toEqual({ kind: "default" });
  });

  it("refuses an authentication string that is not Entra's, naming the setting", () => {
    for (const bad of ["Authorization=Other", "Authorization=AAD;ClientId=abc", "Authorization=AAD;Client_Id=11111111-2222-3333-4444-555555555555", "ClientId=11111111-2222-3333-4444-555555555555"]) {
      expect(() => telemetryIdentity({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: bad }), bad).toThrow(/^APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not an Entra authentication string/);
    }
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
