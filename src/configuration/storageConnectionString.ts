/**
 * A storage connection string, parsed and checked as the Azure Storage SDKs will read it
 * (@azure/data-tables and @azure/storage-queue, utils/connectionString): so that a string they
 * would refuse fails at start-up with exit 2, naming the setting and what is missing, instead of the
 * SDK's raw error on the first request. Its text never reaches a message.
 *
 * The SDKs' rules: `UseDevelopmentStorage=true` is the emulator. A string with both
 * `DefaultEndpointsProtocol` and `AccountKey` is an account-key string: it needs `AccountName`, and
 * either the service's endpoint (`TableEndpoint`, `QueueEndpoint`) or `EndpointSuffix` (with an
 * http or https protocol). Any other string is a SAS string: it needs the service's endpoint and a
 * `SharedAccessSignature`.
 */
export type StorageService = "table" | "queue" | "blob";

const ENDPOINT_KEY: Record<StorageService, string> = { table: "TableEndpoint", queue: "QueueEndpoint", blob: "BlobEndpoint" };
const EMULATOR_PORT: Record<StorageService, number> = { table: 10002, queue: 10001, blob: 10000 };

/** The service's endpoint (no trailing slash), or what is wrong, as a phrase after the setting's name. */
export function storageEndpointOf(connectionString: string, service: StorageService): { endpoint: string } | { problem: string } {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(";")) {
    if (segment.trim() === "") continue;
    const eq = segment.indexOf("=");
    if (eq <= 0) return { problem: "is not a connection string (expected Name=value pairs separated by semicolons)." };
    parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    const proxy = parts.get("developmentstorageproxyuri");
    return { endpoint: `${proxy ?? "http://127.0.0.1"}:${EMULATOR_PORT[service]}/devstoreaccount1` };
  }
  const endpointKey = ENDPOINT_KEY[service];
  const explicit = parts.get(endpointKey.toLowerCase()) || undefined;
  const account = parts.get("accountname") || undefined;
  const protocol = parts.get("defaultendpointsprotocol");
  const hasKey = parts.has("accountkey");
  if (!hasKey && !parts.has("sharedaccesssignature")) {
    return { problem: "has neither AccountKey nor SharedAccessSignature. Use the connection string from the storage account's Access keys page." };
  }
  if (explicit !== undefined) {
    let url: URL;
    try {
      url = new URL(explicit);
    } catch {
      return { problem: `has a ${endpointKey} that is not a URL.` };
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: `has a ${endpointKey} that is not an http or https URL.` };
  }
  if (protocol !== undefined && hasKey) {
    // An account-key connection string.
    if (!account) return { problem: "has no AccountName. Add AccountName=<storage account name>, as on the storage account's Access keys page." };
    if ((parts.get("accountkey") ?? "") === "") return { problem: "has an empty AccountKey." };
    if (explicit !== undefined) return { endpoint: explicit.replace(/\/+$/, "") };
    const scheme = protocol.toLowerCase();
    if (scheme !== "https" && scheme !== "http") return { problem: `has DefaultEndpointsProtocol=${scheme === "" ? "(empty)" : "(not http or https)"}: use https.` };
    const suffix = parts.get("endpointsuffix");
    if (!suffix) {
      return {
        problem: `has no EndpointSuffix (and no ${endpointKey}). Add EndpointSuffix=core.windows.net (core.chinacloudapi.cn in Azure China, core.usgovcloudapi.net in Azure US Government), as the connection string on the storage account's Access keys page has.`,
      };
    }
    return { endpoint: `${scheme}://${account}.${service}.${suffix}` };
  }
  // A SAS connection string (or an account key without DefaultEndpointsProtocol, which the SDKs read as one).
  if (explicit === undefined) {
    return {
      problem: hasKey
        ? `has AccountKey but neither DefaultEndpointsProtocol nor ${endpointKey}. Use the whole connection string from the storage account's Access keys page (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net).`
        : `has a SharedAccessSignature but no ${endpointKey}. Add ${endpointKey}=https://<account>.${service}.core.windows.net (a SAS connection string names its endpoints).`,
    };
  }
  if (!parts.get("sharedaccesssignature")) return { problem: `has no SharedAccessSignature: with ${endpointKey} and without DefaultEndpointsProtocol and AccountKey, it must carry a SAS.` };
  return { endpoint: explicit.replace(/\/+$/, "") };
}
