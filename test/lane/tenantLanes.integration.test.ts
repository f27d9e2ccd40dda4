/**
 * Multi-tenant mode's analytics lane: each registered tenant's run writes its snapshots (users, and
 * with USER_SYNC_GROUPS its groups and memberships) under its own `tenant=<id>/` partition of one
 * container, and no row of one tenant lands in another's (Azurite's
 * blob service, the simulated customer tenants, TenantServices as the worker and the queue trigger use it).
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { groupLaneColumns, membershipLaneColumns, userLaneColumns } from "../../src/lane/laneColumns.js";
import { downloadContainer, listBlobNames, readParquetWithDuckDb } from "../support/laneReader.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "a1a1a1a1-0000-4000-8000-000000000001";
const T2 = "a2a2a2a2-0000-4000-8000-000000000002";
const COUNTS: Record<string, number> = { [T1]: 40, [T2]: 25 };
const GROUPS = 6;
const CONTAINER = "tenant-lanes";
let world: SyncEnvironment;
const log = capturingLogger();

beforeAll(async () => {
  // Each customer has groups of its own (from its own seed); the first test leaves them off (USER_SYNC_GROUPS unset).
  world = await startSyncEnvironment(
    { userCount: 3, customerTenants: Object.entries(COUNTS).map(([tenantId, userCount]) => ({ tenantId, userCount, groups: { count: GROUPS, largeGroupMembers: 12 } })) },
    { queue: true, blob: true },
  );
  world.useInProcess();
  await BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(CONTAINER).create();
}, 120_000);
afterAll(async () => world?.close());

describe("the analytics lane in multi-tenant mode", () => {
  it("writes each tenant's snapshot under its own tenant= partition, with only its own users", async () => {
    const env: Record<string, string> = { ...world.env, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_EXPORT_CONTAINER: CONTAINER };
    delete env.GRAPH_TENANT_ID;
    const services = new TenantServices(env);
    const ids = new Map<string, string[]>();
    for (const tenantId of [T1, T2]) {
      const { service, clients: { store } } = services.getTenantSync(tenantId);
      const result = await service.runDue(log.logger, { trigger: "cli" });
      expect(result.lane?.failed).toEqual([]);
      expect(result.lane?.written.filter((w) => w.kind === "snapshot").map((w) => w.prefix)).toEqual([expect.stringMatching(new RegExp(`^tenant=${tenantId}/object=users/snapshot_time=`))]);
      const latest = (await store.getLatestSnapshot())!;
      ids.set(tenantId, (await Array.fromAsync(store.listSnapshotUsers(latest.snapshotId))).map((u) => u.id).sort());
    }
    const container = BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(CONTAINER);
    const prefixes = new Set((await listBlobNames(container)).filter((name) => !name.startsWith("changes/")).map((name) => name.split("/")[0]));
    expect(prefixes).toEqual(new Set([`tenant=${T1}`, `tenant=${T2}`]));
    const folder = await downloadContainer(container);
    const read = await readParquetWithDuckDb(`${folder}/tenant=*/object=users/snapshot_time=*/*.parquet`, [...userLaneColumns(["id"]), { name: "tenant", type: "string" }]);
    for (const tenantId of [T1, T2]) {
      const rows = read.rows.filter((row) => row.tenant === tenantId);
      expect(rows.every((row) => row._tenantId === tenantId)).toBe(true);
      expect(rows.map((row) => String(row.id)).sort()).toEqual(ids.get(tenantId));
      expect(rows).toHaveLength(COUNTS[tenantId]!);
    }
    expect(read.rows).toHaveLength(COUNTS[T1]! + COUNTS[T2]!);
  });

  it("writes each tenant's groups and memberships under its own tenant= partition, with only its own groups and members (USER_SYNC_GROUPS=true)", async () => {
    const env: Record<string, string> = { ...world.env, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_EXPORT_CONTAINER: CONTAINER, USER_SYNC_GROUPS: "true" };
    delete env.GRAPH_TENANT_ID;
    const services = new TenantServices(env);
    const userIds = new Map<string, Set<string>>();
    for (const tenantId of [T1, T2]) {
      const { service, clients: { store } } = services.getTenantSync(tenantId);
      const result = await service.runDue(log.logger, { trigger: "cli" });
      expect(result.lane?.failed).toEqual([]);
      const latest = (await store.getLatestSnapshot())!;
      userIds.set(tenantId, new Set((await Array.fromAsync(store.listSnapshotUsers(latest.snapshotId))).map((u) => u.id)));
    }
    const container = BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(CONTAINER);
    const names = await listBlobNames(container);
    for (const object of ["groups", "memberships"]) {
      const tenants = new Set(names.filter((name) => name.includes(`/object=${object}/snapshot_time=`) && name.endsWith("/_SUCCESS")).map((name) => name.split("/")[0]));
      expect(tenants, object).toEqual(new Set([`tenant=${T1}`, `tenant=${T2}`]));
    }
    const folder = await downloadContainer(container);
    const tenantColumn = { name: "tenant", type: "string" as const };
    const groups = await readParquetWithDuckDb(`${folder}/tenant=*/object=groups/snapshot_time=*/*.parquet`, [...groupLaneColumns(["id"]), tenantColumn]);
    const memberships = await readParquetWithDuckDb(`${folder}/tenant=*/object=memberships/snapshot_time=*/*.parquet`, [...membershipLaneColumns(), tenantColumn], "groupId");
    const customers = world.tenant.customers;
    for (const tenantId of [T1, T2]) {
      const simulated = customers.get(tenantId)!.groups;
      const groupIds = new Set(Array.from({ length: GROUPS }, (_, g) => simulated.groupIdAt(g)));
      const ownGroups = groups.rows.filter((row) => row.tenant === tenantId);
      expect(ownGroups.every((row) => row._tenantId === tenantId)).toBe(true);
      expect(new Set(ownGroups.map((row) => String(row.id)))).toEqual(groupIds);
      const ownEdges = memberships.rows.filter((row) => row.tenant === tenantId);
      expect(ownEdges.length).toBeGreaterThan(0);
      for (const edge of ownEdges) {
        expect(edge._tenantId).toBe(tenantId);
        expect(groupIds.has(String(edge.groupId))).toBe(true);
        if (edge.memberType === "user") expect(userIds.get(tenantId)!.has(String(edge.memberId))).toBe(true);
        else if (edge.memberType === "group") expect(groupIds.has(String(edge.memberId))).toBe(true);
      }
    }
    // No group id is shared between the two tenants' sets.
    const t1 = new Set(groups.rows.filter((row) => row.tenant === T1).map((row) => String(row.id)));
    expect(groups.rows.filter((row) => row.tenant === T2).some((row) => t1.has(String(row.id)))).toBe(false);
  });
});
