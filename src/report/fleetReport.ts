/**
 * The fleet page of `entra-user-sync report` in multi-tenant mode (without --tenant): every
 * registered tenant's health in one table, worst first, each linking to its own page (the same as
 * `report --tenant <id>`). Drawn from the registry rows alone (src/fanout/tenantHealth.ts): one read
 * for the whole fleet. Self-contained like the tenant's page: inline CSS, no script, no user data.
 */
import { consentState, isUnhealthy, tenantHealth, worstFirst, type TenantHealth } from "../fanout/tenantHealth.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { escapeXml } from "./svgCharts.js";
import { pageHead } from "./pageHead.js";

/** The file name of a tenant's page next to the fleet page. */
export function tenantPageName(tenantId: string): string {
  return `report-${tenantId}.html`;
}

function age(from: Date | undefined, now: Date): string {
  if (!from) return "never";
  const h = Math.max(0, now.getTime() - from.getTime()) / 3_600_000;
  return h < 1 ? `${Math.round(h * 60)} min ago` : h < 48 ? `${h.toFixed(1)} h ago` : `${(h / 24).toFixed(1)} days ago`;
}

const STATE: Record<TenantHealth, "bad" | "warn" | "ok" | "none"> = { poisoned: "bad", failing: "bad", stale: "warn", pending: "none", healthy: "ok" };

export interface FleetReportOptions {
  now: Date;
  /** Whether each tenant's page was written next to this one (else the page says how to make it). */
  tenantPages: boolean;
}

/** The page's styles (inline: the page loads nothing). */
const FLEET_CSS = `body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px; color: #1f2328; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
.sub { color: #59636e; margin: 0 0 16px; }
.wrap { overflow-x: auto; border: 1px solid #d1d9e0; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { font-size: 12px; color: #59636e; font-weight: 600; background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.tenant .id { font-family: ui-monospace, monospace; font-size: 12px; display: block; }
td.tenant .name { color: #59636e; font-size: 12px; }
tr td:first-child { border-left: 5px solid #90a4ae; }
tr.ok td:first-child { border-left-color: #2e7d32; } tr.warn td:first-child { border-left-color: #f9a825; } tr.bad td:first-child { border-left-color: #c62828; }
.badge { font-weight: 600; } tr.bad .badge { color: #c62828; } tr.warn .badge { color: #8a6100; }
@media (max-width: 640px) {
  thead { display: none; }
  table, tbody, tr, td { display: block; width: auto; }
  tr { border-bottom: 1px solid #d1d9e0; padding: 6px 0; }
  td, td.num { border: 0; padding: 2px 10px; text-align: left; }
  td[data-label]::before { content: attr(data-label) ": "; color: #59636e; font-size: 12px; }
  td[data-label]:empty { display: none; }
}
footer { margin-top: 18px; color: #59636e; font-size: 12px; }`;

export function renderFleetReport(records: readonly TenantRecord[], options: FleetReportOptions): string {
  const now = options.now;
  const rows = [...records].sort((a, b) => worstFirst(a, b, now));
  const unhealthy = rows.filter((r) => isUnhealthy(tenantHealth(r, now))).length;
  const body = rows
    .map((r) => {
      const health = tenantHealth(r, now);
      const failure = r.lastOutcome === "failed" || r.lastOutcome === "poisoned" ? `${r.lastOutcome}${r.lastErrorCode ? ` (${r.lastErrorCode})` : ""}, ${age(r.lastOutcomeAt, now)}` : "";
      const page = options.tenantPages ? `<a href="${escapeXml(tenantPageName(r.tenantId))}">runs</a>` : `<code>report --tenant ${escapeXml(r.tenantId)}</code>`;
      const cell = (label: string, html: string, cls = "") => `<td data-label="${label}"${cls ? ` class="${cls}"` : ""}>${html}</td>`;
      return (
        `<tr class="${STATE[health]}" data-tenant="${escapeXml(r.tenantId)}" data-health="${health}">` +
        `<td class="tenant"><span class="id">${escapeXml(r.tenantId)}</span>${r.name ?? r.domain ? `<span class="name">${escapeXml(r.name ?? r.domain ?? "")}</span>` : ""}</td>` +
        cell("Health", `<span class="badge">${health}</span>`) +
        cell("Last success", escapeXml(age(r.lastSuccessAt, now))) +
        cell("Last failure", escapeXml(failure)) +
        cell("Users", r.userCount?.toLocaleString("en-US") ?? "", "num") +
        cell("Mirror", r.mirrorRoundAt ? escapeXml(age(r.mirrorRoundAt, now)) : "") +
        cell("Consent", consentState(r)) +
        cell("Page", page) +
        "</tr>"
      );
    })
    .join("\n");
  return `${pageHead(`entra-user-sync: the fleet`, FLEET_CSS)}<body>
<h1>entra-user-sync: the fleet</h1>
<p class="sub">Generated ${escapeXml(now.toISOString().replace("T", " ").slice(0, 19))} UTC from the tenant registry: ${rows.length} tenant${rows.length === 1 ? "" : "s"}, ${unhealthy} unhealthy, worst first.</p>
<div class="wrap"><table>
<thead><tr><th>Tenant</th><th>Health</th><th>Last success</th><th>Last failure</th><th>Users</th><th>Mirror</th><th>Consent</th><th>Page</th></tr></thead>
<tbody>
${body}
</tbody>
</table></div>
<footer>Health from each tenant's registry row (tenants list): poisoned, failing, stale (mirror older than 3 h), pending (not synced yet), healthy. No user data.</footer>
</body>
</html>
`;
}
