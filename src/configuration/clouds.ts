/** The national clouds the product supports, and the hosts each one uses. */
export const CLOUD_NAMES = ["AzurePublic", "AzureChina", "AzureUSGovernment", "AzureUSGovernmentDoD"] as const;
export type CloudName = (typeof CLOUD_NAMES)[number];

export interface CloudEndpoints {
  /** Microsoft Entra authority host, without a trailing slash. */
  authorityHost: string;
  /** Microsoft Graph endpoint, without a trailing slash. Also the token scope's resource. */
  graphEndpoint: string;
  /** The DNS suffix of Key Vault in this cloud (used to explain errors, and checked by the Key Vault SDK). */
  keyVaultSuffix: string;
  /** The audience a managed identity token must have to be exchanged as a federated credential. */
  tokenExchangeAudience: string;
  /** Where an administrator grants consent and manages app registrations. */
  portal: string;
  /**
   * Where Entra sends a customer's administrator after admin consent (the `redirect_uri` of the
   * consent URL, registered on the app): the cloud's portal, a Microsoft page that needs nothing to
   * run and receives only the consent's outcome (docs/decisions.md). The Entra template registers
   * `${environment().portal}/`, the same URI.
   */
  consentRedirectUri: string;
}

export const CLOUDS: Record<CloudName, CloudEndpoints> = {
  AzurePublic: {
    authorityHost: "https://login.microsoftonline.com",
    graphEndpoint: "https://graph.microsoft.com",
    keyVaultSuffix: "vault.azure.net",
    tokenExchangeAudience: "api://AzureADTokenExchange",
    portal: "https://portal.azure.com",
    consentRedirectUri: "https://portal.azure.com/",
  },
  AzureChina: {
    authorityHost: "https://login.partner.microsoftonline.cn",
    graphEndpoint: "https://microsoftgraph.chinacloudapi.cn",
    keyVaultSuffix: "vault.azure.cn",
    tokenExchangeAudience: "api://AzureADTokenExchangeChina",
    portal: "https://portal.azure.cn",
    consentRedirectUri: "https://portal.azure.cn/",
  },
  AzureUSGovernment: {
    authorityHost: "https://login.microsoftonline.us",
    graphEndpoint: "https://graph.microsoft.us",
    keyVaultSuffix: "vault.usgovcloudapi.net",
    tokenExchangeAudience: "api://AzureADTokenExchangeUSGov",
    portal: "https://portal.azure.us",
    consentRedirectUri: "https://portal.azure.us/",
  },
  AzureUSGovernmentDoD: {
    authorityHost: "https://login.microsoftonline.us",
    graphEndpoint: "https://dod-graph.microsoft.us",
    keyVaultSuffix: "vault.usgovcloudapi.net",
    tokenExchangeAudience: "api://AzureADTokenExchangeUSGov",
    portal: "https://portal.azure.us",
    consentRedirectUri: "https://portal.azure.us/",
  },
};
