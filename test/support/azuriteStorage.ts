/** The stores' and the tenant queue's settings for a test's Azurite (its account key, plain HTTP on loopback). */
import type { TenantQueueSettings } from "../../src/configuration/queueSettings.js";
import type { SnapshotStorageSettings } from "../../src/configuration/storageSettings.js";
import type { AzuriteInstance } from "../../tools/azurite.js";

export function azuriteTableStorage(azurite: AzuriteInstance): SnapshotStorageSettings {
  return { kind: "connectionString", connectionString: azurite.connectionString, tableEndpoint: azurite.tableEndpoint, allowInsecureConnection: true };
}

export function azuriteQueueStorage(azurite: AzuriteInstance): TenantQueueSettings {
  return { kind: "connectionString", connectionString: azurite.connectionString };
}
