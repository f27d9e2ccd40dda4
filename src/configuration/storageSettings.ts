/**
 * The storage setting: a connection string (SNAPSHOT_STORAGE) or an identity-based table service
 * URI (SNAPSHOT_STORAGE__tableServiceUri), and the bound on each table request. Connection strings
 * are checked here, outside the schema, so that their text never reaches an error message.
 */
import { STORAGE_DEFAULTS } from "./defaults.js";
import { duration } from "./schema.js";
import { settingsError } from "./settingsError.js";
import { storageEndpointOf } from "./storageConnectionString.js";

/**
 * The connection to the table service every store uses (snapshots, run records, the mirror, the
 * change log, the tenant registry): the account's endpoint and how to authenticate, and the bound
 * on each table request (`requestTimeoutInMs`, STORAGE_REQUEST_TIMEOUT_SECONDS). No table names:
 * those are a table prefix and the suffixes of src/kinds/tableNames.ts (each object kind's in its
 * descriptor).
 */
export type TableStorageSettings = (
  | { kind: "connectionString"; connectionString: string; tableEndpoint: string; allowInsecureConnection: boolean }
  | { kind: "identity"; tableServiceUri: string; allowInsecureConnection: boolean }
) & { requestTimeoutInMs?: number };

export const STORAGE_FIX =
  "Set SNAPSHOT_STORAGE to a connection string (UseDevelopmentStorage=true for Azurite), or SNAPSHOT_STORAGE__tableServiceUri to https://<account>.table.core.windows.net for an identity-based connection.";

export function readStorage(env: Record<string, string | undefined>): { storage?: TableStorageSettings; lines: string[]; names: string[] } {
  const lines: string[] = [];
  const names: string[] = [];
  let storage: TableStorageSettings | undefined;
  const connectionString = env.SNAPSHOT_STORAGE?.trim();
  const tableServiceUri = env.SNAPSHOT_STORAGE__tableServiceUri?.trim();
  if (connectionString && tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push("SNAPSHOT_STORAGE and SNAPSHOT_STORAGE__tableServiceUri are both set; they are exclusive. Keep one: the connection string, or the identity-based table service URI.");
  } else if (!connectionString && !tableServiceUri) {
    names.push("SNAPSHOT_STORAGE");
    lines.push(`SNAPSHOT_STORAGE is missing. ${STORAGE_FIX}`);
  } else if (connectionString) {
    const result = storageEndpointOf(connectionString, "table");
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
 * Reads only the table storage settings: what the command line's read-only commands (runs,
 * export) need. Fails the same way loadSettings does.
 */
export function loadStorageSettings(env: Record<string, string | undefined> = process.env): TableStorageSettings {
  const result = readStorage(env);
  if (result.storage === undefined) throw settingsError(result.lines, result.names);
  return result.storage;
}
