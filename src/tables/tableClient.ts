/**
 * One way to build a TableClient from the storage settings, for every store: connection string or
 * identity, https for tokens, and a bound on every request (a per-attempt timeout that the SDK's
 * retry policy retries). Its entity group transactions are sent with a body built once
 * (directTransactions.ts), not through a client per transaction.
 */
import type { TokenCredential } from "@azure/identity";
import { TableClient, type TableServiceClientOptions } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import { UserSyncError } from "../shared/errors.js";
import { encodedBodyPolicy } from "./encodedBodyPolicy.js";
import { storageRequestTimeoutPolicy } from "./requestTimeoutPolicy.js";
import { useDirectTransactions } from "./directTransactions.js";
import { DEFAULT_STORAGE_REQUEST_TIMEOUT_IN_MS } from "../configuration/defaults.js";


export interface CreateTableClientOptions {
  storage: TableStorageSettings;
  tableName: string;
  /** Required when `storage.kind` is "identity". */
  credential?: TokenCredential | undefined;
  /** Passed to the SDK (retry options, extra pipeline policies...). */
  clientOptions?: TableServiceClientOptions | undefined;
  /** Who needs the credential, for the message when it is missing. */
  owner: string;
}

export function createTableClient(options: CreateTableClientOptions): TableClient {
  const { storage } = options;
  const timeoutInMs = storage.requestTimeoutInMs ?? DEFAULT_STORAGE_REQUEST_TIMEOUT_IN_MS;
  const clientOptions: TableServiceClientOptions = {
    ...options.clientOptions,
    allowInsecureConnection: storage.allowInsecureConnection,
    additionalPolicies: [
      ...(options.clientOptions?.additionalPolicies ?? []),
      // perCall: before the shared-key policy signs the request (and measures its body).
      { policy: encodedBodyPolicy(), position: "perCall" },
      { policy: storageRequestTimeoutPolicy(timeoutInMs), position: "perRetry" },
    ],
  };
  const direct = { httpClient: clientOptions.httpClient, allowInsecureConnection: storage.allowInsecureConnection };
  if (storage.kind === "identity") {
    if (!options.credential) {
      throw new UserSyncError("no_azure_credential", `An identity-based store (SNAPSHOT_STORAGE__tableServiceUri) needs a credential; pass one to ${options.owner}.`);
    }
    if (!storage.tableServiceUri.toLowerCase().startsWith("https://")) {
      throw new UserSyncError(
        "invalid_setting",
        "SNAPSHOT_STORAGE__tableServiceUri uses http, but an identity-based connection sends tokens only over https (the Azure SDK refuses otherwise). Use the account's https table endpoint; for Azurite, set SNAPSHOT_STORAGE=UseDevelopmentStorage=true instead.",
        { details: { settings: "SNAPSHOT_STORAGE__tableServiceUri" } },
      );
    }
    return useDirectTransactions(new TableClient(storage.tableServiceUri, options.tableName, options.credential, clientOptions), direct);
  }
  return useDirectTransactions(TableClient.fromConnectionString(storage.connectionString, options.tableName, clientOptions), direct);
}
