/**
 * Every KQL query the Bicep ships (the workbook's charts, the log alerts) parses and binds with
 * Microsoft's Kusto language service against the Application Insights tables it reads
 * (test/support/applicationInsightsSchema.ts). The queries are read from the templates' syntax
 * trees (test/support/bicepKql.ts), as Azure receives them: a module's `${param}` takes the value
 * infra/main.bicep passes it. Any diagnostic of severity Error fails, naming the query.
 */
import { join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { APPLICATION_INSIGHTS_TABLES } from "../support/applicationInsightsSchema.js";
import { kqlLookingStrings, kqlQueries, type BicepKqlQuery } from "../support/bicepKql.js";
import { bicepFilesUnder, modules, objectEntries, parseBicepFile, resolveString, type BicepDocument } from "../support/bicepSyntax.js";
import { analyzeKql, kustoGlobals, type KqlDiagnostic } from "../support/kusto.js";

const ROOT = join(import.meta.dirname, "..", "..");
const INFRA = join(ROOT, "infra");
const TABLES = Object.keys(APPLICATION_INSIGHTS_TABLES);

const main = await parseBicepFile(join(INFRA, "main.bicep"));

/** The literal string values infra/main.bicep passes to the module at `file` (relative to infra/). */
function moduleArguments(file: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const m of modules(main).filter((m) => normalize(m.path) === normalize(file))) {
    for (const { key, value } of objectEntries(objectEntries(m.body).find((e) => e.key === "params")?.value)) {
      const resolved = resolveString(main, value);
      if (resolved !== undefined) values[key] = resolved;
    }
  }
  return values;
}

const documents: BicepDocument[] = [];
for (const file of bicepFilesUnder(INFRA).filter((f) => f.endsWith(".bicep"))) {
  const doc = await parseBicepFile(join(INFRA, file));
  documents.push({ ...doc, path: relative(ROOT, doc.path) });
}
const samplesFor = (doc: BicepDocument) => moduleArguments(relative(INFRA, join(ROOT, doc.path)));
const queries: BicepKqlQuery[] = documents.flatMap((doc) => kqlQueries(doc, samplesFor(doc)));
const globals = kustoGlobals(APPLICATION_INSIGHTS_TABLES);

/**
 * The workbook's parameters, as the workbook substitutes them before a query runs: `{TimeRange:grain}`
 * (the bin that follows the time range), `{Tenant}` (one tenant, or `*` for all), `{OperationId}` (the
 * failed run picked in its grid). A placeholder not listed here fails the check.
 */
const WORKBOOK_PARAMETERS: Readonly<Record<string, string>> = { "TimeRange:grain": "1h", Tenant: "*", OperationId: "4bf92f3577b34da6a3ce929d0e0e4736" };
function substituted(query: string): string {
  return query.replace(/\{([A-Za-z]+(?::[a-z]+)?)\}/g, (placeholder, name: string) => {
    const value = WORKBOOK_PARAMETERS[name];
    if (value === undefined) throw new Error(`a query uses the workbook parameter ${placeholder}, which the check does not know: add a sample for it`);
    return value;
  });
}

/** `KS228 The name 'kind' needs to be bracketed… at «kind = case(…»` */
function describeDiagnostic(query: string, d: KqlDiagnostic): string {
  return `${d.code} ${d.message} at «${query.slice(d.start, d.start + Math.max(d.length, 20))}»`;
}
const errors = (raw: string) => {
  const query = substituted(raw);
  return analyzeKql(query, globals)
    .filter((d) => d.severity === "Error")
    .map((d) => describeDiagnostic(query, d));
};

describe("the KQL in infra/", () => {
  it("is found: the workbook's tenant parameter, Tenants table, failed runs, run trace and ten charts, and the six alerts", () => {
    const byFile = (file: string) => queries.filter((q) => q.name.startsWith(`infra/modules/${file}:`)).length;
    expect({ workbook: byFile("workbook.bicep"), monitoring: byFile("monitoring.bicep"), total: queries.length }).toEqual({ workbook: 14, monitoring: 6, total: 20 });
  });

  it("the workbook's bins follow the time range, and every query of a tenant's data honours the tenant parameter", () => {
    const workbook = queries.filter((q) => q.name.startsWith("infra/modules/workbook.bicep:"));
    for (const q of workbook) {
      for (const bin of q.text.matchAll(/bin\(timestamp, ([^)]*)\)/g)) expect(bin[1], q.name).toBe("{TimeRange:grain}");
    }
    expect(workbook.filter((q) => q.text.includes("bin(timestamp")).length).toBeGreaterThanOrEqual(8);
    // Not filtered: the tenant list itself, the run picked (by its operation id), and the app-wide certificate and queues.
    const unfiltered = workbook.filter((q) => !q.text.includes('"{Tenant}" == "*" or tenant_id == "{Tenant}"')).map((q) => q.text);
    expect(unfiltered).toHaveLength(4);
    expect(unfiltered).toEqual(
      expect.arrayContaining([
        expect.stringContaining("distinct tenant_id"),
        expect.stringContaining('where operation_Id == "{OperationId}"'),
        expect.stringContaining("usersync.certificate.days_to_expiry"),
        expect.stringContaining("usersync.queue.depth"),
      ]),
    );
  });

  it("is all checked: every string in infra/ that reads like a query over these tables is one of them", () => {
    const checked = new Set(queries.map((q) => q.node.id));
    for (const doc of documents) {
      for (const node of kqlLookingStrings(doc, TABLES)) expect(checked.has(node.id), `${doc.path}:${node.startPosition.row + 1} ${node.text.slice(0, 60)}`).toBe(true);
    }
  });

  it("takes a module's parameters into the query: the stale alert's limits, in hours", () => {
    const stale = queries.find((q) => q.name.endsWith(" tenantStaleAlert"));
    expect(stale?.text).toContain('where hours > iff(data == "mirror", 3, 30)');
  });

  it.each(queries.map((q) => [q.name, q.text]))("%s parses and binds", (_name, text) => {
    expect(errors(text)).toEqual([]);
  });
});

describe("the KQL check can fail", () => {
  it.each([
    ["a keyword used as a name", 'customMetrics | extend kind = "x" | summarize sum(valueSum) by kind', "KS228"],
    ["an unknown column", 'customMetrics | where metricName == "usersync.runs"', "KS142"],
    ["a table the component does not have", "AppMetrics | where Name == 'usersync.runs'", "KS204"],
    ["an unknown function", "customMetrics | summarize total = summ(valueSum)", "KS211"],
    ["a syntax error", "requests | where success ==", "KS006"],
  ])("%s", (_what, query, code) => {
    expect(errors(query).join("\n")).toContain(code);
  });

  it("reads a bracketed keyword as a name", () => {
    expect(errors('customMetrics | extend ["kind"] = "x" | summarize sum(valueSum) by ["kind"]')).toEqual([]);
  });
});
