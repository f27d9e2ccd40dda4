/**
 * changeTenantRecord against Azurite's tables: a change is applied with the row's ETag, read again
 * and reapplied when another writer got there first, and given up after TENANT_RECORD_ATTEMPTS
 * lost races with the coded `tenant_record_contended`, having overwritten nothing.
 *
 * The lost races are made deterministic, not left to timing: a second registry client (another
 * worker) writes the row in the window between this writer's read and its fenced write, a real
 * write that really changes the ETag Azurite checks (412 on the stale one).
 */
import { describe, expect, it } from "vitest";
import { scheduleDueTenants } from "../../src/fanout/scheduler.js";
import { TenantQueueClient } from "../../src/fanout/tenantQueue.js";
import { changeTenantRecord, TENANT_RECORD_ATTEMPTS, type KnownTenantRow } from "../../src/fanout/tenantRecords.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";
import { TenantRegistryClient, type TenantRecord } from "../../src/tenants/tenantRegistryClient.js";
import type { OperationOptions } from "../../src/shared/abort.js";
import { capturingLogger } from "../support/syncEnvironment.js";
import { azuriteForTestFile, azuriteQueueStorage } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile({ queue: true });

const TENANT = "33333333-3333-4333-8333-333333333333";

/**
 * The registry as one worker sees it, while a rival worker (its own client on the same table)
 * updates the row right after each of this worker's first `rivalWrites` reads.
 */
class RacedRegistry extends TenantRegistryClient {
  reads = 0;
  rivalWrites = 0;
  readonly #rival: TenantRegistryClient;
  readonly #races: number;

  constructor(tablePrefix: string, races: number) {
    super({ storage: azurite.tableStorage, tablePrefix });
    this.#rival = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix });
    this.#races = races;
  }

  override async getTenant(tenantId: string, options: OperationOptions = {}): Promise<TenantRecord | undefined> {
    const seen = await super.getTenant(tenantId, options);
    this.reads++;
    if (seen && this.rivalWrites < this.#races) {
      const current = (await this.#rival.getTenant(tenantId))!;
      const written = await this.#rival.updateTenant({ ...current, lastError: `rival write ${++this.rivalWrites}` });
      expect(written, "the rival's own fenced write").toBeDefined();
    }
    return seen;
  }

  /** The rival writes right after the listing too (a row listed by a scheduler's pass, then changed). */
  override async *listTenants(options: OperationOptions = {}): AsyncIterableIterator<TenantRecord> {
    for await (const seen of super.listTenants(options)) {
      if (this.rivalWrites < this.#races) {
        const current = (await this.#rival.getTenant(seen.tenantId))!;
        expect(await this.#rival.updateTenant({ ...current, lastError: `rival write ${++this.rivalWrites}` }), "the rival's own fenced write").toBeDefined();
      }
      yield seen;
    }
  }
}

async function registryWithTenant(tablePrefix: string, races: number): Promise<RacedRegistry> {
  const registry = new RacedRegistry(tablePrefix, races);
  await registry.createTableIfNotExists();
  await registry.addTenant(TENANT, { name: "Contoso" });
  return registry;
}

const markRunning = (current: TenantRecord): TenantRecord => ({ ...current, runningSince: new Date(), lastOutcome: "ours" });

describe("changeTenantRecord", () => {
  it(`gives up after ${TENANT_RECORD_ATTEMPTS} lost ETag races with tenant_record_contended, saying what happened and what to do, and overwrites nothing`, async () => {
    const registry = await registryWithTenant("race1", TENANT_RECORD_ATTEMPTS);
    let error: unknown;
    try {
      await changeTenantRecord(registry, TENANT, markRunning);
    } catch (caught) {
      error = caught;
    }
    expect(isUserSyncError(error, "tenant_record_contended"), String(error)).toBe(true);
    const contended = error as UserSyncError;
    expect(contended.details).toEqual({ tenantId: TENANT });
    expect(contended.message).toContain(`The registry row of tenant ${TENANT} changed between reading and writing it, ${TENANT_RECORD_ATTEMPTS} times in a row`);
    expect(contended.message).toContain("nothing was overwritten");
    expect(contended.message).toContain("the tenant is tried again");
    expect(contended.message).toContain("entraUserTenants");
    expect(registry.reads).toBe(TENANT_RECORD_ATTEMPTS);
    expect(registry.rivalWrites).toBe(TENANT_RECORD_ATTEMPTS);
    // The row is the rival's last write: none of this writer's stale writes landed.
    const row = (await registry.getTenant(TENANT))!;
    expect(row.lastError).toBe(`rival write ${TENANT_RECORD_ATTEMPTS}`);
    expect(row.lastOutcome).toBeUndefined();
    expect(row.runningSince).toBeUndefined();
  });

  it(`wins on its last attempt after ${TENANT_RECORD_ATTEMPTS - 1} lost races, applying its change to the rival's row`, async () => {
    const registry = await registryWithTenant("race2", TENANT_RECORD_ATTEMPTS - 1);
    const written = await changeTenantRecord(registry, TENANT, markRunning);
    expect(written).toMatchObject({ tenantId: TENANT, lastOutcome: "ours", lastError: `rival write ${TENANT_RECORD_ATTEMPTS - 1}` });
    expect(registry.reads).toBe(TENANT_RECORD_ATTEMPTS);
    const row = (await registry.getTenant(TENANT))!;
    expect(row).toMatchObject({ lastOutcome: "ours", lastError: `rival write ${TENANT_RECORD_ATTEMPTS - 1}` });
    expect(row.runningSince).toBeInstanceOf(Date);
  });

  it("loses no update among writers racing on one row: each change lands once or fails coded", async () => {
    const registry = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "race3" });
    await registry.createTableIfNotExists();
    await registry.addTenant(TENANT);
    // Each writer has its own client (its own connections), as separate workers would.
    const writers = Array.from({ length: 12 }, (_, i) => ({ mark: String.fromCharCode(97 + i), client: new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "race3" }) }));
    const outcomes = await Promise.allSettled(writers.map((w) => changeTenantRecord(w.client, TENANT, (current) => ({ ...current, lastError: `${current.lastError ?? ""}${w.mark}` }))));
    const landed = writers.filter((_, i) => outcomes[i]!.status === "fulfilled").map((w) => w.mark);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect(isUserSyncError(outcome.reason, "tenant_record_contended"), String(outcome.reason)).toBe(true);
    }
    expect(landed.length).toBeGreaterThan(0);
    const row = (await registry.getTenant(TENANT))!;
    // Every change that returned is in the row, exactly once; none that failed is.
    expect([...(row.lastError ?? "")].sort()).toEqual(landed.sort());
  });

  it("in the scheduler: a tenant whose row stays contended is not queued, and is reported with the coded error", async () => {
    const registry = await registryWithTenant("race4", Number.MAX_SAFE_INTEGER);
    const queue = new TenantQueueClient({ queue: azuriteQueueStorage(azurite.instance) });
    await queue.createQueuesIfNotExist();
    const before = await queue.approximateMessageCount();
    const log = capturingLogger();
    const result = await scheduleDueTenants({ registry, queue, logger: log.logger });
    expect(result.enqueued).toEqual([]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.tenantId).toBe(TENANT);
    expect(result.failed[0]!.error).toContain("[tenant_record_contended]");
    expect(await queue.approximateMessageCount()).toBe(before);
    expect((await new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "race4" }).getTenant(TENANT))?.queuedAt).toBeUndefined();
  });
});

describe("changeTenantRecord with the row as last read or written (known)", () => {
  it("writes with the known row's ETag without reading the row, and keeps the known row up to date", async () => {
    const registry = await registryWithTenant("known1", 0);
    const known: KnownTenantRow = { row: (await registry.getTenant(TENANT))! };
    registry.reads = 0;
    const first = await changeTenantRecord(registry, TENANT, markRunning, { known });
    expect(first).toMatchObject({ lastOutcome: "ours" });
    expect(registry.reads, "no read before the fenced write").toBe(0);
    expect(known.row).toEqual(first);
    // The next change goes out with the ETag the first write returned, still without a read.
    const second = await changeTenantRecord(registry, TENANT, (current) => ({ ...current, lastOutcome: "again" }), { known });
    expect(registry.reads).toBe(0);
    expect(known.row).toEqual(second);
    expect((await registry.getTenant(TENANT))!).toMatchObject({ lastOutcome: "again" });
  });

  it("a known row that changed meanwhile is refused by its ETag, read afresh and the change applied to the new row: nothing stale lands", async () => {
    const registry = await registryWithTenant("known2", 0);
    const known: KnownTenantRow = { row: (await registry.getTenant(TENANT))! };
    const rival = new TenantRegistryClient({ storage: azurite.tableStorage, tablePrefix: "known2" });
    await rival.updateTenant({ ...(await rival.getTenant(TENANT))!, lastError: "rival" });
    registry.reads = 0;
    const written = await changeTenantRecord(registry, TENANT, markRunning, { known });
    expect(registry.reads, "one read after the refused write").toBe(1);
    expect(written).toMatchObject({ lastOutcome: "ours", lastError: "rival" });
    expect(known.row).toEqual(written);
    expect((await registry.getTenant(TENANT))!).toMatchObject({ lastOutcome: "ours", lastError: "rival" });
  });

  it("concludes that there is nothing to do only from a row read afresh", async () => {
    const registry = await registryWithTenant("known3", 0);
    const stale = (await registry.getTenant(TENANT))!;
    await registry.updateTenant({ ...stale, lastOutcome: "busy" });
    registry.reads = 0;
    // The known row says "not busy"; the fresh one says busy: the change sees both, and the fresh one decides.
    const seen: Array<string | undefined> = [];
    const written = await changeTenantRecord(registry, TENANT, (current) => (seen.push(current.lastOutcome), current.lastOutcome === "busy" ? undefined : { ...current, lastOutcome: "ours" }), {
      known: { row: { ...stale, lastOutcome: "busy" } },
    });
    expect(written).toBeUndefined();
    expect(seen).toEqual(["busy", "busy"]);
    expect(registry.reads).toBe(1);
  });
});
