/**
 * The writer lease's writes under the SDK's retries, against Azurite through a loopback proxy that
 * lets a write reach Azurite and loses its answer (a connection dropped after the request arrived).
 * The per-attempt timeout fires, the SDK retries, and the retry fails with 409 (create) or 412
 * (replace): that is the run's own write, applied by the first attempt, not another run's lease.
 * A lease another run holds is still `run_in_progress`.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseStore } from "../../src/snapshots/leaseStore.js";
import { LEASE_ROW, RUNS_PARTITION } from "../../src/snapshots/runRecords.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { createTableClient } from "../../src/tables/tableClient.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";
import { startTableProxy, type ProxiedRequest, type TableProxy } from "../support/tableProxy.js";

const azurite = azuriteForTestFile();
let proxy: TableProxy;
let tables = 0;

beforeAll(async () => {
  proxy = await startTableProxy(azurite.instance);
});
afterAll(async () => proxy?.close());

/** A lease store on a new table, writing through the proxy; `direct` reads and writes Azurite itself. */
async function leaseStore(): Promise<{ leases: LeaseStore; direct: TableClient }> {
  const tableName = `leaseRetry${++tables}`;
  const direct = TableClient.fromConnectionString(azurite.instance.connectionString, tableName, { allowInsecureConnection: true });
  await direct.createTable();
  // Short enough to wait out, long enough for a loaded machine's Azurite to answer every other request.
  const storage = { kind: "connectionString" as const, connectionString: proxy.connectionString, tableEndpoint: proxy.tableEndpoint, allowInsecureConnection: true, requestTimeoutInMs: 5_000 };
  const client = createTableClient({ storage, tableName, owner: "the test", clientOptions: { retryOptions: { maxRetries: 2, retryDelayInMs: 10 } } });
  return { leases: new LeaseStore(client, storage), direct };
}

/** The first request `matches` accepts is applied by Azurite, its answer lost; returns the requests it accepted. */
function loseFirstAnswer(matches: (request: ProxiedRequest) => boolean): ProxiedRequest[] {
  const accepted: ProxiedRequest[] = [];
  proxy.decide = (request) => {
    if (!matches(request)) return "pass";
    accepted.push(request);
    return accepted.length === 1 ? "loseAnswer" : "pass";
  };
  return accepted;
}

const leasePath = `(PartitionKey='${RUNS_PARTITION}',RowKey='${LEASE_ROW}')`;
const isLeaseCreate = (request: ProxiedRequest) => request.method === "POST" && request.body.includes(`"RowKey":"${LEASE_ROW}"`);
const isLeaseReplace = (request: ProxiedRequest) => request.method === "PUT" && decodeURIComponent(request.path).includes(leasePath);
const isLeaseDelete = (request: ProxiedRequest) => request.method === "DELETE" && decodeURIComponent(request.path).includes(leasePath);

function statusOf(request: ProxiedRequest | undefined): number | undefined {
  return request === undefined ? undefined : proxy.answered.get(request.sequence)?.status;
}

async function storedLease(direct: TableClient) {
  return direct.getEntity<{ owner: string; writeId: string }>(RUNS_PARTITION, LEASE_ROW).catch(() => undefined);
}

describe("the writer lease written again by an SDK retry", () => {
  it("a lease created by a write whose answer was lost is taken, not reported as a run in progress; its renewal and release likewise", async () => {
    const { leases, direct } = await leaseStore();
    try {
      const creates = loseFirstAnswer(isLeaseCreate);
      const lease = await leases.acquire({ trigger: "cli" });
      // The first create was applied (204: the SDK asks for no content), its retry conflicted with it (409).
      expect(creates.map(statusOf)).toEqual([204, 409]);
      const stored = await storedLease(direct);
      expect(stored?.owner).toBe(lease.owner);
      expect(lease.etag).toBe(stored?.etag);
      expect(() => lease.assertHeld()).not.toThrow();

      const renewals = loseFirstAnswer(isLeaseReplace);
      await leases.renew(lease);
      expect(renewals.map(statusOf)).toEqual([204, 412]);
      expect(lease.etag).toBe((await storedLease(direct))?.etag);
      expect(lease.lost).toBeUndefined();

      const deletes = loseFirstAnswer(isLeaseDelete);
      await leases.release(lease);
      expect(deletes.map(statusOf)).toEqual([204, 404]);
      expect(await storedLease(direct)).toBeUndefined();
    } finally {
      proxy.decide = () => "pass";
    }
  }, 60_000);

  it("an expired lease taken over by a write whose answer was lost is taken over, not reported as a run in progress", async () => {
    const { leases, direct } = await leaseStore();
    const expiredAt = new Date(Date.now() - 60_000);
    await direct.createEntity({ partitionKey: RUNS_PARTITION, rowKey: LEASE_ROW, kind: "lease", writeId: "theirs", owner: "earlier", trigger: "timer", host: "elsewhere (pid 1)", acquiredAt: new Date(Date.now() - 120_000), expiresAt: expiredAt });
    try {
      const replaces = loseFirstAnswer(isLeaseReplace);
      const lease = await leases.acquire({ trigger: "cli" });
      expect(replaces.map(statusOf)).toEqual([204, 412]);
      expect(lease.tookOverFrom).toMatchObject({ owner: "earlier", reason: "expired" });
      const stored = await storedLease(direct);
      expect(stored?.owner).toBe(lease.owner);
      expect(lease.etag).toBe(stored?.etag);
      expect(() => lease.assertHeld()).not.toThrow();
    } finally {
      proxy.decide = () => "pass";
    }
  }, 60_000);

  it("a lease another run holds is still a run in progress, and stays that run's", async () => {
    const { leases, direct } = await leaseStore();
    await direct.createEntity({ partitionKey: RUNS_PARTITION, rowKey: LEASE_ROW, kind: "lease", writeId: "theirs", owner: "other", trigger: "timer", host: "elsewhere (pid 1)", acquiredAt: new Date(), expiresAt: new Date(Date.now() + 300_000) });
    const error = await leases.acquire({ trigger: "cli" }).catch((e: unknown) => e);
    expect(isUserSyncError(error, "run_in_progress")).toBe(true);
    expect((error as Error).message).toContain("elsewhere (pid 1)");
    expect((await storedLease(direct))?.owner).toBe("other");
  }, 60_000);
});
