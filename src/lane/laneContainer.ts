/**
 * The analytics lane's container client, from its settings: a connection string, or the blob
 * service URI with the Azure credential (identity-based, the Functions convention). Every request
 * attempt is bounded (STORAGE_REQUEST_TIMEOUT_SECONDS, as for tables) and retried a few times.
 */
import type { TokenCredential } from "@azure/identity";
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from "@azure/storage-blob";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";

export interface LaneContainerOptions {
  /** Required for an identity-based connection. */
  credential?: TokenCredential | undefined;
  /** Per attempt of a request. */
  requestTimeoutInMs: number;
}

export function createLaneContainerClient(lane: ExportLaneSettings, options: LaneContainerOptions): ContainerClient {
  const pipeline: StoragePipelineOptions = { retryOptions: { maxTries: 4, tryTimeoutInMs: options.requestTimeoutInMs, retryDelayInMs: 1000, maxRetryDelayInMs: 10_000 } };
  if (lane.kind === "connectionString") return BlobServiceClient.fromConnectionString(lane.connectionString, pipeline).getContainerClient(lane.container);
  if (!options.credential) throw new Error("An identity-based analytics lane needs the Azure credential.");
  return new BlobServiceClient(lane.blobServiceUri, options.credential, pipeline).getContainerClient(lane.container);
}
