/**
 * Options shared by the Key Vault SDK clients of every mode (CertificateClient, SecretClient,
 * CryptographyClient): each request bounded like every identity request (identityRequests.ts).
 */
import type { HttpClient } from "@azure/core-rest-pipeline";
import { isLoopbackHost } from "../shared/loopback.js";
import { DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS } from "../configuration/defaults.js";
import { identityPipelineOptions } from "./identityRequests.js";

export interface KeyVaultClientOptions {
  disableChallengeResourceVerification?: boolean;
  httpClient: HttpClient;
  retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
}

/**
 * Emulators (like the simulated tenant) live on loopback and cannot answer Key Vault's 401 challenge
 * with a resource on the vault's own domain; real vaults always can, so verification stays on for them.
 * `requestTimeoutInMs`: each attempt's bound (IDENTITY_REQUEST_TIMEOUT_SECONDS).
 */
export function keyVaultClientOptions(vaultUrl: string, requestTimeoutInMs: number = DEFAULT_IDENTITY_REQUEST_TIMEOUT_IN_MS): KeyVaultClientOptions {
  const bounded = identityPipelineOptions(requestTimeoutInMs);
  return isLoopbackHost(new URL(vaultUrl).hostname) ? { disableChallengeResourceVerification: true, ...bounded } : bounded;
}
