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
 * - Telemetry never stops the sync: an invalid telemetry setting (or an exporter that fails to start)
 *   logs one warning naming the setting, never its value, and the run goes on without telemetry.
 */
import type * as AzureFunctions from "@azure/functions";
import type { TokenCredential } from "@azure/identity";
import type { AzureMonitorOpenTelemetryOptions } from "@azure/monitor-opentelemetry";
import { z } from "zod";
import { describeError, UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { DEFAULT_TRACE_SAMPLING_RATIO } from "../configuration/defaults.js";

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

const isGuid = (value: string | undefined) => value !== undefined && z.guid().safeParse(value).success;

/** The `key=value` pairs of a connection or authentication string, keys lower-cased; undefined when it is not made of pairs. */
function pairsOf(text: string): Map<string, string> | undefined {
  const pairs = new Map<string, string>();
  for (const part of text.split(";")) {
    if (part.trim() === "") continue;
    const at = part.indexOf("=");
    if (at <= 0) return undefined;
    pairs.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return pairs;
}

const CONNECTION_STRING_FIX = `Copy it from the Application Insights resource (Overview, Connection String), or remove ${CONNECTION_STRING_SETTING} to run without telemetry.`;
const AUTHENTICATION_STRING_FIX =
  "Set it to Authorization=AAD (the system-assigned identity) or Authorization=AAD;ClientId=<the user-assigned identity's client ID>, or remove it to send with DefaultAzureCredential (az login, AZURE_CLIENT_ID).";

/** What is wrong with APPLICATIONINSIGHTS_CONNECTION_STRING (set), without its value; undefined when it will do. */
function connectionStringProblem(raw: string): string | undefined {
  const pairs = pairsOf(raw);
  if (!pairs) return `${CONNECTION_STRING_SETTING} is not a connection string (InstrumentationKey=…;IngestionEndpoint=https://…).`;
  if (!isGuid(pairs.get("instrumentationkey"))) return `${CONNECTION_STRING_SETTING} has no valid InstrumentationKey (a GUID).`;
  for (const key of ["ingestionendpoint", "liveendpoint"]) {
    const endpoint = pairs.get(key);
    if (endpoint !== undefined && !(URL.canParse(endpoint) && new URL(endpoint).protocol === "https:")) {
      return `${CONNECTION_STRING_SETTING} has an ${key === "ingestionendpoint" ? "IngestionEndpoint" : "LiveEndpoint"} that is not an https URL.`;
    }
  }
  return undefined;
}

/** What is wrong with APPLICATIONINSIGHTS_AUTHENTICATION_STRING (set), without its value; undefined when it will do. */
function authenticationStringProblem(raw: string): string | undefined {
  const pairs = pairsOf(raw);
  const valid =
    pairs !== undefined &&
    pairs.get("authorization")?.toUpperCase() === "AAD" &&
    [...pairs.keys()].every((key) => key === "authorization" || key === "clientid") &&
    (!pairs.has("clientid") || isGuid(pairs.get("clientid")));
  return valid ? undefined : `${AUTHENTICATION_STRING_SETTING} is not an Entra authentication string.`;
}

/**
 * The telemetry settings' problems, each naming its setting and the fix but never its value; empty
 * when telemetry can start. Checked before anything is sent: a bad setting never reaches the exporter.
 */
export function telemetrySettingsProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const connection = env[CONNECTION_STRING_SETTING]?.trim();
  const connectionProblem = connection ? connectionStringProblem(connection) : undefined;
  if (connectionProblem) problems.push(`${connectionProblem} ${CONNECTION_STRING_FIX}`);
  const authentication = env[AUTHENTICATION_STRING_SETTING]?.trim();
  const authenticationProblem = authentication ? authenticationStringProblem(authentication) : undefined;
  if (authenticationProblem) problems.push(`${authenticationProblem} ${AUTHENTICATION_STRING_FIX}`);
  try {
    samplingRatio(env);
  } catch (error) {
    problems.push(describeError(error));
  }
  return problems;
}

/**
 * The exporter's identity: `{ managedIdentity, clientId? }` when APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * is set (`Authorization=AAD`, with the user-assigned identity's ClientId), else DefaultAzureCredential.
 * Refuses an authentication string that is not one (telemetrySettingsProblems says why).
 */
export function telemetryIdentity(env: Record<string, string | undefined>): { kind: "managedIdentity"; clientId?: string } | { kind: "default" } {
  const auth = env[AUTHENTICATION_STRING_SETTING]?.trim();
  if (!auth) return { kind: "default" };
  const problem = authenticationStringProblem(auth);
  if (problem) throw new UserSyncError("invalid_setting", `${problem} ${AUTHENTICATION_STRING_FIX}`);
  const clientId = pairsOf(auth)!.get("clientid");
  return clientId ? { kind: "managedIdentity", clientId } : { kind: "managedIdentity" };
}

/** USER_SYNC_TRACE_SAMPLING_RATIO: a number from 0 to 1 (default 1). */
export function samplingRatio(env: Record<string, string | undefined>): number {
  const raw = env[SAMPLING_RATIO_SETTING]?.trim();
  if (raw === undefined || raw === "") return DEFAULT_TRACE_SAMPLING_RATIO;
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

const TELEMETRY_OFF = "Telemetry is off until it is fixed; the sync runs as usual.";

/**
 * Starts telemetry when APPLICATIONINSIGHTS_CONNECTION_STRING is set; resolves to whether it did.
 * Safe to call more than once (the first call that starts wins). The OpenTelemetry packages are
 * loaded only then, so that a process without telemetry does not pay for them. Never throws: a
 * problem is one warning (console.warn, which the Functions host logs) and telemetry stays off.
 */
export async function startTelemetry(env: Record<string, string | undefined>, options: StartTelemetryOptions = {}): Promise<boolean> {
  if (started) return true;
  if (!env[CONNECTION_STRING_SETTING]?.trim()) return false;
  const problems = telemetrySettingsProblems(env);
  if (problems.length > 0) {
    console.warn(`${problems.join(" ")} ${TELEMETRY_OFF}`);
    return false;
  }
  let monitor: typeof import("./azureMonitor.js");
  try {
    monitor = await import("./azureMonitor.js");
  } catch (error) {
    // The deployed package lacks a telemetry package (test/infra/stagedPackage.integration.test.ts guards this).
    console.warn(redact(`Telemetry did not start: its packages did not load (${describeError(error)}). The deployment package is incomplete: deploy it again from a clean \`npm ci\`. ${TELEMETRY_OFF}`));
    return false;
  }
  try {
    const credential = options.credential ?? monitor.credentialFor(telemetryIdentity(env));
    monitor.start(azureMonitorOptions(env, credential), options.functions);
  } catch (error) {
    // What the checks above let through and the exporter refused: undo what started, say so once.
    await bounded(monitor.stop(), STOP_TIMEOUT_IN_MS);
    let message = describeError(error);
    for (const setting of [CONNECTION_STRING_SETTING, AUTHENTICATION_STRING_SETTING]) {
      const value = env[setting]?.trim();
      if (value) message = message.split(value).join("[redacted]");
    }
    console.warn(redact(`Telemetry did not start: ${message.replace(/\.?$/, ".")} Check ${CONNECTION_STRING_SETTING} and ${AUTHENTICATION_STRING_SETTING}. ${TELEMETRY_OFF}`));
    return false;
  }
  stop = monitor.stop;
  started = true;
  return true;
}

const STOP_TIMEOUT_IN_MS = 10_000;

/** Waits for `promise` (its failure ignored) at most `timeoutInMs`. */
async function bounded(promise: Promise<unknown>, timeoutInMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutInMs)))]);
  clearTimeout(timer);
}

let stop: (() => Promise<void>) | undefined;

/** Sends what is buffered and stops (the command line, before it exits). Bounded by `timeoutInMs`. */
export async function stopTelemetry(timeoutInMs = STOP_TIMEOUT_IN_MS): Promise<void> {
  if (!started || !stop) return;
  started = false;
  await bounded(stop(), timeoutInMs);
}
