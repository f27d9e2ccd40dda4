/**
 * The tenant queue's connection (multi-tenant mode): USER_SYNC_QUEUE, a storage connection string,
 * or USER_SYNC_QUEUE__queueServiceUri, an identity-based connection (the Functions convention, so
 * that the queue trigger's `connection: "USER_SYNC_QUEUE"` and this code read the same settings).
 */
import { settingsError } from "./settingsError.js";
import { isPlainHttpsUrl } from "./serviceUri.js";
import { storageEndpointOf } from "./storageConnectionString.js";
import { readStorageRequestTimeout } from "./storageSettings.js";

/** `requestTimeoutInMs` bounds each attempt of a queue request (STORAGE_REQUEST_TIMEOUT_SECONDS, as for tables). */
export type TenantQueueSettings = (
  | { kind: "connectionString"; connectionString: string }
  | { kind: "identity"; queueServiceUri: string }
) & { requestTimeoutInMs?: number };

export const QUEUE_FIX =
  "Set USER_SYNC_QUEUE to a storage connection string (UseDevelopmentStorage=true for Azurite), or USER_SYNC_QUEUE__queueServiceUri to https://<account>.queue.core.windows.net for an identity-based connection (docs/tenants.md).";

export function loadQueueSettings(env: Record<string, string | undefined> = process.env): TenantQueueSettings {
  return { ...readConnection(env), requestTimeoutInMs: readRequestTimeoutInMs(env) };
}

/** The same setting and bound as the table requests' (storageSettings.ts). */
function readRequestTimeoutInMs(env: Record<string, string | undefined>): number {
  const timeout = readStorageRequestTimeout(env);
  if ("error" in timeout) throw settingsError([timeout.error], ["STORAGE_REQUEST_TIMEOUT_SECONDS"]);
  return timeout.timeoutInMs;
}

function readConnection(env: Record<string, string | undefined>): TenantQueueSettings {
  const connectionString = env.USER_SYNC_QUEUE?.trim() || undefined;
  const serviceUri = env.USER_SYNC_QUEUE__queueServiceUri?.trim() || undefined;
  if (connectionString && serviceUri) {
    throw settingsError(["USER_SYNC_QUEUE and USER_SYNC_QUEUE__queueServiceUri are both set; keep one (a connection string, or the identity-based URI)."], ["USER_SYNC_QUEUE", "USER_SYNC_QUEUE__queueServiceUri"], true);
  }
  if (connectionString) {
    // Checked as the queue SDK will read it (storageConnectionString.ts); its text never reaches a message.
    const checked = storageEndpointOf(connectionString, "queue");
    if ("problem" in checked) throw settingsError([`USER_SYNC_QUEUE ${checked.problem} ${QUEUE_FIX}`], ["USER_SYNC_QUEUE"]);
    return { kind: "connectionString", connectionString };
  }
  if (serviceUri) {
    if (!isPlainHttpsUrl(serviceUri)) {
      throw settingsError([`USER_SYNC_QUEUE__queueServiceUri must be a plain https URL such as https://<account>.queue.core.windows.net (identity-based connections never send a token over http). ${QUEUE_FIX}`], ["USER_SYNC_QUEUE__queueServiceUri"]);
    }
    return { kind: "identity", queueServiceUri: serviceUri.replace(/\/+$/, "") };
  }
  throw settingsError([`USER_SYNC_QUEUE is missing. USER_SYNC_TENANT_MODE=multi fans the tenants out through a storage queue. ${QUEUE_FIX}`], ["USER_SYNC_QUEUE"]);
}
