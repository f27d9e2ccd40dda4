/**
 * Starts OpenTelemetry with the Azure Monitor exporter, only when APPLICATIONINSIGHTS_CONNECTION_STRING
 * is set: locally, without it, nothing is set up and nothing is sent (the metrics API stays a no-op).
 *
 * - Authentication: Application Insights here refuses local auth (infra/modules/monitoring.bicep), so
 *   the exporter gets a TokenCredential: the managed identity named by
 *   APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD;ClientId=…`, set by the Bicep), else
 *   DefaultAzureCredential (the command line: az login, or AZURE_CLIENT_ID). The identity needs
 *   Monitoring Metrics Publisher on the resource.
 * - Azure SDK spans (Key Vault, Tables, the Graph pipeline's HTTP requests): the product is an ES
 *   module, which OpenTelemetry's require hooks do not see, so the Azure SDK instrumentation is
 *   applied to @azure/core-tracing directly.
 * - Functions: the host's OpenTelemetry mode (host.json `telemetryMode`) hands each invocation its
 *   trace context; the Functions instrumentation puts it around the handler, so a run's spans join the
 *   host's invocation.
 * - Sampling: a run is one trace, and a few runs an hour make little telemetry, so every trace is
 *   kept by default (`samplingRatio` 1, no per-second cap). Very large tenants (thousands of Graph
 *   pages per snapshot) can lower it with USER_SYNC_TRACE_SAMPLING_RATIO (0–1, whole runs are kept or
 *   dropped). Metrics are never sampled.
 */
import type * as AzureFunctions from "@azure/functions";
import type { TokenCredential } from "@azure/identity";
import type { AzureMonitorOpenTelemetryOptions } from "@azure/monitor-opentelemetry";
import { describeError, UserSyncError } from "../shared/errors.js";

export const CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING";
export const AUTHENTICATION_STRING_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";
export const SAMPLING_RATIO_SETTING = "USER_SYNC_TRACE_SAMPLING_RATIO";

export interface StartTelemetryOptions {
  /** The Functions module, when running in the host: its invocations' trace context is applied. */
  functions?: typeof AzureFunctions;
  /** The exporter's credential (default: from APPLICATIONINSIGHTS_AUTHENTICATION_STRING, else DefaultAzureCredential). */
  credential?: TokenCredential;
}

let started = false;

/**
 * The exporter's identity: `{ managedIdentity, clientId? }` when APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * says `Authorization=AAD` (with the user-assigned identity's ClientId), else DefaultAzureCredential.
 */
export function telemetryIdentity(env: Record<string, string | undefined>): { kind: "managedIdentity"; clientId?: string } | { kind: "default" } {
  const auth = env[AUTHENTICATION_STRING_SETTING];
  if (auth) {
    const pairs = new Map(auth.split(";").map((pair) => pair.split("=").map((s) => s.trim())).map(([k, v]) => [(k ?? "").toLowerCase(), v ?? ""] as const));
    if (pairs.get("authorization")?.toUpperCase() === "AAD") {
      const clientId = pairs.get("clientid");
      return clientId ? { kind: "managedIdentity", clientId } : { kind: "managedIdentity" };
    }
  }
  return { kind: "default" };
}

/** USER_SYNC_TRACE_SAMPLING_RATIO: a number from 0 to 1 (default 1). */
export function samplingRatio(env: Record<string, string | undefined>): number {
  const raw = env[SAMPLING_RATIO_SETTING]?.trim();
  if (raw === undefined || raw === "") return 1;
  const value = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !(value >= 0 && value <= 1)) {
    throw new UserSyncError("invalid_setting", `${SAMPLING_RATIO_SETTING} must be a number from 0 to 1 (the share of runs whose traces are kept), not "${raw}". Remove it to keep every run's trace.`);
  }
  return value;
}

/** The Azure Monitor options for this environment (exported for tests). */
export function azureMonitorOptions(env: Record<string, string | undefined>, credential: TokenCredential, ratio = samplingRatio(env)): AzureMonitorOpenTelemetryOptions {
  return {
    azureMonitorExporterOptions: { connectionString: env[CONNECTION_STRING_SETTING]!, credential },
    samplingRatio: ratio,
    tracesPerSecond: 0,
    enableLiveMetrics: false,
    instrumentationOptions: {
      azureSdk: { enabled: true },
      // Outgoing HTTP is traced by the Azure SDK pipelines already; the http module's hooks do not see ES modules.
      http: { enabled: false },
      // Log lines go through the Functions host (or the terminal), not as telemetry twice.
      console: { enabled: false },
    },
  };
}

/**
 * Starts telemetry when APPLICATIONINSIGHTS_CONNECTION_STRING is set; resolves to whether it did.
 * Safe to call more than once (the first call wins). The OpenTelemetry packages are loaded only
 * then, so that a process without telemetry does not pay for them.
 */
export async function startTelemetry(env: Record<string, string | undefined>, options: StartTelemetryOptions = {}): Promise<boolean> {
  if (started) return true;
  if (!env[CONNECTION_STRING_SETTING]?.trim()) return false;
  let ratio: number;
  try {
    ratio = samplingRatio(env);
  } catch (error) {
    // A telemetry setting never stops the sync: say what to fix, and run without telemetry.
    console.warn(`${describeError(error)} Telemetry is off until it is fixed; the sync runs as usual.`);
    return false;
  }
  const monitor = await import("./azureMonitor.js");
  const credential = options.credential ?? monitor.credentialFor(telemetryIdentity(env));
  monitor.start(azureMonitorOptions(env, credential, ratio), options.functions);
  stop = monitor.stop;
  started = true;
  return true;
}

let stop: (() => Promise<void>) | undefined;

/** Sends what is buffered and stops (the command line, before it exits). Bounded by `timeoutInMs`. */
export async function stopTelemetry(timeoutInMs = 10_000): Promise<void> {
  if (!started || !stop) return;
  started = false;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([stop().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutInMs)))]);
  clearTimeout(timer);
}
