/**
 * What every simulated service knows about the tenant: its identifiers, endpoints, app
 * registration, grants and signing key. One object, shared by the routers of the services.
 */
import type { CloudEndpoints, CloudName } from "../../src/configuration/clouds.js";
import type { GeneratedCertificate } from "./pki.js";
import type { TokenAuthority } from "./tokens.js";
import type { SimulatedDirectory } from "./users.js";

/** Microsoft Graph's well-known application id (also accepted as its resource identifier). */
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
/** Key Vault's well-known application id. */
export const KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";
/** The User.Read.All application role of Microsoft Graph. */
export const USER_READ_ALL_ROLE_ID = "df021288-bdef-4463-88db-98f22de89214";

export interface AppRegistration {
  clientId: string;
  /** Object id of the app's service principal in the tenant (the `oid` of its tokens). */
  servicePrincipalObjectId: string;
  displayName: string;
  /** Certificates registered as key credentials (usage Verify). */
  certificates: GeneratedCertificate[];
  /** Application permissions granted on Microsoft Graph (admin consent). */
  graphRoles: string[];
  /** Client secret values (password credentials). None by default. */
  clientSecrets?: string[];
  /** Federated identity credentials (workload identity federation). None by default. */
  federatedIdentityCredentials?: FederatedIdentityCredential[];
}

/** A federated identity credential on the app registration, as Entra matches it. */
export interface FederatedIdentityCredential {
  name: string;
  /**
   * Undefined: the issuer of the app's home tenant (`<authority host>/<home tenant id>/v2.0`), as
   * for a managed identity of that tenant.
   */
  issuer?: string;
  /** For a managed identity: its principal (object) id. */
  subject: string;
  /** One value, e.g. api://AzureADTokenExchange. */
  audiences: string[];
}

/** A plain Key Vault secret (not a certificate's backing secret). */
export interface VaultSecret {
  name: string;
  version: string;
  value: string;
  contentType?: string;
}

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
  /** The secret the App Service sandbox puts in IDENTITY_HEADER. */
  identityHeader: string;
  resourceId: string;
}

export interface TenantState {
  tenantId: string;
  tenantDomain: string;
  cloudName: CloudName;
  cloud: CloudEndpoints;
  /** Origins of the listeners, filled in once they listen. */
  authorityHost: string;
  graphEndpoint: string;
  keyVaultUrl: string;
  identityEndpoint: string;
  /** The resource identifiers (token audiences) Graph accepts; the first is the canonical one. */
  graphResources: string[];
  /** The resource Key Vault names in its challenge, e.g. https://vault.azure.net. */
  keyVaultResource: string;
  app: AppRegistration;
  managedIdentity: ManagedIdentity;
  keyVaultAccess: "allowed" | "forbidden";
  /** Key Vault data actions answered with 403 ForbiddenByRbac, e.g. "Microsoft.KeyVault/vaults/keys/sign/action". */
  keyVaultDeniedActions?: string[];
  graphLatencyInMs: number;
  /** The most users a `/users` page holds, whatever `$top` asks (Graph may return fewer). Default: `$top`. */
  graphPageSize?: number;
  tokens: TokenAuthority;
  /**
   * The token service of the app's home tenant, which issues its managed identity's tokens: a
   * customer tenant verifies the app's federated assertions with it (the federated identity
   * credential lives on the app registration, in its home tenant). Undefined: this is the home tenant.
   */
  homeTokens?: TokenAuthority;
  directory: SimulatedDirectory;
  /** Key for the HMAC that makes `$skiptoken`s tamper-evident. */
  skipTokenKey: Buffer;
  vault: SimulatedVault;
  /**
   * False: the app has no service principal here (no administrator consented): the token endpoint
   * answers AADSTS7000229. Default true. Customer tenants of the simulated cloud set it.
   */
  appServicePrincipal?: boolean;
}

export interface VaultCertificate {
  name: string;
  version: string;
  certificate: GeneratedCertificate;
  /** Leaf first. */
  chainPem: string[];
  contentType: "application/x-pkcs12" | "application/x-pem-file";
  /** The backing secret's value (base64 PKCS#12 or PEM bundle). */
  secretValue: string;
  exportable: boolean;
  createdOnInSeconds: number;
}

export interface SimulatedVault {
  certificates: Map<string, VaultCertificate>;
  /** Plain secrets by lowercase name. */
  secrets?: Map<string, VaultSecret>;
}

/** Whether a tenant segment of a path (id or verified domain) names this tenant. */
export function isThisTenant(state: TenantState, segment: string): boolean {
  const s = segment.toLowerCase();
  return s === state.tenantId.toLowerCase() || s === state.tenantDomain.toLowerCase();
}
