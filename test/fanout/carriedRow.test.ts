/**
 * The registry row a tenant message carries (src/fanout/carriedRow.ts): written as JSON by the
 * scheduler, read back to the same record with its ETag; a row that is not the tenant's, has no
 * ETag or has a field of the wrong kind is ignored (the run then reads the row).
 */
import { describe, expect, it } from "vitest";
import { parseCarriedRow } from "../../src/fanout/carriedRow.js";
import { encodeTenantMessage, parseTenantMessage } from "../../src/fanout/tenantQueue.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import type { TenantRecord } from "../../src/tenants/tenantRegistryClient.js";

const TENANT = "d1d1d1d1-0000-4000-8000-000000000001";
const OTHER = "d2d2d2d2-0000-4000-8000-000000000002";

const row: TenantRecord = {
  tenantId: TENANT,
  tablePrefix: tenantTablePrefix(TENANT),
  addedAt: new Date("2026-12-01T08:00:00.000Z"),
  name: "Contoso",
  queuedAt: new Date("2026-12-07T10:00:00.000Z"),
  scheduledFor: new Date("2026-12-07T10:00:00.000Z"),
  leaseAcquiredAt: new Date("2026-12-07T09:45:01.000Z"),
  lastOutcome: "succeeded",
  lastOutcomeAt: new Date("2026-12-07T09:45:03.000Z"),
  lastSuccessAt: new Date("2026-12-07T09:45:03.000Z"),
  userCount: 120,
  mirrorRoundAt: new Date("2026-12-07T09:45:02.000Z"),
  etag: `W/"datetime'2026-12-07T10%3A00%3A00.1234567Z'"`,
};

describe("the row a tenant message carries", () => {
  it("comes back from the queue's text as the record the marker wrote, ETag included", () => {
    const parsed = parseTenantMessage(encodeTenantMessage({ tenantId: TENANT, kind: "due", enqueuedAt: "2026-12-07T10:00:00.000Z", row }));
    expect(parsed).toEqual({ tenantId: TENANT, kind: "due", enqueuedAt: "2026-12-07T10:00:00.000Z", row });
  });

  it("is left out (the run reads the row) when it is not the tenant's, has no ETag, or a field is not what it should be", () => {
    const json = JSON.parse(JSON.stringify(row)) as Record<string, unknown>;
    expect(parseCarriedRow(json, TENANT)).toEqual(row);
    expect(parseCarriedRow(json, OTHER)).toBeUndefined();
    expect(parseCarriedRow({ ...json, tablePrefix: tenantTablePrefix(OTHER) }, TENANT)).toBeUndefined();
    expect(parseCarriedRow({ ...json, etag: undefined }, TENANT)).toBeUndefined();
    expect(parseCarriedRow({ ...json, etag: "" }, TENANT)).toBeUndefined();
    expect(parseCarriedRow({ ...json, runningSince: "not a date" }, TENANT)).toBeUndefined();
    expect(parseCarriedRow({ ...json, lastOutcome: 3 }, TENANT)).toBeUndefined();
    expect(parseCarriedRow({ ...json, userCount: -1 }, TENANT)).toBeUndefined();
    expect(parseCarriedRow("row", TENANT)).toBeUndefined();
    // A message without a row (a continuation, a deferred copy, one queued before rows were carried) parses as before.
    const without = parseTenantMessage(encodeTenantMessage({ tenantId: TENANT, kind: "continuation", enqueuedAt: "x" }));
    expect(without).toEqual({ tenantId: TENANT, kind: "continuation", enqueuedAt: "x" });
    const broken = parseTenantMessage(JSON.stringify({ tenantId: TENANT, kind: "due", enqueuedAt: "x", row: { ...json, tenantId: OTHER } }));
    expect(broken).toEqual({ tenantId: TENANT, kind: "due", enqueuedAt: "x" });
  });
});
