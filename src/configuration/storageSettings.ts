/**
 * The storage setting: a connection string (SNAPSHOT_STORAGE) or an identity-based table service
 * URI (SNAPSHOT_STORAGE__tableServiceUri), and the bound on each table request. Connection strings
 * are checked here, outside the schema, so that their text never reaches an error message.
 */
import { STORAGE_DEFAULTS } from "./defaults.js";
import { duration } from "./schema.js";
import { settingsError } from "./settingsError.js";

/** Where the stores live; `requestTimeoutInMs` bounds each table request (STORAGE_REQUEST_TIMEOUT_SECONDS). */
export type SnapshotStorageSettings = (
  | { kind: "connectionString"; connectionString: string; tableEndpoint: string; allowInsecureConnection: boolean }
  | { kind: "identity"; tableServiceUri: string; allowInsecureConnection: boolean }
) & { requestTimeoutInMs?: number };

export const STORAGE_FIX =
  "Set SNAPSHOT_STORAGE to a connection string (UseDevelopmentStorage=true for Azurite), or SNAPSHOT_STORAGE__tableServiceUri to https://<account>.table.core.windows.net for an identity-based connection.";

function tableEndpointOfConnectionString(connectionString: string): { endpoint: string } | { problem: string } {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(";")) {
    if (segment.trim() === "") continue;
    const eq = segment.indexOf("=");
    if (eq <= 0) return { problem: "is not a connection string (expected Name=value pairs separated by semicolons)." };
    parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    const proxy = parts.get("developmentstorageproxyuri");
    return { endpoint: `${proxy ?? "http://127.0.0.1"}:10002/devstoreaccount1` };
  }
  const explicit = parts.get("tableendpoint");
  const account = parts.get("accountname");
  const hasKey = parts.has("accountkey") || parts.has("sharedaccesssignature");
  if (!hasKey) {
    return { problem: "has neither AccountKey nor SharedAccessSignature. Use the connection string from the storage account's Access keys page, or switch to SNAPSHOT_STORAGE__tableServiceUri for an identity-based connection." };
  }
  if (explicit) {
    try {
      new URL(explicit);
    } catch {
      return { problem: "has a TableEndpoint that is not a URL." };
    }
    return { endpoint: explicit.replace(/\/+$/, "") };
  }
  if (!account) return { problem: "has neither AccountName nor TableEndpoint." };
  const protocol = parts.get("defaultendpointsprotocol") ?? "https";
  const suffix = parts.get("endpointsuffix") ?? "core.windows.net";
  return { endpoint: `${protocol}://${account}.table.${suffix}` };
}

export function readStorage(env: Record<string, string | undefined>): { storage?: SnapshotStorageSettings; lines: string[]; names: string[] } {
  const lines: string[] = [];
  const names: string[] = [];
  let storage: SnapshotStorageSettings | undefined;
  const connectionString = env.SNAPSHOT_STORAGE?.trim();
  const tableServiceUri = env.SNAPSHOT_STORAGE__tableServiceUri?.trim();
  if (connectionString && tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push("SNAPSHOT_STORAGE and SNAPSHOT_STORAGE__tableServiceUri are both set; they are exclusive. Keep one: the connection string, or the identity-based table service URI.");
  } else if (!connectionString && !tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push(`SNAPSHOT_STORAGE is missing. ${STORAGE_FIX}`);
  } else if (connectionString) {
    const result = tableEndpointOfConnectionString(connectionString);
    if ("problem" in result) {
      names.push("SNAPSHOT_STORAGE");
      lines.push(`SNAPSHOT_STORAGE ${result.problem}`);
    } else {
      storage = {
        kind: "connectionString",
        connectionString,
        tableEndpoint: result.endpoint,
        allowInsecureConnection: result.endpoint.startsWith("http:"),
      };
    }
  } else if (tableServiceUri) {
    let url: URL | undefined;
    try {
      url = new URL(tableServiceUri);
    } catch {
      names.push("SNAPSHOT_STORAGE__tableServiceUri");
      lines.push(`SNAPSHOT_STORAGE__tableServiceUri "${tableServiceUri}" is not a URL. ${STORAGE_FIX}`);
    }
    if (url) {
      if (url.protocol !== "https:") {
        // Azure SDKs never send a bearer token over plain http, so an identity connection must be https.
        names.push("SNAPSHOT_STORAGE__tableServiceUri");
        lines.push(`SNAPSHOT_STORAGE__tableServiceUri must use https: identity-based connections send a token, which is never sent over http. For Azurite, use SNAPSHOT_STORAGE=UseDevelopmentStorage=true instead. ${STORAGE_FIX}`);
      } else if (url.search) {
        names.push("SNAPSHOT_STORAGE__tableServiceUri");
        lines.push("SNAPSHOT_STORAGE__tableServiceUri must not carry a query string (a SAS): identity-based connections authenticate with DefaultAzureCredential. Put a SAS connection string in SNAPSHOT_STORAGE instead.");
      } else {
        storage = { kind: "identity", tableServiceUri: tableServiceUri.replace(/\/+$/, ""), allowInsecureConnection: false };
      }
    }
  }
  // Read here, not in the schema: the read-only commands need it with the storage settings alone.
  const timeout = readStorageRequestTimeout(env);
  if ("error" in timeout) {
    names.push("STORAGE_REQUEST_TIMEOUT_SECONDS");
    lines.push(timeout.error);
  } else if (storage) {
    storage.requestTimeoutInMs = timeout.timeoutInMs;
  }
  if (storage && storage.requestTimeoutInMs === undefined) storage.requestTimeoutInMs = STORAGE_DEFAULTS.requestTimeoutSeconds * 1000;
  return storage ? { storage, lines, names } : { lines, names };
}

/**
 * STORAGE_REQUEST_TIMEOUT_SECONDS, the bound of each table and queue request's attempt: in
 * milliseconds (its default when unset), or the line that says what is wrong with it.
 */
export function readStorageRequestTimeout(env: Record<string, string | undefined>): { timeoutInMs: number } | { error: string } {
  const timeout = duration("STORAGE_REQUEST_TIMEOUT_SECONDS", "before an unanswered table or queue request is abandoned and retried").safeParse(env.STORAGE_REQUEST_TIMEOUT_SECONDS);
  return timeout.success ? { timeoutInMs: timeout.data * 1000 } : { error: `STORAGE_REQUEST_TIMEOUT_SECONDS ${timeout.error.issues[0]?.message ?? "is not valid."}` };
}

/**
 * Reads only the snapshot storage settings: what the command line's read-only commands (runs,
 * export) need. Fails the same way loadSettings does.
 */
export function loadStorageSettings(env: Record<string, string | undefined> = process.env): SnapshotStorageSettings {
  const result = readStorage(env);
  if (result.storage === undefined) throw settingsError(result.lines, result.names);
  return result.storage;
}
