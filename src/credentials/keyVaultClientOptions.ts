/**
 * Options shared by the Key Vault SDK clients of every mode (CertificateClient, SecretClient,
 * CryptographyClient).
 */
import { isLoopbackHost } from "../shared/loopback.js";

export interface KeyVaultClientOptions {
  disableChallengeResourceVerification?: boolean;
}

/**
 * Emulators (like the simulated tenant) live on loopback and cannot answer Key Vault's 401 challenge
 * with a resource on the vault's own domain; real vaults always can, so verification stays on for them.
 */
export function keyVaultClientOptions(vaultUrl: string): KeyVaultClientOptions {
  return isLoopbackHost(new URL(vaultUrl).hostname) ? { disableChallengeResourceVerification: true } : {};
}
