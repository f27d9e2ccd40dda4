/**
 * The fleet benchmark at a tiny size (not timed): its report's shape, and counts that follow from
 * what an idle tenant's tick does — one Graph request, one message sent and deleted, the writer
 * lease taken and released once, the registry's three writes (the scheduler's marker, the run's
 * start and its outcome) and no read of it (the message carries the row), one query for the latest
 * pointer and the unfinished runs — every request classified (none left as "other").
 */
import { describe, expect, it } from "vitest";
import { STORAGE_KINDS } from "../../../tools/bench/storageRequestKinds.js";
import { benchFleet, formatFleet, tenantSizes } from "../../../tools/bench/fleetBench.js";
import { assertCliBuilt, CLI } from "../../support/cli.js";

describe("bench:fleet", () => {
  it("spreads tenant sizes over [min, max], the same for the same seed", () => {
    const sizes = tenantSizes({ tenants: 1000, minUsers: 50, maxUsers: 500, seed: 1 });
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(500);
    expect(new Set(sizes).size).toBeGreaterThan(300);
    expect(tenantSizes({ tenants: 1000, minUsers: 50, maxUsers: 500, seed: 1 })).toEqual(sizes);
  });

  it("runs a tick of idle tenants through the compiled worker and reports its cost per tenant", async () => {
    assertCliBuilt();
    const tenants = 3;
    const result = await benchFleet({ tenants, minUsers: 50, maxUsers: 60, concurrency: 2, latencyInMs: 0, seed: 7, cli: CLI }, () => undefined);
    expect(result.workerSummary).toBe(`Worker handled ${tenants} messages: ${tenants} succeeded.`);
    expect(result.graph).toEqual({ total: tenants, perTenant: 1, min: 1, max: 1 });
    expect(result.storage.tenantsTouched).toBe(tenants);
    expect(result.storage.failed).toBe(0);
    expect(Object.keys(result.storage.byKind)).toEqual([...STORAGE_KINDS]);
    expect(result.storage.byKind.other.count).toBe(0);
    // Nothing to write for an idle tenant: no user entity, no table created, no partition claimed
    // (the lease was released by the seed's run, so its partitions are claimed only at a first write).
    expect(result.storage.byKind.users.count).toBe(0);
    expect(result.storage.byKind.fences.count).toBe(0);
    const count = (operation: string) => result.storage.byOperation.find((o) => o.operation === operation)?.count ?? 0;
    expect(count("queue: send (tenant queue)")).toBe(tenants);
    expect(count("queue: delete message (tenant queue)")).toBe(tenants);
    expect(count("lease: take (insert)")).toBe(tenants);
    expect(count("lease: release (delete)")).toBe(tenants);
    expect(count("registry: write (replace) row")).toBe(3 * tenants);
    // The round's end: the delta state and the mirror run's record in one transaction of the runs partition.
    expect(count("run records: the mirror run's end with the delta state (one transaction)")).toBe(tenants);
    expect(count("delta state: write (replace)")).toBe(0);
    expect(count("run records: write (replace) mirror run")).toBe(0);
    expect(count("run records: insert mirror run")).toBe(tenants);
    // What is due reads the run's state once under the lease; the round and the telemetry take it from there,
    // and the latest snapshot's pointer keeps its run's start (no read of the run).
    // …with the mirror runs left running, in one query of the runs partition (the round marks them without a query of its own).
    expect(count("delta state: read")).toBe(0);
    expect(count("delta state: query it with the unfinished mirror runs")).toBe(tenants);
    expect(count("run records: query mirror runs")).toBe(0);
    // The latest snapshot's pointer and the unfinished runs come in one query.
    expect(count("run records: read the latest snapshot's pointer")).toBe(0);
    expect(count("run records: query snapshot runs (unfinished)")).toBe(0);
    expect(count("run records: query the latest snapshot's pointer and unfinished snapshot runs")).toBe(tenants);
    // The run starts from the row its message carries (the scheduler's marker and its ETag): no read of the row.
    expect(count("registry: read row")).toBe(0);
    expect(count("run records: read a snapshot run")).toBe(0);
    // Every tenant's own requests, one by one (the rest are the tick's, shared by every tenant): 11, within the target of 12.
    const once = /^(registry: query|queue: (receive|read properties|create)|tables: create)/;
    expect(result.storage.byOperation.filter((o) => !once.test(o.operation)).reduce((sum, o) => sum + o.count, 0)).toBe(11 * tenants);
    expect(result.storage.byOperation.reduce((sum, o) => sum + o.count, 0)).toBe(result.storage.total);
    expect(result.storage.perTenant).toBeCloseTo(result.storage.total / tenants, 10);
    expect(result.passSeconds).toBeGreaterThan(0);
    expect(result.tickSeconds).toBeGreaterThan(result.passSeconds);
    expect(result.peakRssMb).toBeGreaterThan(50);
    const text = formatFleet(result);
    expect(text).toContain(`Fleet: ${tenants} idle tenants`);
    expect(text).toMatch(/Graph requests per idle tenant = 1: met/);
    expect(text).toMatch(/storage requests per idle tenant ≤ 12: (met|NOT met)/);
    expect(text).toContain("not measured at this size");
  });
});
