/**
 * Telemetry set-up is the app's first entry: package.json `main` lists src/telemetry/bootstrap.ts
 * before the function files, and each function file imports it first, so that the queue trigger
 * alone (loaded before or without the timer) starts OpenTelemetry and tells the host so.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installFunctionsHostStandIn } from "../support/functionsHost.js";

const ROOT = join(import.meta.dirname, "..", "..");

afterAll(async () => {
  const { stopTelemetry } = await import("../../src/telemetry/telemetrySetup.js");
  await stopTelemetry(2_000);
});

describe("the telemetry bootstrap", () => {
  it("is listed first in package.json main, before the function files", () => {
    const { main } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { main: string };
    expect(main).toBe("dist/src/{telemetry/bootstrap.js,functions/*.js}");
  });

  it("is the first import of each function file", () => {
    for (const file of ["userSync.ts", "tenantSync.ts"]) {
      const imports = readFileSync(join(ROOT, "src", "functions", file), "utf8").match(/^import .*$/gm) ?? [];
      expect(imports[0], file).toBe('import "../telemetry/bootstrap.js";');
    }
  });

  it("starts telemetry when the queue trigger's file is loaded alone", async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000017;IngestionEndpoint=https://127.0.0.1:9/";
    process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=00000000-0000-0000-0000-0000000000aa";
    process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = "true";
    process.env.USER_SYNC_TENANT_MODE = "multi";
    const host = installFunctionsHostStandIn();
    await import("../../src/functions/tenantSync.js");
    expect(host.registrations.map((r) => r.metadata.name)).toEqual(["tenantSync"]);
    const model = host.programmingModel as { getCapabilities(c: Record<string, string>): Promise<Record<string, unknown>> };
    expect((await model.getCapabilities({})).WorkerOpenTelemetryEnabled).toBe("true");
  });
});
