/**
 * The Functions app's first entry (package.json `main` lists it before the function files, and each
 * function file imports it first, so that it runs before any of them whatever order the worker loads
 * them in): OpenTelemetry to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set
 * (src/telemetry/telemetrySetup.ts, docs/operations.md), with the Functions module, so that every
 * function's invocations (the timer and the queue trigger alike) carry the host's trace context.
 */
import "../shared/requireSupportedNodeToLoad.js";
import * as functions from "@azure/functions";
import { startTelemetry } from "./telemetrySetup.js";

await startTelemetry(process.env, { functions });
