/**
 * Multi-tenant mode's analytics lane: each registered tenant's run writes its snapshots under its own
 * `tenant=<id>/` partition of one container, and no row of one tenant lands in another's (Azurite's
 * blob service, the simulated customer tenants, TenantServices as the worker and the queue trigger use it).
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantServices } from "../../src/app/tenantServices.js";
import { userLaneColumns } from "../../src/lane/laneColumns.js";
import { downloadContainer, listBlobNames, readParquetWithDuckDb } from "../support/laneReader.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "a1a1a1a1-0000-4000-8000-000000000001";
const T2 = "a2a2a2a2-0000-4000-8000-000000000002";
const COUNTS: Record<string, number> = { [T1]: 40, [T2]: 25 };
const CONTAINER = "tenant-lanes";
let world: SyncEnvironment;
const log = capturingLogger();

beforeAll(async () => {
  world = await startSyncEnvironment({ userCount: 3, customerTenants: Object.entries(COUNTS).map(([tenantId, userCount]) => ({ tenantId, userCount })) }, { queue: true, blob: true });
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
});
