/** host.json puts the Functions host in OpenTelemetry mode, so the worker's exporter carries the telemetry. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("host.json", () => {
  it("telemetryMode is OpenTelemetry", () => {
    const host = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "host.json"), "utf8")) as { telemetryMode?: string };
    expect(host.telemetryMode).toBe("OpenTelemetry");
  });

  it("has no Application Insights SDK settings, which OpenTelemetry mode ignores (sampling is USER_SYNC_TRACE_SAMPLING_RATIO)", () => {
    const host = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "host.json"), "utf8")) as { logging?: Record<string, unknown> };
    expect(host.logging?.applicationInsights).toBeUndefined();
    expect(JSON.stringify(host)).not.toMatch(/samplingSettings/i);
  });
});
