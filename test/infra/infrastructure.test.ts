import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  arrayItems,
  bicepFilesUnder,
  call,
  literal,
  modules,
  objectEntries,
  outputs,
  parameters,
  parseBicepFile,
  property,
  resolveString,
  resources,
  stringLiteral,
  variables,
  type BicepDocument,
  type Node,
  type ResourceDeclaration,
} from "../support/bicepSyntax.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra");

const docs = new Map<string, BicepDocument>();
beforeAll(async () => {
  for (const file of bicepFilesUnder(INFRA)) docs.set(file, await parseBicepFile(join(INFRA, file)));
});

function doc(file: string): BicepDocument {
  const found = docs.get(file);
  if (!found) throw new Error(`${file} was not parsed`);
  return found;
}

function allResources(): Array<ResourceDeclaration & { file: string }> {
  return [...docs.entries()].flatMap(([file, d]) => resources(d).map((r) => ({ ...r, file })));
}

function only(file: string, type: string): ResourceDeclaration {
  const found = resources(doc(file)).filter((r) => r.type === type && !r.existing);
  expect(found, `${file} declares one ${type}`).toHaveLength(1);
  return found[0]!;
}

// API versions in use, checked against the resource type references. A change here is deliberate.
const API_VERSIONS: Record<string, string> = {
  "Microsoft.Storage/storageAccounts": "2023-05-01",
  "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
  "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
  "Microsoft.Storage/storageAccounts/queueServices": "2023-05-01",
  "Microsoft.Storage/storageAccounts/tableServices": "2023-05-01",
  "Microsoft.Storage/storageAccounts/managementPolicies": "2023-05-01",
  "Microsoft.Insights/diagnosticSettings": "2021-05-01-preview",
  "Microsoft.Network/virtualNetworks": "2024-05-01",
  "Microsoft.Network/privateDnsZones": "2024-06-01",
  "Microsoft.Network/privateDnsZones/virtualNetworkLinks": "2024-06-01",
  "Microsoft.Network/privateEndpoints": "2024-05-01",
  "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": "2024-05-01",
  "Microsoft.KeyVault/vaults": "2023-07-01",
  "Microsoft.OperationalInsights/workspaces": "2023-09-01",
  "Microsoft.Insights/components": "2020-02-02",
  "Microsoft.Insights/actionGroups": "2023-01-01",
  "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
  "Microsoft.Insights/workbooks": "2023-06-01",
  "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
  "Microsoft.Authorization/roleAssignments": "2022-04-01",
  "Microsoft.Resources/deploymentScripts": "2023-08-01",
  "Microsoft.Web/serverfarms": "2024-04-01",
  "Microsoft.Web/sites": "2024-04-01",
  "Microsoft.Web/sites/config": "2024-04-01",
  "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "2024-04-01",
  "Microsoft.Graph/applications": "v1.0",
  "Microsoft.Graph/servicePrincipals": "v1.0",
  "Microsoft.Graph/appRoleAssignedTo": "v1.0",
  "Microsoft.Graph/applications/federatedIdentityCredentials": "v1.0",
};

const ROLE = {
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  keyVaultCertificateUser: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
  keyVaultCertificatesOfficer: "a4417e6f-fecd-4de8-b567-7b0420556985",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
};
const FORBIDDEN_ROLES = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
  "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
};

describe("resources and API versions", () => {
  it("uses only known resource types, each at its pinned API version", () => {
    for (const r of allResources()) {
      expect(API_VERSIONS, `${r.file}: ${r.symbol} has an unexpected type ${r.type}`).toHaveProperty([r.type]);
      expect(`${r.type}@${r.apiVersion}`).toBe(`${r.type}@${API_VERSIONS[r.type]}`);
    }
  });

  it("main.bicep wires every module", () => {
    const paths = modules(doc("main.bicep")).map((m) => m.path).sort();
    expect(paths).toEqual([
      "modules/certificate.bicep",
      "modules/function-app.bicep",
      "modules/keyvault.bicep",
      "modules/monitoring.bicep",
      "modules/network.bicep",
      "modules/private-endpoint.bicep",
      "modules/rbac.bicep",
      "modules/storage.bicep",
      "modules/storage.bicep",
      "modules/workbook.bicep",
    ]);
  });
});

describe("function app on Flex Consumption", () => {
  it("has an FC1 Flex Consumption plan", () => {
    const plan = only("modules/function-app.bicep", "Microsoft.Web/serverfarms");
    expect(literal(property(plan.body, "sku.tier"))).toBe("FlexConsumption");
    expect(literal(property(plan.body, "sku.name"))).toBe("FC1");
    expect(literal(property(plan.body, "properties.reserved"))).toBe(true);
  });

  it("runs Node 22 under a user-assigned identity, and pulls its package with that identity", () => {
    const site = only("modules/function-app.bicep", "Microsoft.Web/sites");
    expect(literal(property(site.body, "kind"))).toBe("functionapp,linux");
    expect(literal(property(site.body, "identity.type"))).toBe("UserAssigned");
    expect(literal(property(site.body, "properties.httpsOnly"))).toBe(true);
    const config = property(site.body, "properties.functionAppConfig");
    expect(literal(property(config, "runtime.name"))).toBe("node");
    expect(literal(property(config, "runtime.version"))).toBe("22");
    expect(literal(property(config, "deployment.storage.type"))).toBe("blobContainer");
    expect(literal(property(config, "deployment.storage.authentication.type"))).toBe("UserAssignedIdentity");
    expect(property(config, "deployment.storage.authentication.userAssignedIdentityResourceId")?.text).toBe("identityId");
    expect(property(config, "scaleAndConcurrency.maximumInstanceCount")?.text).toBe("maximumInstanceCount");
    expect(property(config, "scaleAndConcurrency.instanceMemoryMB")?.text).toBe("instanceMemoryMB");
  });

  it("turns off publishing credentials (scm and ftp)", () => {
    const policies = resources(doc("modules/function-app.bicep")).filter((r) => r.type === "Microsoft.Web/sites/basicPublishingCredentialsPolicies");
    expect(policies.map((p) => literal(property(p.body, "name"))).sort()).toEqual(["ftp", "scm"]);
    for (const p of policies) {
      expect(literal(property(p.body, "properties.allow"))).toBe(false);
      // The resource provider rejects these policies without the site's location.
      expect(property(p.body, "location")?.text).toBe("location");
    }
  });

  it("gives main's user-assigned identity to the app", () => {
    const fn = modules(doc("main.bicep")).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.identityId")?.text).toBe("functionIdentity.id");
    expect(property(fn.body, "params.identityClientId")?.text).toBe("functionIdentity.properties.clientId");
  });
});

describe("storage", () => {
  it("disables shared keys and anonymous blob access, requires TLS 1.2 and HTTPS", () => {
    const account = only("modules/storage.bicep", "Microsoft.Storage/storageAccounts");
    expect(literal(property(account.body, "properties.allowSharedKeyAccess"))).toBe(false);
    expect(literal(property(account.body, "properties.allowBlobPublicAccess"))).toBe(false);
    expect(literal(property(account.body, "properties.minimumTlsVersion"))).toBe("TLS1_2");
    expect(literal(property(account.body, "properties.supportsHttpsTrafficOnly"))).toBe(true);
    expect(literal(property(account.body, "properties.defaultToOAuthAuthentication"))).toBe(true);
    const container = only("modules/storage.bicep", "Microsoft.Storage/storageAccounts/blobServices/containers");
    expect(literal(property(container.body, "properties.publicAccess"))).toBe("None");
  });

  it("every storage account in the templates comes from the hardened module", () => {
    const accounts = allResources().filter((r) => r.type === "Microsoft.Storage/storageAccounts" && !r.existing);
    expect(accounts.map((a) => a.file)).toEqual(["modules/storage.bicep"]);
  });

  it("deploys two accounts: host storage with the deployment container, and snapshot storage", () => {
    const storage = modules(doc("main.bicep")).filter((m) => m.path === "modules/storage.bicep");
    expect(storage.map((m) => m.symbol).sort()).toEqual(["hostStorage", "snapshotStorage"]);
    const host = storage.find((m) => m.symbol === "hostStorage")!;
    expect(arrayItems(property(host.body, "params.containerNames")).map((n) => n.text)).toEqual(["deploymentContainerName"]);
    // The snapshot account holds a container only for the analytics lane, with its retention policy.
    const snapshot = storage.find((m) => m.symbol === "snapshotStorage")!;
    expect(property(snapshot.body, "params.containerNames")?.text).toBe("analyticsLane ? [analyticsContainerName] : []");
    expect(property(snapshot.body, "params.deleteAfterDays")?.text).toBe("laneLifecycle");
  });

  it("the analytics lane's retention is a lifecycle policy on its container's prefix, from USER_SYNC_EXPORT_RETENTION_DAYS, else SNAPSHOT_RETENTION_DAYS", () => {
    const policy = only("modules/storage.bicep", "Microsoft.Storage/storageAccounts/managementPolicies");
    expect(policy.condition?.text).toBe("(!empty(deleteAfterDays))");
    const rule = property(policy.body, "properties.policy.rules")!.text;
    expect(rule).toContain("prefixMatch: [rule.prefix]");
    expect(rule).toContain("daysAfterModificationGreaterThan: rule.days");
    const main = variables(doc("main.bicep"));
    expect(main.get("laneLifecycle")?.text).toBe("analyticsLane && laneRetentionDays > 0 ? [{ name: 'analytics-lane-retention', prefix: '${analyticsContainerName}/', days: laneRetentionDays }] : []");
    expect(main.get("laneRetentionText")?.text).toContain("optionalSettings.?SNAPSHOT_RETENTION_DAYS");
    expect(main.get("laneRetentionText")?.text).toContain("optionalSettings.?USER_SYNC_EXPORT_RETENTION_DAYS");
  });
});

describe("Key Vault", () => {
  it("uses RBAC authorization, soft delete and purge protection", () => {
    const vault = only("modules/keyvault.bicep", "Microsoft.KeyVault/vaults");
    expect(literal(property(vault.body, "properties.enableRbacAuthorization"))).toBe(true);
    expect(literal(property(vault.body, "properties.enableSoftDelete"))).toBe(true);
    expect(literal(property(vault.body, "properties.enablePurgeProtection"))).toBe(true);
    expect(property(vault.body, "properties.accessPolicies")).toBeUndefined();
  });
});

describe("monitoring", () => {
  it("Application Insights is workspace-based with local auth disabled", () => {
    const ai = only("modules/monitoring.bicep", "Microsoft.Insights/components");
    expect(literal(property(ai.body, "properties.DisableLocalAuth"))).toBe(true);
    expect(property(ai.body, "properties.WorkspaceResourceId")?.text).toBe("workspace.id");
    const workspace = only("modules/monitoring.bicep", "Microsoft.OperationalInsights/workspaces");
    expect(literal(property(workspace.body, "properties.features.disableLocalAuth"))).toBe(true);
  });

  it("alerts on the product's own metrics, never on the host's requests, split by tenant where a tenant has the problem", () => {
    const rules = resources(doc("modules/monitoring.bicep")).filter((r) => r.type === "Microsoft.Insights/scheduledQueryRules");
    const found = rules.map((r) => {
      const [criterion] = arrayItems(property(r.body, "properties.criteria.allOf"));
      expect(property(r.body, "properties.scopes")?.text).toContain("appInsights.id");
      const dimensions = arrayItems(property(criterion, "dimensions")).map((d) => literal(property(d, "name")));
      return { name: r.symbol, query: property(criterion, "query")?.text ?? "", dimensions, autoMitigate: literal(property(r.body, "properties.autoMitigate")) };
    });
    expect(found.map((f) => f.name).sort()).toEqual(["certificateExpiryAlert", "heartbeatAlert", "poisonQueueAlert", "skippedUsersAlert", "tenantRunFailedAlert", "tenantStaleAlert"]);
    for (const f of found) expect(f.query, f.name).toMatch(/^'customMetrics \|/);
    const by = (name: string) => found.find((f) => f.name === name)!;
    expect(by("tenantRunFailedAlert").dimensions).toEqual(["tenant_id", "error_type", "problem"]);
    expect(by("tenantStaleAlert").dimensions).toEqual(["tenant_id", "data"]);
    expect(by("skippedUsersAlert").dimensions).toEqual(["tenant_id"]);
    // Silence does not resolve the certificate alert.
    expect(by("certificateExpiryAlert").autoMitigate).toBe(false);
    const monitoring = modules(doc("main.bicep")).find((m) => m.path === "modules/monitoring.bicep")!;
    expect(resolveString(doc("main.bicep"), property(monitoring.body, "params.functionName"))).toBe("userSync");
  });

  it("sends telemetry with the identity (Entra authentication string)", () => {
    const hostSettings = variables(doc("modules/function-app.bicep")).get("hostSettings");
    const value = objectEntries(hostSettings).find((e) => e.key === "APPLICATIONINSIGHTS_AUTHENTICATION_STRING")!.value;
    expect(value.text).toBe("'ClientId=${identityClientId};Authorization=AAD'");
  });
});

describe("diagnostic settings", () => {
  const settings = () => allResources().filter((r) => r.type === "Microsoft.Insights/diagnosticSettings");

  it("sends Key Vault audit events to the Log Analytics workspace", () => {
    const [audit] = settings().filter((r) => r.file === "modules/keyvault.bicep");
    expect(property(audit!.body, "scope")?.text).toBe("vault");
    expect(property(audit!.body, "properties.workspaceId")?.text).toBe("logAnalyticsWorkspaceId");
    const [log] = arrayItems(property(audit!.body, "properties.logs"));
    expect(literal(property(log, "categoryGroup"))).toBe("audit");
    expect(literal(property(log, "enabled"))).toBe(true);
  });

  it("sends the blob, queue and table logs of both storage accounts to the workspace", () => {
    const storage = settings().filter((r) => r.file === "modules/storage.bicep");
    expect(storage.map((r) => property(r.body, "scope")?.text).sort()).toEqual(["blobService", "queueService", "tableService"]);
    for (const r of storage) {
      expect(property(r.body, "properties.workspaceId")?.text).toBe("logAnalyticsWorkspaceId");
      expect(property(r.body, "properties.logs")?.text).toBe("storageLogs");
    }
    const categories = arrayItems(variables(doc("modules/storage.bicep")).get("storageLogs")).map((n) => literal(property(n, "category")));
    expect(categories).toEqual(["StorageRead", "StorageWrite", "StorageDelete"]);
    for (const m of modules(doc("main.bicep")).filter((m) => ["modules/storage.bicep", "modules/keyvault.bicep"].includes(m.path))) {
      expect(property(m.body, "params.logAnalyticsWorkspaceId")?.text, m.symbol).toBe("monitoring.outputs.workspaceId");
    }
    expect(settings()).toHaveLength(4);
  });
});

describe("private networking (optional)", () => {
  it("is off by default", () => {
    expect(parameters(doc("main.bicep")).find((p) => p.name === "privateNetworking")?.defaultValue?.text).toBe("false");
    expect(parameters(doc("main.bicepparam")).find((p) => p.name === "privateNetworking")?.defaultValue?.text).toBe("bool(readEnvironmentVariable('PRIVATE_NETWORKING', 'false'))");
  });

  it("when on: a network, private endpoints for storage and Key Vault, VNet integration, storage closed to the internet", () => {
    const main = doc("main.bicep");
    const network = modules(main).find((m) => m.path === "modules/network.bicep")!;
    expect(network.condition?.text).toBe("(privateNetworking)");
    const { always, laneOnly, laneCondition } = privateEndpointGroups();
    expect(always).toEqual(["host:blob", "host:queue", "host:table", "snapshot:table", "vault:vault"]);
    // The analytics lane writes blobs on the snapshot account.
    expect(laneCondition).toBe("analyticsLane");
    expect(laneOnly).toEqual(["snapshot:blob"]);
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.virtualNetworkSubnetId")?.text).toBe("network.?outputs.functionSubnetId ?? ''");
    for (const m of modules(main).filter((m) => m.path === "modules/storage.bicep")) {
      expect(property(m.body, "params.publicNetworkAccess")?.text).toBe("!privateNetworking");
    }
    // The certificate deployment script runs outside the network: the vault stays reachable (RBAC)
    // while there is a certificate to manage.
    const vault = modules(main).find((m) => m.path === "modules/keyvault.bicep")!;
    expect(property(vault.body, "params.publicNetworkAccess")?.text).toBe("!privateNetworking || !usesFederatedCredential");
    const subnet = arrayItems(property(only("modules/network.bicep", "Microsoft.Network/virtualNetworks").body, "properties.subnets"))[0];
    const [delegation] = arrayItems(property(subnet, "properties.delegations"));
    expect(literal(property(delegation, "properties.serviceName"))).toBe("Microsoft.App/environments");
  });

  it("with multiTenant: a queue private endpoint on the snapshot account, where the app's tenant queue is", () => {
    const main = doc("main.bicep");
    const { multiTenantOnly, condition } = privateEndpointGroups();
    expect(condition).toBe("multiTenant");
    expect(multiTenantOnly).toEqual(["snapshot:queue"]);
    // The queue the app is pointed at is that account's queue endpoint, under the same condition.
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.tenantQueueServiceUri")?.text).toBe("multiTenant ? snapshotStorage.outputs.queueEndpoint : ''");
    expect(property(fn.body, "params.multiTenant")?.text).toBe("multiTenant");
    // Every endpoint is deployed with private networking, and registered in its group's zone.
    const loop = modules(main).find((m) => m.path === "modules/private-endpoint.bicep")!.body.text;
    expect(loop).toMatch(/^\[\s*for endpoint in privateEndpoints: if \(privateNetworking\) \{/);
    expect(loop).toContain("targetId: endpoint.target == 'host' ? hostStorage.outputs.id : (endpoint.target == 'snapshot' ? snapshotStorage.outputs.id : keyVault.outputs.id)");
    expect(loop).toContain("groupId: endpoint.groupId");
    expect(loop).toContain("privateDnsZoneId: network.?outputs.privateDnsZoneIds[endpoint.groupId] ?? ''");
  });

  it("has a private DNS zone, named for the cloud, for every endpoint group (the queue's included)", () => {
    const zones = variables(doc("modules/network.bicep")).get("privateDnsZones");
    const byGroup = new Map(objectEntries(zones).map((e) => [e.key, e.value.text]));
    expect(byGroup.get("queue")).toBe("'privatelink.queue.${storageSuffix}'");
    expect(byGroup.get("table")).toBe("'privatelink.table.${storageSuffix}'");
    expect(byGroup.get("blob")).toBe("'privatelink.blob.${storageSuffix}'");
    expect(variables(doc("modules/network.bicep")).get("storageSuffix")?.text).toBe("environment().suffixes.storage");
    const { always, multiTenantOnly } = privateEndpointGroups();
    for (const group of [...always, ...multiTenantOnly].map((g) => g.split(":")[1]!)) expect([...byGroup.keys()], group).toContain(group);
    const groupParam = parameters(doc("modules/private-endpoint.bicep")).find((p) => p.name === "groupId")!;
    expect(groupParam.node.previousNamedSibling?.text).toContain("@allowed(['blob', 'queue', 'table', 'vault'])");
  });
});

/**
 * main.bicep's private endpoints as `target:groupId`: those of every private deployment, and those
 * added in multi-tenant mode (`concat([...], multiTenant ? [...] : [])`).
 */
function privateEndpointGroups(): { always: string[]; multiTenantOnly: string[]; condition: string | undefined; laneOnly: string[]; laneCondition: string | undefined } {
  const value = variables(doc("main.bicep")).get("privateEndpoints");
  const concatenated = call(value);
  expect(concatenated?.name, "privateEndpoints is concat(always, multiTenant ? [...] : [], analyticsLane ? [...] : [])").toBe("concat");
  const [first, second, third, ...rest] = concatenated!.args.filter((a) => a.type !== "comment");
  expect(rest).toEqual([]);
  const groups = (items: Node[]) => items.map((n) => `${literal(property(n, "target"))}:${literal(property(n, "groupId"))}`);
  const conditional = (node: Node | undefined) => {
    expect(node?.type).toBe("ternary_expression");
    const [condition, whenOn, whenOff] = node!.namedChildren;
    expect(whenOff?.text).toBe("[]");
    return { groups: groups(arrayItems(whenOn)), condition: condition?.text };
  };
  const tenant = conditional(second);
  const lane = conditional(third);
  return { always: groups(arrayItems(first)), multiTenantOnly: tenant.groups, condition: tenant.condition, laneOnly: lane.groups, laneCondition: lane.condition };
}

describe("role assignments", () => {
  const assignments = () =>
    allResources()
      .filter((r) => r.type === "Microsoft.Authorization/roleAssignments")
      .map((r) => {
        const d = doc(r.file);
        const roleCall = call(property(r.body, "properties.roleDefinitionId"));
        const scopeSymbol = property(r.body, "scope")?.text ?? "";
        const scope = resources(d).find((x) => x.symbol === scopeSymbol);
        return {
          file: r.file,
          symbol: r.symbol,
          roleFunction: roleCall?.name,
          roleType: stringLiteral(roleCall?.args[0]),
          role: resolveString(d, roleCall?.args[1]),
          scopeSymbol,
          scopeType: scope?.type,
          principal: property(r.body, "properties.principalId")?.text,
          principalType: literal(property(r.body, "properties.principalType")),
          name: r.body && property(r.body, "name"),
        };
      });

  it("grants exactly the least-privilege roles, each on its own resource", () => {
    const found = assignments().map(({ file, role, scopeSymbol, scopeType }) => ({ file, role, scopeSymbol, scopeType }));
    expect(found).toEqual(
      expect.arrayContaining([
        { file: "modules/rbac.bicep", role: ROLE.storageBlobDataOwner, scopeSymbol: "hostStorage", scopeType: "Microsoft.Storage/storageAccounts" },
        { file: "modules/rbac.bicep", role: ROLE.storageTableDataContributor, scopeSymbol: "snapshotStorage", scopeType: "Microsoft.Storage/storageAccounts" },
        { file: "modules/rbac.bicep", role: ROLE.storageQueueDataContributor, scopeSymbol: "snapshotStorage", scopeType: "Microsoft.Storage/storageAccounts" },
        // The analytics lane: its one container, not the account.
        { file: "modules/rbac.bicep", role: ROLE.storageBlobDataContributor, scopeSymbol: "analyticsContainer", scopeType: "Microsoft.Storage/storageAccounts/blobServices/containers" },
        { file: "modules/rbac.bicep", role: ROLE.keyVaultCertificateUser, scopeSymbol: "vault", scopeType: "Microsoft.KeyVault/vaults" },
        { file: "modules/rbac.bicep", role: ROLE.monitoringMetricsPublisher, scopeSymbol: "appInsights", scopeType: "Microsoft.Insights/components" },
        { file: "modules/certificate.bicep", role: ROLE.keyVaultCertificatesOfficer, scopeSymbol: "vault", scopeType: "Microsoft.KeyVault/vaults" },
      ]),
    );
    expect(found).toHaveLength(7);
  });

  it("uses built-in role ids through subscriptionResourceId, never a broad role", () => {
    for (const a of assignments()) {
      expect(a.roleFunction, a.symbol).toBe("subscriptionResourceId");
      expect(a.roleType).toBe("Microsoft.Authorization/roleDefinitions");
      expect(Object.values(FORBIDDEN_ROLES)).not.toContain(a.role);
      expect(Object.values(ROLE)).toContain(a.role);
      expect(a.principalType).toBe("ServicePrincipal");
    }
  });

  it("scopes every assignment to a resource, not to the resource group or subscription", () => {
    for (const a of assignments()) {
      expect(a.scopeType, `${a.file}: ${a.symbol} scope ${a.scopeSymbol}`).toBeDefined();
      expect(a.scopeType).not.toMatch(/^Microsoft\.Resources\/(resourceGroups|subscriptions)$/);
    }
  });

  it("names assignments deterministically from scope, principal and role (idempotent redeployments)", () => {
    for (const a of assignments()) {
      const name = call(a.name ?? undefined);
      expect(name?.name).toBe("guid");
      const text = name!.args.map((x) => x.text).join(",");
      expect(text).toContain(`${a.scopeSymbol}.id`);
      expect(text).toContain("roles.");
    }
  });

  it("grants the Key Vault role only when the credential lives in Key Vault (not with managed-identity federation)", () => {
    const vaultRole = resources(doc("modules/rbac.bicep")).find((r) => r.symbol === "vaultCertificateUser")!;
    expect(vaultRole.condition?.text).toContain("readsKeyVaultCertificate");
    const rbac = modules(doc("main.bicep")).find((m) => m.path === "modules/rbac.bicep")!;
    expect(property(rbac.body, "params.readsKeyVaultCertificate")?.text).toBe("!usesFederatedCredential");
    const queueRole = resources(doc("modules/rbac.bicep")).find((r) => r.symbol === "snapshotQueueContributor")!;
    expect(queueRole.condition?.text).toContain("usesTenantQueue");
    expect(property(rbac.body, "params.usesTenantQueue")?.text).toBe("multiTenant");
    const laneRole = resources(doc("modules/rbac.bicep")).find((r) => r.symbol === "analyticsBlobContributor")!;
    expect(laneRole.condition?.text).toBe("(!empty(analyticsContainerName))");
    expect(property(rbac.body, "params.analyticsContainerName")?.text).toBe("analyticsLane ? analyticsContainerName : ''");
    for (const other of resources(doc("modules/rbac.bicep")).filter((r) => !r.existing && !["vaultCertificateUser", "snapshotQueueContributor", "analyticsBlobContributor"].includes(r.symbol))) {
      expect(other.condition).toBeUndefined();
    }
  });

  it("the app's roles go to the function identity, the officer role to the script identity", () => {
    const rbac = modules(doc("main.bicep")).find((m) => m.path === "modules/rbac.bicep")!;
    expect(property(rbac.body, "params.principalId")?.text).toBe("functionIdentity.properties.principalId");
    for (const a of assignments()) {
      expect(a.principal).toBe(a.file === "modules/certificate.bicep" ? "scriptIdentity.properties.principalId" : "principalId");
    }
  });
});

describe("no secrets in parameters or outputs", () => {
  const SECRETISH = /(secret|password|connectionstring|accountkey|sas(token)?$|instrumentationkey|privatekey)/i;

  it("declares no secure outputs and no outputs that look like secrets", () => {
    for (const [file, d] of docs) {
      for (const o of outputs(d)) {
        expect(o.decorators, `${file}: output ${o.name}`).not.toContain("secure");
        expect(o.name, `${file}: output ${o.name}`).not.toMatch(SECRETISH);
        expect(o.value.text, `${file}: output ${o.name}`).not.toMatch(/listKeys|listConnectionStrings|ConnectionString|InstrumentationKey|secret/i);
      }
    }
  });

  it("takes no secret parameters", () => {
    for (const [file, d] of docs) {
      for (const p of parameters(d)) {
        expect(p.decorators, `${file}: param ${p.name}`).not.toContain("secure");
        expect(p.name, `${file}: param ${p.name}`).not.toMatch(SECRETISH);
      }
    }
  });

  it("never lists keys or builds connection strings with keys", () => {
    for (const [file, d] of docs) {
      expect(d.source, file).not.toMatch(/\blist(Keys|AccountSas|ServiceSas|ConnectionStrings|Secrets)\s*\(/);
      expect(d.source, file).not.toMatch(/AccountKey=/);
    }
  });

  it("the certificate script only reads public certificate data", () => {
    const script = readFileSync(join(INFRA, "scripts", "certificate-credentials.sh"), "utf8");
    expect(script).not.toMatch(/az keyvault secret|az keyvault key |download/);
    expect(script).toMatch(/key: \$cert\.cer/);
    const certificate = only("modules/certificate.bicep", "Microsoft.Resources/deploymentScripts");
    expect(property(certificate.body, "properties.scriptContent")?.text).toBe("loadTextContent('../scripts/certificate-credentials.sh')");
    expect(literal(property(certificate.body, "properties.cleanupPreference"))).toBe("OnSuccess");
  });
});

describe("Entra application (a deployment of its own, Microsoft Graph Bicep extension)", () => {
  const entra = () => doc("entra/main.bicep");
  const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
  const USER_READ_ALL = "df021288-bdef-4463-88db-98f22de89214";
  const GROUP_MEMBER_READ_ALL = "98830695-27a2-44f7-8c18-0c3ebc9698f6";
  const grantOf = (symbol: string) => resources(entra()).find((r) => r.type === "Microsoft.Graph/appRoleAssignedTo" && r.symbol === symbol)!;
  const readConfig = (file: string) => JSON.parse(readFileSync(join(INFRA, file), "utf8").replace(/^\s*\/\/.*$/gm, "")) as { extensions?: Record<string, string> };

  it("configures the extension for the Entra deployment only, so the Azure deployment compiles offline", () => {
    expect(readConfig("entra/bicepconfig.json").extensions?.microsoftGraphV1).toMatch(/^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:\d+\.\d+\.\d+$/);
    expect(readConfig("bicepconfig.json").extensions).toBeUndefined();
    const graphFiles = [...docs.entries()].filter(([, d]) => d.extensions.length > 0 || resources(d).some((r) => r.type.startsWith("Microsoft.Graph/"))).map(([file]) => file);
    expect(graphFiles).toEqual(["entra/main.bicep"]);
    expect(modules(doc("main.bicep")).map((m) => m.path)).not.toContain("entra/main.bicep");
  });

  it("declares the application by uniqueName, with certificate key credentials and the User.Read.All requirement", () => {
    const app = only("entra/main.bicep", "Microsoft.Graph/applications");
    expect(property(app.body, "uniqueName")?.text).toBe("appUniqueName");
    expect(property(app.body, "passwordCredentials")).toBeUndefined();
    // No certificate when the managed identity is the credential (graphCredential = 'managedIdentityFederation').
    const keyCredentials = property(app.body, "keyCredentials");
    expect(keyCredentials?.type).toBe("ternary_expression");
    expect(keyCredentials?.childForFieldName("condition")?.text).toBe("useFederatedCredential");
    expect(keyCredentials?.childForFieldName("consequence")?.text).toBe("[]");
    const keys = call(keyCredentials?.childForFieldName("alternative") ?? undefined);
    expect(keys?.name).toBe("map");
    expect(keys?.args[0]?.text).toBe("certificateCredentials");
    const lambdaBody = keys!.args[1]!.namedChildren[keys!.args[1]!.namedChildCount - 1]!;
    expect(literal(property(lambdaBody, "type"))).toBe("AsymmetricX509Cert");
    expect(literal(property(lambdaBody, "usage"))).toBe("Verify");
    expect(property(lambdaBody, "key")?.text).toBe("credential.key");
    const [required] = arrayItems(property(app.body, "requiredResourceAccess"));
    expect(resolveString(entra(), property(required, "resourceAppId"))).toBe(GRAPH_APP_ID);
    // One Role entry per app role the app requires: User.Read.All, and GroupMember.Read.All with groups=true.
    const access = call(property(required, "resourceAccess"));
    expect(access?.name).toBe("map");
    expect(access?.args[0]?.text).toBe("graphAppRoleIds");
    const entry = access!.args[1]!.namedChildren[access!.args[1]!.namedChildCount - 1]!;
    expect(property(entry, "id")?.text).toBe("appRoleId");
    expect(literal(property(entry, "type"))).toBe("Role");
    const roleIds = variables(entra()).get("graphAppRoleIds");
    expect(roleIds?.childForFieldName("condition")?.text).toBe("groups");
    const ids = (branch: "consequence" | "alternative") => arrayItems(roleIds?.childForFieldName(branch) ?? undefined).map((n) => resolveString(entra(), n));
    expect(ids("consequence")).toEqual([USER_READ_ALL, GROUP_MEMBER_READ_ALL]);
    expect(ids("alternative")).toEqual([USER_READ_ALL]);
  });

  it("creates the service principal of that application and looks up Microsoft Graph's", () => {
    const sps = resources(entra()).filter((r) => r.type === "Microsoft.Graph/servicePrincipals");
    expect(sps.find((s) => !s.existing && property(s.body, "appId")?.text === "app.appId")).toBeDefined();
    const graph = sps.find((s) => s.existing)!;
    expect(resolveString(entra(), property(graph.body, "appId"))).toBe(GRAPH_APP_ID);
  });

  it("grants User.Read.All (admin consent) only when the grant does not exist yet, and needs the check's answer", () => {
    expect(resources(entra()).filter((r) => r.type === "Microsoft.Graph/appRoleAssignedTo").map((r) => r.symbol)).toEqual(["userReadAllGrant", "groupMemberReadAllGrant"]);
    const grant = grantOf("userReadAllGrant");
    expect(property(grant.body, "principalId")?.text).toBe("servicePrincipal.id");
    expect(property(grant.body, "resourceId")?.text).toBe("microsoftGraph.id");
    expect(resolveString(entra(), property(grant.body, "appRoleId"))).toBe(USER_READ_ALL);
    expect(grant.condition?.text).toBe("(assignGraphAppRole && !graphGrantExists)");
    // No default: a deployment without the grant check's answer does not compile.
    expect(parameters(entra()).find((p) => p.name === "graphGrantExists")?.defaultValue).toBeUndefined();
    const bicepparam = parameters(doc("entra/main.bicepparam")).find((p) => p.name === "graphGrantExists");
    expect(bicepparam?.defaultValue?.text).toBe("bool(readEnvironmentVariable('GRAPH_GRANT_EXISTS'))");
  });

  it("grants GroupMember.Read.All only with groups=true (default false, from USER_SYNC_GROUPS), and only when that grant does not exist yet", () => {
    const grant = grantOf("groupMemberReadAllGrant");
    expect(property(grant.body, "principalId")?.text).toBe("servicePrincipal.id");
    expect(property(grant.body, "resourceId")?.text).toBe("microsoftGraph.id");
    expect(resolveString(entra(), property(grant.body, "appRoleId"))).toBe(GROUP_MEMBER_READ_ALL);
    expect(grant.condition?.text).toBe("(groups && assignGraphAppRole && !groupMemberGrantExists)");
    expect(parameters(entra()).find((p) => p.name === "groups")?.defaultValue?.text).toBe("false");
    const set = Object.fromEntries(parameters(doc("entra/main.bicepparam")).map((p) => [p.name, p.defaultValue?.text]));
    expect(set.groups).toBe("bool(readEnvironmentVariable('USER_SYNC_GROUPS', 'false'))");
    expect(set.groupMemberGrantExists).toBe("bool(readEnvironmentVariable('GROUP_MEMBER_GRANT_EXISTS', 'false'))");
    const deployEntra = readFileSync(join(INFRA, "scripts", "deploy-entra.sh"), "utf8");
    expect(deployEntra).toContain(`group_member_read_all=${GROUP_MEMBER_READ_ALL}`);
    expect(readFileSync(join(INFRA, "scripts", "azd-postprovision.ps1"), "utf8")).toContain(`'${GROUP_MEMBER_READ_ALL}'`);
  });

  it("takes the certificate credentials and the function identity from the Azure deployment's outputs", () => {
    const outputsOfMain = Object.fromEntries(outputs(doc("main.bicep")).map((o) => [o.name, o.value.text]));
    expect(outputsOfMain.CERTIFICATE_CREDENTIALS).toBe("certificate.?outputs.certificateCredentials ?? []");
    expect(outputsOfMain.FUNCTION_IDENTITY_PRINCIPAL_ID).toBe("functionIdentity.properties.principalId");
    const set = Object.fromEntries(parameters(doc("entra/main.bicepparam")).map((p) => [p.name, p.defaultValue?.text]));
    expect(set.certificateCredentials).toBe("federated ? [] : json(readEnvironmentVariable('CERTIFICATE_CREDENTIALS', '[]'))");
    // The subject is the identity's principal (object) id, never its client id.
    expect(set.federatedIdentityPrincipalId).toMatch(/^!federated\s+\? ''\s+: \(empty\(principalId\) \? fail\('GRAPH_CREDENTIAL is managedIdentityFederation but FUNCTION_IDENTITY_PRINCIPAL_ID is empty/);
    expect(variables(doc("entra/main.bicepparam")).get("principalId")?.text).toBe("readEnvironmentVariable('FUNCTION_IDENTITY_PRINCIPAL_ID', '')");
    const entraParams = parameters(entra()).map((p) => p.name).sort();
    expect(Object.keys(set).sort()).toEqual(entraParams);
  });

  it("with graphCredential = 'managedIdentityFederation', trusts the function's identity instead of a certificate", () => {
    const fic = only("entra/main.bicep", "Microsoft.Graph/applications/federatedIdentityCredentials");
    expect(fic.condition?.text).toBe("(useFederatedCredential)");
    expect(property(fic.body, "name")?.text).toBe("'${app.uniqueName}/function-managed-identity'");
    expect(property(fic.body, "subject")?.text).toBe("federatedIdentityPrincipalId");
    expect(property(fic.body, "issuer")?.text).toBe("federatedIdentityIssuer");
    expect(arrayItems(property(fic.body, "audiences")).map((n) => n.text)).toEqual(["tokenExchangeAudience"]);
    expect(variables(entra()).get("federatedIdentityIssuer")?.text).toBe("'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'");
    // Public cloud only (the placement check below), so the public audience (src/configuration/clouds.ts).
    expect(literal(variables(entra()).get("tokenExchangeAudience"))).toBe("api://AzureADTokenExchange");
    expect(variables(entra()).get("useFederatedCredential")?.text).toBe("!empty(federatedIdentityPrincipalId)");

    const mainDoc = doc("main.bicep");
    const param = parameters(mainDoc).find((p) => p.name === "graphCredential");
    expect(param?.defaultValue?.text).toBe("'keyVaultCertificate'");
    expect(variables(mainDoc).get("usesFederatedCredential")?.text).toBe("graphCredential == 'managedIdentityFederation'");
    // No certificate is made when there is nothing to register.
    const certificate = modules(mainDoc).find((m) => m.path === "modules/certificate.bicep")!;
    expect(certificate.condition?.text).toBe("(!usesFederatedCredential)");
    const fn = modules(mainDoc).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.graphCredential")?.text).toBe("graphCredential");
    const bicepparam = parameters(doc("main.bicepparam")).find((p) => p.name === "graphCredential");
    expect(bicepparam?.defaultValue?.text).toBe("readEnvironmentVariable('GRAPH_CREDENTIAL', 'keyVaultCertificate')");
  });

  it("refuses to create the application in another tenant or cloud, before anything is created", () => {
    // Entra deployment: the application's displayName fails the deployment on a wrong placement.
    const app = only("entra/main.bicep", "Microsoft.Graph/applications");
    expect(property(app.body, "displayName")?.text).toBe("checkedDisplayName");
    const check = variables(entra()).get("checkedDisplayName");
    expect(check?.childForFieldName("condition")?.text).toBe("wrongTenant || wrongCloud");
    expect(call(check?.childForFieldName("consequence") ?? undefined)?.name).toBe("fail");
    expect(variables(entra()).get("wrongTenant")?.text).toBe("!empty(graphTenantId) && graphTenantId != tenant().tenantId");
    expect(variables(entra()).get("wrongCloud")?.text).toBe("graphCloud != 'AzurePublic' || environment().name != 'AzureCloud'");
    expect(parameters(doc("entra/main.bicepparam")).find((p) => p.name === "graphCloud")?.defaultValue?.text).toMatch(/^cloud == 'AzurePublic' \? cloud : fail\('GRAPH_CLOUD is/);
    // Azure deployment: the cloud when main.bicepparam compiles (tools/infra-check.sh checks that it
    // fails), the tenant before the first resource.
    expect(parameters(doc("main.bicepparam")).find((p) => p.name === "graphCloud")?.defaultValue?.text).toMatch(/^managed && cloud != 'AzurePublic'\s+\? fail\('GRAPH_CLOUD is \$\{cloud\} and MANAGE_APP_REGISTRATION is true/);
    const tenant = variables(doc("main.bicep")).get("syncedTenantId");
    expect(tenant?.childForFieldName("condition")?.text).toBe("crossTenantRefused");
    expect(call(tenant?.childForFieldName("consequence") ?? undefined)?.name).toBe("fail");
    expect(variables(doc("main.bicep")).get("crossTenantRefused")?.text).toBe("manageAppRegistration && !empty(graphTenantId) && graphTenantId != tenant().tenantId");
  });

  it("checks for the existing grant with the same app role and resource, in bash and PowerShell", () => {
    const script = readFileSync(join(INFRA, "scripts", "graph-grant-exists.sh"), "utf8");
    expect(script).toContain(`user_read_all=${USER_READ_ALL}`);
    expect(script).toContain(`graph_app_id=${GRAPH_APP_ID}`);
    expect(script).toContain("applications(uniqueName='$unique_name')");
    const ps = readFileSync(join(INFRA, "scripts", "graph-grant-exists.ps1"), "utf8");
    expect(ps).toContain(`$userReadAll = '${USER_READ_ALL}'`);
    expect(ps).toContain(`$graphAppId = '${GRAPH_APP_ID}'`);
    expect(ps).toContain("applications(uniqueName='$UniqueName')");
  });

  it("feeds GRAPH_CLIENT_ID from the Entra deployment's output", () => {
    const fn = modules(doc("main.bicep")).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.graphClientId")?.text).toBe("graphClientId");
    expect(parameters(doc("main.bicepparam")).find((p) => p.name === "graphClientId")?.defaultValue?.text).toBe("readEnvironmentVariable('GRAPH_CLIENT_ID', '')");
    expect(outputs(entra()).find((o) => o.name === "GRAPH_CLIENT_ID")?.value.text).toBe("app.appId");
    const deployEntra = readFileSync(join(INFRA, "scripts", "deploy-entra.sh"), "utf8");
    expect(deployEntra).toContain("--query properties.outputs.GRAPH_CLIENT_ID.value");
  });
});

describe("main.bicepparam", () => {
  it("sets only parameters main.bicep declares, and every required one", () => {
    const declared = parameters(doc("main.bicep"));
    const set = parameters(doc("main.bicepparam")).map((p) => p.name);
    expect(declared.map((p) => p.name)).toEqual(expect.arrayContaining(set));
    for (const p of declared.filter((p) => !p.defaultValue)) expect(set).toContain(p.name);
    expect(doc("main.bicepparam").source).toMatch(/^using '\.\/main\.bicep'$/m);
  });
});
