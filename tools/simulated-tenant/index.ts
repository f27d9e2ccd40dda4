/**
 * The simulated tenant: Microsoft Entra (token endpoint and metadata), Microsoft Graph `/users`,
 * Key Vault and the App Service managed-identity endpoint, each on its own HTTPS listener on
 * loopback with a certificate from the simulator's own CA, so that tests and the demo drive the
 * real, unmodified SDK clients.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { CLOUDS, type CloudName } from "../../src/configuration/clouds.js";
import { deltaRoutes, SimulatedDirectoryChanges, type DirectoryChanges } from "./delta.js";
import { entraNotFound, entraRoutes } from "./entra.js";
import { createTenantFaults, type TenantFaults } from "./faults.js";
import { graphNotFound, graphRoutes } from "./graph.js";
import { SimulatedGroups, type SimulatedGroupsOptions } from "./groups.js";
import { groupRoutes } from "./groupsGraph.js";
import { RequestLog, startListener, type Listener, type RequestInterceptor, type RequestLogEntry, type ServiceName } from "./http.js";
import { keyVaultNotFound, keyVaultRoutes, newVersion } from "./keyVault.js";
import { MANAGED_IDENTITY_PATH, managedIdentityNotFound, managedIdentityRoutes } from "./managedIdentity.js";
import { createCertificateAuthority, issueCertificate, toPemBundle, toPkcs12Base64, type GeneratedCertificate } from "./pki.js";
import { GRAPH_APP_ID, type FederatedIdentityCredential, type TenantState, type VaultCertificate } from "./state.js";
import { createTokenAuthority } from "./tokens.js";
import { createSimulatedDirectory, type SimulatedDirectory } from "./users.js";
import { CustomerTenants, type CustomerTenantOptions, type SimulatedCustomerTenant } from "./customers.js";

export type { CustomerConsent, CustomerTenantOptions, SimulatedCustomerTenant } from "./customers.js";

export type { GeneratedCertificate } from "./pki.js";
export type { FederatedIdentityCredential } from "./state.js";
export type { FaultScript, ForeignHost, GraphFaultStep, GraphFaults, HeldRequests, TenantFaults } from "./faults.js";
export type { SimulatedDirectory } from "./users.js";
export type { GroupMemberLayout, LayoutMember, MemberKind, SimulatedGroupRef, SimulatedGroups, SimulatedGroupsOptions, SimulatedMember, SimulatedMemberRef } from "./groups.js";
export { MEMBER_KINDS, SIMULATED_GROUP_PROPERTIES } from "./groups.js";
export { GROUP_READ_ROLES, MEMBER_LINKS_PER_PAGE } from "./groupsGraph.js";
export type { DeltaScenario, DeltaTokenRefusal, DirectoryChanges, SimulatedUserRef } from "./delta.js";
export type { RequestInterceptor, ServiceName, SimulatedRequest, SimulatedResponse } from "./http.js";
export { GRAPH_DEFAULT_USER_PROPERTIES, SIMULATED_USER_PROPERTIES, SINGLE_USER_ONLY_PROPERTIES } from "./users.js";

export const DEFAULT_TENANT_ID = "5f1c2e6a-7b3d-4c8e-9a0f-1d2e3f4a5b6c";
export const DEFAULT_CLIENT_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

export interface SimulatedTenantOptions {
  userCount: number;
  /** Same seed, same directory. Default 1. */
  seed?: number;
  tenantId?: string;
  clientId?: string;
  /** Default "graph-client". */
  certificateName?: string;
  /** Default application/x-pkcs12 (legacy 3DES, as Key Vault makes it). */
  certificateContentType?: "application/x-pkcs12" | "application/x-pem-file";
  /** Sets the Key Vault challenge resource and the Graph token audience. Default AzurePublic. */
  cloud?: CloudName;
  /** Added to each `/users` page. */
  graphLatencyInMs?: number;
  /** Default true; false => Graph answers 403 Authorization_RequestDenied. */
  grantUserReadAll?: boolean;
  /** Default false; without it `/users?$select=signInActivity` answers 403, as Graph does without AuditLog.Read.All. */
  grantAuditLogReadAll?: boolean;
  /** The directory's groups and memberships (groups.ts). Default none. */
  groups?: SimulatedGroupsOptions;
  /**
   * The role granted for groups: GroupMember.Read.All (the default when `groups` has any), or a
   * broader Group.Read.All / Directory.Read.All; false: none, so `/groups` answers 403.
   */
  groupRole?: "GroupMember.Read.All" | "Group.Read.All" | "Directory.Read.All" | false;
  /** Default "allowed"; "forbidden" => Key Vault answers 403 ForbiddenByRbac. */
  keyVaultAccess?: "allowed" | "forbidden";
  /** Key Vault data actions answered 403 ForbiddenByRbac, e.g. "Microsoft.KeyVault/vaults/keys/sign/action". */
  keyVaultDeniedActions?: string[];
  /** Default true. false: the certificate's secret holds only the certificates (as Key Vault does for a non-exportable key); signing still works. */
  certificateKeyExportable?: boolean;
  /** Client secret values registered on the app (password credentials). Default none. */
  clientSecrets?: string[];
  /** Plain Key Vault secrets, name => value (e.g. the client secret for GRAPH_CREDENTIAL=clientSecret). */
  keyVaultSecrets?: Record<string, string>;
  /** True: the app trusts the managed identity through a federated identity credential (this tenant's issuer, the identity's object id, the cloud's exchange audience). */
  federatedManagedIdentity?: boolean;
  /**
   * Other tenants of the simulated cloud, where the same app is used (multi-tenant mode): each
   * with its own directory, consent state and throttling. Default none.
   */
  customerTenants?: CustomerTenantOptions[];
}

export interface SimulatedTenantRequests {
  count(service: ServiceName): number;
  reset(): void;
  /** Paths with secret-bearing query values redacted. */
  entries(): ReadonlyArray<RequestLogEntry>;
}

export interface SimulatedTenant {
  tenantId: string;
  /** A verified domain of the tenant; the token endpoint accepts it in place of the id. */
  tenantDomain: string;
  clientId: string;
  certificateName: string;
  /** https://127.0.0.1:<port> (token endpoint and OpenID metadata). */
  authorityHost: string;
  /** https://127.0.0.1:<port> */
  graphEndpoint: string;
  /** https://127.0.0.1:<port> */
  keyVaultUrl: string;
  /** App Service managed identity (2019-08-01). */
  identityEndpoint: string;
  identityHeader: string;
  /** The managed identity's client id and object id (the `appid` / `oid` of its tokens). */
  managedIdentityClientId: string;
  managedIdentityObjectId: string;
  /** The resource Key Vault's challenge names (https://vault.azure.net in the public cloud). */
  keyVaultResource: string;
  /** The Graph resource for scopes: `<graphResource>/.default`. The loopback graphEndpoint is accepted too. */
  graphResource: string;
  caCertificatePem: string;
  /** A file holding caCertificatePem, for NODE_EXTRA_CA_CERTS in child processes. */
  caCertificatePath: string;
  /** The certificate registered on the app (and stored in Key Vault). */
  appCertificate: GeneratedCertificate;
  /** The CA that issued appCertificate (the second certificate of the chain in Key Vault). */
  appIssuerCertificate: GeneratedCertificate;
  directory: SimulatedDirectory;
  /** Test controls: add, change, rename, soft-delete, hard-delete and restore users; expire delta tokens. */
  changes: DirectoryChanges;
  /** The groups and their members, and test controls to change them (the users' delta controls expire group tokens too). */
  groups: SimulatedGroups;
  requests: SimulatedTenantRequests;
  /**
   * Lets a test answer requests of one service in place of the simulator (fault injection).
   * Returns a function that removes the interceptor.
   */
  intercept(service: ServiceName, interceptor: RequestInterceptor): () => void;
  /** Declarative per-request fault scripts on top of `intercept`, and a foreign host for nextLink tests. */
  faults: TenantFaults;
  /** The customer tenants (customerTenants), by tenant id. */
  customers: Map<string, SimulatedCustomerTenant>;
  /**
   * Replaces the app registration's federated identity credentials (an administrator edits them):
   * the home tenant and every customer tenant match assertions against the new ones.
   */
  setFederatedIdentityCredentials(credentials: FederatedIdentityCredential[]): void;
  /** The product's settings pointing at this tenant, plus IDENTITY_ENDPOINT / IDENTITY_HEADER. */
  settingsEnv(): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Adds the simulator's CA to this process's default trust store (Node 22.19+), so in-process
 * clients (MSAL, the Azure SDK) trust its listeners. Child processes use NODE_EXTRA_CA_CERTS.
 */
export function trustSimulatedTenantCa(caCertificatePem: string): void {
  const current = tls.getCACertificates("default");
  const pem = caCertificatePem.trim();
  if (current.some((c) => c.trim() === pem)) return;
  tls.setDefaultCACertificates([...current, pem]);
}

export async function startSimulatedTenant(options: SimulatedTenantOptions): Promise<SimulatedTenant> {
  const tenantId = (options.tenantId ?? DEFAULT_TENANT_ID).toLowerCase();
  const clientId = (options.clientId ?? DEFAULT_CLIENT_ID).toLowerCase();
  const seed = options.seed ?? 1;
  const certificateName = options.certificateName ?? "graph-client";
  const contentType = options.certificateContentType ?? "application/x-pkcs12";
  const cloudName = options.cloud ?? "AzurePublic";
  const cloud = CLOUDS[cloudName];
  const tenantDomain = `simulated${tenantId.slice(0, 8)}.onmicrosoft.com`;

  // PKI: the root CA signs the TLS certificate and an intermediate; the intermediate signs the app certificate.
  const ca = createCertificateAuthority({ commonName: "Simulated Tenant Root CA" });
  const serverCertificate = issueCertificate({
    commonName: "localhost",
    issuer: ca,
    subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1", "::1"] },
  });
  const intermediate = issueCertificate({ commonName: "Simulated Tenant Issuing CA", issuer: ca, isCa: true });
  const appCertificate = issueCertificate({ commonName: "entra-user-sync graph client", issuer: intermediate });
  const chainPem = [appCertificate.certificatePem, intermediate.certificatePem];
  const secretValue =
    contentType === "application/x-pkcs12"
      ? toPkcs12Base64({ privateKeyPem: appCertificate.privateKeyPem, chainPem, encryption: "legacy-3des" })
      : toPemBundle({ privateKeyPem: appCertificate.privateKeyPem, chainPem });
  const vaultCertificate: VaultCertificate = {
    name: certificateName,
    version: newVersion(),
    certificate: appCertificate,
    chainPem,
    contentType,
    secretValue,
    exportable: options.certificateKeyExportable ?? true,
    createdOnInSeconds: Math.floor(Date.now() / 1000) - 3600,
  };

  const directory = createSimulatedDirectory({ userCount: options.userCount, seed, domain: tenantDomain });
  const changes = new SimulatedDirectoryChanges(directory, seed);
  const groups = new SimulatedGroups(seed, { userCount: directory.userCount, userIdAt: (i) => changes.userIdAt(i) }, options.groups);
  changes.lifecycleListener = groups;
  const groupRole = options.groupRole ?? (groups.groupCount > 0 ? "GroupMember.Read.All" : false);
  const log = new RequestLog();
  const interceptors = new Map<ServiceName, RequestInterceptor[]>();
  const identityHeader = randomBytes(24).toString("base64url");

  // Filled in below, once the listeners know their ports; no request can arrive before.
  const state: TenantState = {
    tenantId,
    tenantDomain,
    cloudName,
    cloud,
    authorityHost: "",
    graphEndpoint: "",
    keyVaultUrl: "",
    identityEndpoint: "",
    graphResources: [],
    keyVaultResource: `https://${cloud.keyVaultSuffix}`,
    app: {
      clientId,
      servicePrincipalObjectId: randomUUID(),
      displayName: "entra-user-sync",
      certificates: [appCertificate],
      graphRoles: [
        ...(options.grantUserReadAll === false ? [] : ["User.Read.All"]),
        ...(options.grantAuditLogReadAll ? ["AuditLog.Read.All"] : []),
        ...(groupRole === false ? [] : [groupRole]),
      ],
      clientSecrets: options.clientSecrets ?? [],
      federatedIdentityCredentials: [],
    },
    managedIdentity: {
      clientId: randomUUID(),
      objectId: randomUUID(),
      identityHeader,
      resourceId: "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/simulated/providers/Microsoft.Web/sites/entra-user-sync",
    },
    keyVaultAccess: options.keyVaultAccess ?? "allowed",
    keyVaultDeniedActions: options.keyVaultDeniedActions ?? [],
    graphLatencyInMs: options.graphLatencyInMs ?? 0,
    tokens: createTokenAuthority({ issuer: () => `${state.authorityHost}/${tenantId}/v2.0` }),
    directory,
    skipTokenKey: randomBytes(32),
    vault: {
      certificates: new Map([[certificateName.toLowerCase(), vaultCertificate]]),
      secrets: new Map(Object.entries(options.keyVaultSecrets ?? {}).map(([name, value]) => [name.toLowerCase(), { name, version: newVersion(), value }])),
    },
  };
  if (options.federatedManagedIdentity) {
    state.app.federatedIdentityCredentials = [{ name: "function-managed-identity", subject: state.managedIdentity.objectId, audiences: [cloud.tokenExchangeAudience] }];
  }

  const customers = new CustomerTenants(state, options.customerTenants ?? []);

  const tlsOptions = { key: serverCertificate.privateKeyPem, cert: serverCertificate.certificatePem };
  const common = { tls: tlsOptions, log, interceptors };
  const listeners: Listener[] = [];
  let caDirectory: string | undefined;
  try {
    const authority = await startListener({ ...common, defaultService: "token", routes: customers.entraRoutes(entraRoutes(state)), notFound: entraNotFound(state) });
    listeners.push(authority);
    const graph = await startListener({ ...common, defaultService: "graph", routes: customers.graphRoutes([...graphRoutes(state, changes), ...deltaRoutes(state, changes), ...groupRoutes(state, groups, changes)]), notFound: graphNotFound });
    listeners.push(graph);
    const vault = await startListener({ ...common, defaultService: "keyVault", routes: keyVaultRoutes(state), notFound: keyVaultNotFound(state) });
    listeners.push(vault);
    const identity = await startListener({ ...common, defaultService: "managedIdentity", routes: managedIdentityRoutes(state), notFound: managedIdentityNotFound });
    listeners.push(identity);

    state.authorityHost = authority.origin;
    state.graphEndpoint = graph.origin;
    state.keyVaultUrl = vault.origin;
    state.identityEndpoint = `${identity.origin}${MANAGED_IDENTITY_PATH}`;
    state.graphResources = [cloud.graphEndpoint, GRAPH_APP_ID, graph.origin];

    const intercept = (service: ServiceName, interceptor: RequestInterceptor): (() => void) => {
      const list = interceptors.get(service) ?? [];
      list.push(interceptor);
      interceptors.set(service, list);
      return () => {
        const current = interceptors.get(service) ?? [];
        const at = current.indexOf(interceptor);
        if (at >= 0) current.splice(at, 1);
      };
    };
    const faults = createTenantFaults({ state, intercept, graphRoutes: [...graphRoutes(state, changes), ...deltaRoutes(state, changes), ...groupRoutes(state, groups, changes)], graphNotFound, tls: tlsOptions });

    caDirectory = mkdtempSync(join(tmpdir(), "simulated-tenant-"));
    const caCertificatePath = join(caDirectory, "ca.pem");
    writeFileSync(caCertificatePath, ca.certificatePem, { mode: 0o644 });

    let closed = false;
    const tenant: SimulatedTenant = {
      tenantId,
      tenantDomain,
      clientId,
      certificateName,
      authorityHost: state.authorityHost,
      graphEndpoint: state.graphEndpoint,
      keyVaultUrl: state.keyVaultUrl,
      identityEndpoint: state.identityEndpoint,
      identityHeader,
      managedIdentityClientId: state.managedIdentity.clientId,
      managedIdentityObjectId: state.managedIdentity.objectId,
      keyVaultResource: state.keyVaultResource,
      graphResource: cloud.graphEndpoint,
      caCertificatePem: ca.certificatePem,
      caCertificatePath,
      appCertificate,
      appIssuerCertificate: intermediate,
      directory,
      changes,
      groups,
      requests: {
        count: (service) => log.count(service),
        reset: () => log.reset(),
        entries: () => log.entries(),
      },
      intercept,
      faults: { graph: faults.graph, hold: (service, matches) => faults.hold(service, matches), startForeignHost: () => faults.startForeignHost() },
      customers: customers.handles(),
      setFederatedIdentityCredentials: (credentials) => {
        state.app.federatedIdentityCredentials = credentials.map((c) => ({ ...c, audiences: [...c.audiences] }));
      },
      settingsEnv: () => ({
        GRAPH_TENANT_ID: tenantId,
        GRAPH_CLIENT_ID: clientId,
        GRAPH_CLOUD: cloudName,
        GRAPH_AUTHORITY_HOST: state.authorityHost,
        GRAPH_ENDPOINT: state.graphEndpoint,
        KEY_VAULT_URL: state.keyVaultUrl,
        KEY_VAULT_CERTIFICATE_NAME: certificateName,
        IDENTITY_ENDPOINT: state.identityEndpoint,
        IDENTITY_HEADER: identityHeader,
      }),
      async close() {
        if (closed) return;
        closed = true;
        await faults.close();
        await Promise.all(listeners.map((l) => l.close()));
        if (caDirectory !== undefined) rmSync(caDirectory, { recursive: true, force: true });
      },
    };
    return tenant;
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    if (caDirectory !== undefined) rmSync(caDirectory, { recursive: true, force: true });
    throw error;
  }
}
