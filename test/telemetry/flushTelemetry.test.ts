/**
 * A run's end sends what the providers hold, log records included: in the host, the Functions
 * instrumentation turns each `context.log` line into an OpenTelemetry log record, and an idle
 * instance may be frozen before the batch processor's next export.
 */
import { logs } from "@opentelemetry/api-logs";
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from "@opentelemetry/sdk-logs";
import { afterAll, describe, expect, it } from "vitest";
import { flushTelemetry } from "../../src/telemetry/runTelemetry.js";

const exporter = new InMemoryLogRecordExporter();
const provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 3_600_000 })] });

afterAll(async () => {
  logs.disable();
  await provider.shutdown();
});

describe("flushTelemetry", () => {
  it("exports the log records the batch processor holds, without waiting for its schedule", async () => {
    logs.setGlobalLoggerProvider(provider);
    logs.getLogger("test").emit({ body: "Snapshot run completed", severityText: "information" });
    expect(exporter.getFinishedLogRecords()).toHaveLength(0);
    await flushTelemetry(5_000);
    expect(exporter.getFinishedLogRecords().map((r) => r.body)).toEqual(["Snapshot run completed"]);
  });
});
