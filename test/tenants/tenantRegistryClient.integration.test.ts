/**
 * The tenant registry and a tenant's data against Azurite through the real Tables client: add, get,
 * list, ETag-fenced updates, removal, and deleting a tenant's own tables (and nothing else).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TableStorageSettings } from "../../src/configuration/settings.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { deleteTenantData } from "../../src/tenants/tenantData.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import { azuriteTableStorage } from "../support/azuriteStorage.js";

let azurite: AzuriteInstance;
let storage: TableStorageSettings;

beforeAll(async () => {
  azurite = await startAzurite();
  storage = azuriteTableStorage(azurite);
});
afterAll(async () => azurite?.close());

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("TenantRegistryClient", () => {
  it("adds, reads, lists and removes tenants; refuses a second add and a non-GUID id", async () => {
    const registry = new TenantRegistryClient({ storage, tablePrefix: "reg1" });
    expect(await collect(registry.listTenants())).toEqual([]);
    await registry.createTableIfNotExists();
    const added = await registry.addTenant(B.toUpperCase(), { name: "Fabrikam" });
    expect(added).toMatchObject({ tenantId: B, name: "Fabrikam", tablePrefix: tenantTablePrefix(B) });
    await registry.addTenant(A);
    const again = await registry.addTenant(A).catch((error: unknown) => error);
    expect(isUserSyncError(again, "tenant_already_registered")).toBe(true);
    const bad = await registry.getTenant("contoso.onmicrosoft.com").catch((error: unknown) => error);
    expect(isUserSyncError(bad, "invalid_tenant_id")).toBe(true);

    expect((await collect(registry.listTenants())).map((t) => t.tenantId)).toEqual([A, B]);
    expect(await registry.getTenant(B)).toMatchObject({ tenantId: B, name: "Fabrikam" });
    expect(await registry.deleteTenant(B)).toBe(true);
    expect(await registry.deleteTenant(B)).toBe(false);
    expect(await registry.getTenant(B)).toBeUndefined();
  });

  it("fences updates with the row's ETag: of two writers holding one version, one wins", async () => {
    const registry = new TenantRegistryClient({ storage, tablePrefix: "reg2" });
    await registry.createTableIfNotExists();
    await registry.addTenant(A);
    const seen = (await registry.getTenant(A))!;
    const first = await registry.updateTenant({ ...seen, queuedAt: new Date() });
    const second = await registry.updateTenant({ ...seen, runningSince: new Date() });
    expect(first?.queuedAt).toBeInstanceOf(Date);
    expect(second).toBeUndefined();
    const now = (await registry.getTenant(A))!;
    expect(now.queuedAt).toBeInstanceOf(Date);
    expect(now.runningSince).toBeUndefined();
  });

  it("deletes one tenant's tables and says which existed, leaving another tenant's data whole", async () => {
    const stores = [A, B].map((tenantId) => ({
      store: new SnapshotStoreClient({ storage, tablePrefix: tenantTablePrefix(tenantId) }),
      mirror: new UserMirrorClient({ storage, tablePrefix: tenantTablePrefix(tenantId) }),
    }));
    for (const { store, mirror } of stores) await Promise.all([store.createTablesIfNotExist(), mirror.createTablesIfNotExist()]);
    const { store: storeB } = stores[1]!;
    const lease = await storeB.acquireLease({ trigger: "cli" });
    await storeB.releaseLease(lease);

    const storeA = stores[0]!.store;
    const deleted = await deleteTenantData(A, { storage, store: storeA });
    const prefixA = tenantTablePrefix(A);
    expect(deleted).toEqual([
      { tableName: `${prefixA}Snapshots`, existed: true },
      { tableName: `${prefixA}Runs`, existed: true },
      { tableName: `${prefixA}Mirror`, existed: true },
      { tableName: `${prefixA}MirrorChanges`, existed: true },
    ]);
    expect((await deleteTenantData(A, { storage, store: storeA })).every((t) => !t.existed)).toBe(true);
    // B's tables are still there: a new lease can be taken in its runs table.
    const leaseB = await storeB.acquireLease({ trigger: "cli" });
    await storeB.releaseLease(leaseB);
  });
});
