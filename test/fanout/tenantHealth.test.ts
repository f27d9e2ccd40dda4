/** A tenant's health from its registry row: poisoned, failing, stale, pending, healthy; consent; worst first. */
import { describe, expect, it } from "vitest";
import { STALE_MIRROR_AFTER_IN_MS } from "../../src/configuration/defaults.js";
import { consentState, healthFactsOfMirrorRound, isUnhealthy, tenantHealth, worstFirst } from "../../src/fanout/tenantHealth.js";
import type { MirrorRunRecord } from "../../src/mirror/userMirrorClient.js";
import type { TenantRecord } from "../../src/tenants/tenantRegistryClient.js";

const now = new Date("2026-12-07T12:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const row = (tenantId: string, fields: Partial<TenantRecord> = {}): TenantRecord => ({ tenantId, tablePrefix: "t", addedAt: ago(86_400_000), ...fields });

const healthy = row("a", { lastOutcome: "succeeded", lastSuccessAt: ago(60_000), mirrorRoundAt: ago(60_000), userCount: 10 });
const noConsent = row("b", { lastOutcome: "failed", lastErrorCode: "tenant_not_consented", lastSuccessAt: ago(7_200_000) });
const noGrant = row("c", { lastOutcome: "failed", lastErrorCode: "graph_forbidden" });
const poisoned = row("d", { lastOutcome: "poisoned", lastErrorCode: "storage_request_failed", lastSuccessAt: ago(3_600_000) });
const stale = row("e", { lastOutcome: "succeeded", lastSuccessAt: ago(STALE_MIRROR_AFTER_IN_MS + 60_000), mirrorRoundAt: ago(STALE_MIRROR_AFTER_IN_MS + 60_000) });
const pending = row("f");

describe("tenantHealth", () => {
  it("names each state, and only poisoned, failing and stale ones are unhealthy", () => {
    expect([healthy, noConsent, noGrant, poisoned, stale, pending].map((r) => tenantHealth(r, now))).toEqual(["healthy", "failing", "failing", "poisoned", "stale", "pending"]);
    expect([healthy, noConsent, poisoned, stale, pending].map((r) => isUnhealthy(tenantHealth(r, now)))).toEqual([false, true, true, true, false]);
  });

  it("a mirror just inside the limit is not stale", () => {
    expect(tenantHealth({ ...stale, mirrorRoundAt: ago(STALE_MIRROR_AFTER_IN_MS - 60_000) }, now)).toBe("healthy");
  });

  it("consent: missing, permission missing, granted after a success, unknown before", () => {
    expect([noConsent, noGrant, healthy, pending, poisoned].map(consentState)).toEqual(["missing", "permission missing", "granted", "unknown", "granted"]);
  });

  it("sorts worst first: poisoned, failing (longest without a success first), stale, pending, healthy", () => {
    const sorted = [healthy, pending, stale, noConsent, poisoned, noGrant].sort((a, b) => worstFirst(a, b, now)).map((r) => r.tenantId);
    expect(sorted).toEqual(["d", "c", "b", "e", "f", "a"]);
  });
});

describe("healthFactsOfMirrorRound", () => {
  const ended = new Date("2026-12-07T06:00:00Z");
  const round = { status: "succeeded", endedAt: ended } as unknown as MirrorRunRecord;
  it("takes a mirror-only run's facts from the run itself: the round's end, and no user count (the row keeps the latest snapshot's)", () => {
    expect(healthFactsOfMirrorRound({ mirror: round })).toEqual({ mirrorRoundAt: ended });
  });
  it("leaves every other run to a read of the stores: a snapshot, a failed round, no result", () => {
    expect(healthFactsOfMirrorRound({ mirror: round, snapshot: {} as never })).toBeUndefined();
    expect(healthFactsOfMirrorRound({ mirror: { ...round, status: "failed" } })).toBeUndefined();
    expect(healthFactsOfMirrorRound({})).toBeUndefined();
    expect(healthFactsOfMirrorRound(undefined)).toBeUndefined();
  });
});
