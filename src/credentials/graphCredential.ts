/**
 * Builds the Graph token client for the configured GRAPH_CREDENTIAL mode. Nothing here touches the
 * network: the providers read Key Vault or the managed identity on the first token request.
 */
import type { TokenCredential } from "@azure/identity";
import type { Settings } from "../configuration/settings.js";
import type { Logger } from "../shared/logger.js";
import { ClientCertificateProvider } from "./clientCertificateProvider.js";
import { ClientSecretProvider } from "./clientSecretProvider.js";
import { consentRedirectUri } from "./consent.js";
import { GraphTokenClient } from "./graphTokenClient.js";
import { KeyVaultSignedAssertionProvider } from "./keyVaultSignedAssertionProvider.js";
import { ManagedIdentityAssertionProvider } from "./managedIdentityAssertionProvider.js";

/** The token client and the provider of the configured mode; `mode` tells which provider is set. */
export type GraphCredential = { tokens: GraphTokenClient } & (
  | { mode: "keyVaultCertificate"; certificates: ClientCertificateProvider; signedAssertions?: never; federatedAssertions?: never; secrets?: never }
  | { mode: "keyVaultSignedAssertion"; signedAssertions: KeyVaultSignedAssertionProvider; certificates?: never; federatedAssertions?: never; secrets?: never }
  | { mode: "managedIdentityFederation"; federatedAssertions: ManagedIdentityAssertionProvider; certificates?: never; signedAssertions?: never; secrets?: never }
  | { mode: "clientSecret"; secrets: ClientSecretProvider; certificates?: never; signedAssertions?: never; federatedAssertions?: never }
);

export interface CreateGraphCredentialOptions {
  settings: Pick<Settings, "tenantId" | "clientId" | "authorityHost" | "graphEndpoint" | "credential" | "azureRegion" | "cloud"> & Partial<Pick<Settings, "identityRequestTimeoutInMs">>;
  /** The Azure credential (DefaultAzureCredential) that reads Key Vault or is the managed identity. */
  credential: TokenCredential;
  logger: Logger;
}

export function createGraphCredential(options: CreateGraphCredentialOptions): GraphCredential {
  const { settings, credential, logger } = options;
  const common = {
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    authorityHost: settings.authorityHost,
    graphEndpoint: settings.graphEndpoint,
    consentRedirectUri: consentRedirectUri(settings.cloud),
    logger,
    azureRegion: settings.azureRegion,
    requestTimeoutInMs: settings.identityRequestTimeoutInMs,
    ...("keyVaultUrl" in settings.credential && settings.credential.keyVaultUrl ? { vaultUrl: settings.credential.keyVaultUrl } : {}),
  };
  const requestTimeoutInMs = settings.identityRequestTimeoutInMs;
  const mode = settings.credential;
  switch (mode.mode) {
    case "keyVaultCertificate": {
      const certificates = new ClientCertificateProvider({ vaultUrl: mode.keyVaultUrl, certificateName: mode.certificateName, credential, logger, requestTimeoutInMs });
      return { mode: mode.mode, tokens: new GraphTokenClient({ ...common, certificateProvider: certificates }), certificates };
    }
    case "keyVaultSignedAssertion": {
      const signedAssertions = new KeyVaultSignedAssertionProvider({
        vaultUrl: mode.keyVaultUrl,
        certificateName: mode.certificateName,
        credential,
        tenantId: settings.tenantId,
        clientId: settings.clientId,
        authorityHost: settings.authorityHost,
        logger,
        requestTimeoutInMs,
      });
      return { mode: mode.mode, tokens: new GraphTokenClient({ ...common, assertionProvider: signedAssertions }), signedAssertions };
    }
    case "managedIdentityFederation": {
      const federatedAssertions = new ManagedIdentityAssertionProvider({ credential, tokenExchangeAudience: mode.tokenExchangeAudience, logger });
      return { mode: mode.mode, tokens: new GraphTokenClient({ ...common, assertionProvider: federatedAssertions }), federatedAssertions };
    }
    case "clientSecret": {
      const secrets =
        mode.source === "keyVault"
          ? new ClientSecretProvider({ source: "keyVault", vaultUrl: mode.keyVaultUrl, secretName: mode.secretName, credential, logger, requestTimeoutInMs })
          : new ClientSecretProvider({ source: "environment", clientSecret: mode.clientSecret, logger });
      return { mode: mode.mode, tokens: new GraphTokenClient({ ...common, secretProvider: secrets }), secrets };
    }
  }
}
