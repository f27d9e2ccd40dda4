/**
 * The analytics lane's settings (docs/analytics.md): USER_SYNC_EXPORT_STORAGE, a storage connection
 * string, or USER_SYNC_EXPORT_STORAGE__blobServiceUri, an identity-based blob service URI (the
 * Functions convention); USER_SYNC_EXPORT_CONTAINER; USER_SYNC_EXPORT_RETENTION_DAYS (applied by the
 * storage account's lifecycle policy in infra/, never by the code). Neither storage setting: the
 * lane is off. Connection strings are checked here, outside the schema, so that their text never
 * reaches an error message.
 */
import { EXPORT_LANE_DEFAULTS } from "./defaults.js";
import { isPlainHttpsUrl } from "./serviceUri.js";
import { storageEndpointOf } from "./storageConnectionString.js";

export type ExportLaneSettings = (
  | { kind: "connectionString"; connectionString: string; blobEndpoint: string }
  | { kind: "identity"; blobServiceUri: string }
) & {
  /** USER_SYNC_EXPORT_CONTAINER. */
  container: string;
};

export const EXPORT_STORAGE_FIX =
  "Set USER_SYNC_EXPORT_STORAGE to a storage connection string (UseDevelopmentStorage=true for Azurite), or USER_SYNC_EXPORT_STORAGE__blobServiceUri to https://<account>.blob.core.windows.net for an identity-based connection, or set neither to turn the analytics lane off (docs/analytics.md).";

/** Blob container names: 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit. */
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

export function readExportLane(env: Record<string, string | undefined>): { lane?: ExportLaneSettings; lines: string[]; names: string[] } {
  const connectionString = env.USER_SYNC_EXPORT_STORAGE?.trim() || undefined;
  const serviceUri = env.USER_SYNC_EXPORT_STORAGE__blobServiceUri?.trim() || undefined;
  const rawContainer = env.USER_SYNC_EXPORT_CONTAINER?.trim() || undefined;
  const problem = (name: string, line: string) => ({ lines: [line], names: [name] });
  if (rawContainer !== undefined && !CONTAINER_NAME.test(rawContainer)) {
    return problem(
      "USER_SYNC_EXPORT_CONTAINER",
      `USER_SYNC_EXPORT_CONTAINER "${rawContainer.slice(0, 80)}" is not a blob container name: use 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit (default ${EXPORT_LANE_DEFAULTS.container}).`,
    );
  }
  const container = rawContainer ?? EXPORT_LANE_DEFAULTS.container;
  if (connectionString && serviceUri) {
    return problem("USER_SYNC_EXPORT_STORAGE", "USER_SYNC_EXPORT_STORAGE and USER_SYNC_EXPORT_STORAGE__blobServiceUri are both set; they are exclusive. Keep one: the connection string, or the identity-based blob service URI.");
  }
  if (connectionString) {
    const checked = storageEndpointOf(connectionString, "blob");
    if ("problem" in checked) return problem("USER_SYNC_EXPORT_STORAGE", `USER_SYNC_EXPORT_STORAGE ${checked.problem} ${EXPORT_STORAGE_FIX}`);
    return { lane: { kind: "connectionString", connectionString, blobEndpoint: checked.endpoint, container }, lines: [], names: [] };
  }
  if (serviceUri) {
    if (!isPlainHttpsUrl(serviceUri)) {
      return problem(
        "USER_SYNC_EXPORT_STORAGE__blobServiceUri",
        `USER_SYNC_EXPORT_STORAGE__blobServiceUri must be a plain https URL such as https://<account>.blob.core.windows.net (identity-based connections never send a token over http). ${EXPORT_STORAGE_FIX}`,
      );
    }
    return { lane: { kind: "identity", blobServiceUri: serviceUri.replace(/\/+$/, ""), container }, lines: [], names: [] };
  }
  if (rawContainer !== undefined) {
    return problem("USER_SYNC_EXPORT_STORAGE", `USER_SYNC_EXPORT_CONTAINER is set but the lane has no storage account. ${EXPORT_STORAGE_FIX}`);
  }
  return { lines: [], names: [] };
}
