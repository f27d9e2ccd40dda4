/**
 * Drift between the code and the Bicep: the workbook's charts and the alerts query metrics and
 * dimensions by name; every name (and dimension value) they use must be one the product emits
 * (src/telemetry/metricNames.ts), and each chart of the issue has its metric.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SYNC_TRIGGERS } from "../../src/shared/syncTrigger.js";
import { ERROR_TYPE_PROBLEMS, OTHER_ERROR_TYPES } from "../../src/telemetry/errorTypes.js";
import { CHANGE_KINDS, DIMENSIONS, METRIC_NAMES, METRICS, RUN_MODES, RUN_OUTCOMES, SCHEDULER_METRICS, SKIP_METRICS, STATE_METRICS } from "../../src/telemetry/metricNames.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra");
const workbook = readFileSync(join(INFRA, "modules", "workbook.bicep"), "utf8");
const monitoring = readFileSync(join(INFRA, "modules", "monitoring.bicep"), "utf8");

/** The KQL strings of a Bicep file: its single-quoted strings that query customMetrics. */
const queries = (bicep: string) => [...bicep.matchAll(/'(customMetrics[^']*)'/g)].map((m) => m[1]!);
const metricNames = (kql: string) => [...kql.matchAll(/"(usersync\.[a-z_.]+)"/g)].map((m) => m[1]!);
/** `customDimensions.x` and `customDimensions["x.y"]` (a name with a dot). */
const DIMENSION = String.raw`customDimensions(?:\.([A-Za-z_]+)|\["([A-Za-z_.]+)"\])`;
const dimensions = (kql: string) => [...kql.matchAll(new RegExp(DIMENSION, "g"))].map((m) => (m[1] ?? m[2])!);
/** `tostring(customDimensions.x) == "v"` and `tostring(customDimensions.x) in ("v", "w")`. */
function dimensionValues(kql: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const found of kql.matchAll(new RegExp(String.raw`${DIMENSION}\)\s*(==\s*"([^"]*)"|in\s*\(([^)]*)\))`, "g"))) {
    const m = [found[0], found[1] ?? found[2], found[3], found[4], found[5]];
    const values = m[3] !== undefined ? [m[3]] : [...m[4]!.matchAll(/"([^"]*)"/g)].map((v) => v[1]!);
    for (const v of values) pairs.push([m[1]!, v]);
  }
  return pairs;
}

const ALLOWED_VALUES: Record<string, readonly string[]> = {
  [DIMENSIONS.mode]: RUN_MODES,
  [DIMENSIONS.outcome]: RUN_OUTCOMES,
  [DIMENSIONS.changeKind]: CHANGE_KINDS,
  [DIMENSIONS.trigger]: SYNC_TRIGGERS,
  [DIMENSIONS.errorType]: [...Object.values(ERROR_TYPE_PROBLEMS).flat(), ...OTHER_ERROR_TYPES],
};

describe.each([
  ["workbook.bicep", workbook],
  ["monitoring.bicep", monitoring],
])("%s queries what the product emits", (_file, bicep) => {
  const kql = queries(bicep);

  it("has metric queries", () => expect(kql.length).toBeGreaterThan(0));

  it("names only emitted metrics", () => {
    for (const query of kql) for (const name of metricNames(query)) expect(METRIC_NAMES.has(name), `${name} in: ${query}`).toBe(true);
  });

  it("names only emitted dimensions, with values the product gives them", () => {
    const known = new Set<string>(Object.values(DIMENSIONS));
    for (const query of kql) {
      for (const d of dimensions(query)) expect(known.has(d), `dimension ${d} in: ${query}`).toBe(true);
      for (const [d, v] of dimensionValues(query)) expect(ALLOWED_VALUES[d], `${d} == "${v}"`).toContain(v);
    }
  });
});

describe("the workbook's charts and the alerts", () => {
  const workbookMetrics = new Set(queries(workbook).flatMap(metricNames));
  const alertMetrics = new Set(queries(monitoring).flatMap(metricNames));

  it("chart run outcomes and duration, the tenants' health, users, joiners/movers/leavers, throttling, certificate days, queue and poison depth", () => {
    for (const m of [
      METRICS.runs,
      METRICS.runDuration,
      STATE_METRICS.snapshotUsers,
      METRICS.changes,
      METRICS.graphThrottled,
      METRICS.graphWaited,
      STATE_METRICS.certificateDaysToExpiry,
      STATE_METRICS.mirrorAge,
      SKIP_METRICS.leaseContention,
      SCHEDULER_METRICS.queueDepth,
      SCHEDULER_METRICS.poisonDepth,
    ]) {
      expect(workbookMetrics.has(m.name), m.name).toBe(true);
    }
  });

  it("alert on failed runs, stale mirrors and snapshots, the certificate, the poison queue, no run at all and skipped users, from the emitted metrics", () => {
    expect(alertMetrics).toEqual(
      new Set([
        METRICS.runs.name,
        SKIP_METRICS.leaseContention.name,
        METRICS.usersSkipped.name,
        STATE_METRICS.mirrorAge.name,
        STATE_METRICS.snapshotAge.name,
        STATE_METRICS.certificateDaysToExpiry.name,
        SCHEDULER_METRICS.poisonDepth.name,
      ]),
    );
  });

  it("the drift check can fail: a dimension value the product does not give is caught", () => {
    expect(dimensionValues('customMetrics | where tostring(customDimensions.trigger) == "queue" and tostring(customDimensions["error.type"]) in ("tenant_not_consented", "x")')).toEqual([
      ["trigger", "queue"],
      ["error.type", "tenant_not_consented"],
      ["error.type", "x"],
    ]);
    expect(ALLOWED_VALUES[DIMENSIONS.errorType]).not.toContain("x");
    expect(ALLOWED_VALUES[DIMENSIONS.trigger]).toContain("queue");
  });

  it("the drift check can fail: a metric the product does not emit is caught", () => {
    expect(metricNames('customMetrics | where name == "usersync.users.imagined"').every((n) => METRIC_NAMES.has(n))).toBe(false);
  });
});
