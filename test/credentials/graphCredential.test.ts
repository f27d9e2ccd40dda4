/**
 * createGraphCredential builds, for each GRAPH_CREDENTIAL mode, the token client and exactly that
 * mode's provider, tagged with the mode; and GraphTokenClient takes exactly one credential source
 * (checked by the compiler: `npm run typecheck` fails if a line marked @ts-expect-error compiles).
 * Nothing here touches the network.
 */
import type { TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { SecretText, type GraphCredentialSettings } from "../../src/configuration/settings.js";
import { ClientCertificateProvider } from "../../src/credentials/clientCertificateProvider.js";
import { ClientSecretProvider } from "../../src/credentials/clientSecretProvider.js";
import { createGraphCredential, type GraphCredential } from "../../src/credentials/graphCredential.js";
import { GraphTokenClient } from "../../src/credentials/graphTokenClient.js";
import { KeyVaultSignedAssertionProvider } from "../../src/credentials/keyVaultSignedAssertionProvider.js";
import { ManagedIdentityAssertionProvider } from "../../src/credentials/managedIdentityAssertionProvider.js";
import { silentLogger } from "../../src/shared/logger.js";

const unusedCredential: TokenCredential = {
  getToken: () => Promise.reject(new Error("this test makes no token request")),
};

function build(credential: GraphCredentialSettings): GraphCredential {
  return createGraphCredential({
    settings: {
      tenantId: "11111111-2222-3333-4444-555555555555",
      clientId: "66666666-7777-8888-9999-000000000000",
      authorityHost: "https://login.microsoftonline.com",
      graphEndpoint: "https://graph.microsoft.com",
      cloud: "AzurePublic",
      credential,
      azureRegion: undefined,
    },
    credential: unusedCredential,
    logger: silentLogger,
  });
}

const PROVIDERS = ["certificates", "signedAssertions", "federatedAssertions", "secrets"] as const;

function providersOf(credential: GraphCredential): string[] {
  return PROVIDERS.filter((name) => credential[name] !== undefined);
}

describe("createGraphCredential", () => {
  const vault = "https://contoso-sync.vault.azure.net";

  it("keyVaultCertificate: the certificate provider only", () => {
    const credential = build({ mode: "keyVaultCertificate", keyVaultUrl: vault, certificateName: "graph-client" });
    expect(credential.mode).toBe("keyVaultCertificate");
    expect(providersOf(credential)).toEqual(["certificates"]);
    expect(credential.certificates).toBeInstanceOf(ClientCertificateProvider);
    expect(credential.tokens).toBeInstanceOf(GraphTokenClient);
  });

  it("keyVaultSignedAssertion: the signed-assertion provider only", () => {
    const credential = build({ mode: "keyVaultSignedAssertion", keyVaultUrl: vault, certificateName: "graph-client" });
    expect(credential.mode).toBe("keyVaultSignedAssertion");
    expect(providersOf(credential)).toEqual(["signedAssertions"]);
    expect(credential.signedAssertions).toBeInstanceOf(KeyVaultSignedAssertionProvider);
  });

  it("managedIdentityFederation: the managed identity provider only", () => {
    const credential = build({ mode: "managedIdentityFederation", tokenExchangeAudience: "api://AzureADTokenExchange" });
    expect(credential.mode).toBe("managedIdentityFederation");
    expect(providersOf(credential)).toEqual(["federatedAssertions"]);
    expect(credential.federatedAssertions).toBeInstanceOf(ManagedIdentityAssertionProvider);
  });

  it("clientSecret: the secret provider only, from Key Vault or the environment", () => {
    const fromVault = build({ mode: "clientSecret", source: "keyVault", keyVaultUrl: vault, secretName: "graph-secret" });
    expect(fromVault.mode).toBe("clientSecret");
    expect(providersOf(fromVault)).toEqual(["secrets"]);
    expect(fromVault.secrets?.source).toBe("keyVault");

    const fromEnvironment = build({ mode: "clientSecret", source: "environment", clientSecret: new SecretText("not-a-real-secret") });
    expect(providersOf(fromEnvironment)).toEqual(["secrets"]);
    expect(fromEnvironment.secrets).toBeInstanceOf(ClientSecretProvider);
    expect(fromEnvironment.secrets?.source).toBe("environment");
  });

  it("narrows to the mode's provider by its tag", () => {
    const credential = build({ mode: "keyVaultCertificate", keyVaultUrl: vault, certificateName: "graph-client" });
    if (credential.mode !== "keyVaultCertificate") throw new Error("expected keyVaultCertificate");
    // No optional chaining needed once narrowed: the provider is there by type.
    expect(credential.certificates.getClientCertificate).toBeTypeOf("function");
  });
});

describe("GraphTokenClient options", () => {
  it("take exactly one credential source", () => {
    const common = {
      tenantId: "11111111-2222-3333-4444-555555555555",
      clientId: "66666666-7777-8888-9999-000000000000",
      authorityHost: "https://login.microsoftonline.com",
      graphEndpoint: "https://graph.microsoft.com",
      logger: silentLogger,
    };
    const secrets = new ClientSecretProvider({ source: "environment", clientSecret: new SecretText("not-a-real-secret"), logger: silentLogger });
    const assertions = new ManagedIdentityAssertionProvider({ credential: unusedCredential, tokenExchangeAudience: "api://AzureADTokenExchange", logger: silentLogger });
    expect(new GraphTokenClient({ ...common, secretProvider: secrets })).toBeInstanceOf(GraphTokenClient);
    // @ts-expect-error two sources: the options union admits exactly one
    expect(new GraphTokenClient({ ...common, secretProvider: secrets, assertionProvider: assertions })).toBeInstanceOf(GraphTokenClient);
    // @ts-expect-error no source at all
    expect(new GraphTokenClient({ ...common })).toBeInstanceOf(GraphTokenClient);
  });
});
