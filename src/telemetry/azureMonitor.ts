/**
 * The OpenTelemetry packages themselves, loaded by startTelemetry (src/telemetry/telemetrySetup.ts)
 * only when a connection string is set.
 */
import * as coreTracing from "@azure/core-tracing";
import type * as AzureFunctions from "@azure/functions";
import functionsInstrumentation from "@azure/functions-opentelemetry-instrumentation";
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { shutdownAzureMonitor, useAzureMonitor, type AzureMonitorOpenTelemetryOptions } from "@azure/monitor-opentelemetry";
import { AzureSdkInstrumentation } from "@azure/opentelemetry-instrumentation-azure-sdk";
import { createAzureCredential } from "../credentials/azureCredential.js";

export function credentialFor(identity: { kind: "managedIdentity"; clientId?: string } | { kind: "default" }): TokenCredential {
  if (identity.kind === "default") return createAzureCredential();
  return identity.clientId ? new ManagedIdentityCredential({ clientId: identity.clientId }) : new ManagedIdentityCredential();
}

/**
 * The Azure SDK instrumentation, applied to the @azure/core-tracing module this process loads: its
 * usual way in (a require hook) does not see ES modules.
 */
class AzureSdkTracing extends AzureSdkInstrumentation {
  applyTo(module: typeof coreTracing): void {
    const definitions = this.init();
    for (const definition of Array.isArray(definitions) ? definitions : definitions ? [definitions] : []) definition.patch?.(module);
  }
}

/** Azure SDK clients (Key Vault, Tables, pipelines) make spans through the global tracer provider from now on. */
export function instrumentAzureSdk(): void {
  new AzureSdkTracing().applyTo(coreTracing);
}

export function start(options: AzureMonitorOpenTelemetryOptions, functions: typeof AzureFunctions | undefined): void {
  useAzureMonitor(options);
  instrumentAzureSdk();
  // In the host: the invocation's trace context around the handler, and the worker's OpenTelemetry capability.
  if (functions) new functionsInstrumentation.AzureFunctionsInstrumentationESM().registerAzFunc(functions);
}

export function stop(): Promise<void> {
  return shutdownAzureMonitor();
}
