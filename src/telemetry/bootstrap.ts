/**
 * The Functions app's first entry (package.json `main` lists it before the function files, and each
 * function file imports it first, so that it runs before any of them whatever order the worker loads
 * them in): OpenTelemetry to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set
 * (src/telemetry/telemetrySetup.ts, docs/operations.md), with the Functions module, so that every
 * function's invocations (the timer and the queue trigger alike) carry the host's trace context.
 * It also sets the worker process's heap growth, as the command line does (src/shared/heapGrowth.ts).
 */
import "../shared/requireSupportedNodeToLoad.js";
import * as functions from "@azure/functions";
import { limitHeapGrowth } from "../shared/heapGrowth.js";
import { startTelemetry } from "./telemetrySetup.js";

limitHeapGrowth();

await startTelemetry(process.env, { functions });
