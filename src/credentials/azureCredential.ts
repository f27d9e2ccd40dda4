import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS } from "../configuration/defaults.js";
import { identityPipelineOptions } from "./identityRequests.js";

/**
 * The product's Azure credential (DefaultAzureCredential: the managed identity in Azure, a
 * developer sign-in locally). The composition (src/app/compose.ts) builds it; the telemetry
 * exporter, which starts before any composition, builds its own here too. Each request to the
 * managed-identity endpoint is bounded by `requestTimeoutInMs` (IDENTITY_REQUEST_TIMEOUT_SECONDS)
 * and retried at most twice (identityRequests.ts): the library's own client sets no timeout, and
 * the credential ignores a getToken abort signal.
 */
export function createAzureCredential(requestTimeoutInMs: number = DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS): TokenCredential {
  return new DefaultAzureCredential(identityPipelineOptions(requestTimeoutInMs));
}
