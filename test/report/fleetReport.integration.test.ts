/**
 * The fleet page of `entra-user-sync report` (multi-tenant mode, no --tenant) as an operator makes
 * it: the compiled command line after `worker --once` over four simulated tenants, one of them without
 * consent; the page lists every tenant worst first, links each to its own page written next to it,
 * and reads at desktop and phone widths in a real browser (Debian's Chromium, headless, through
 * playwright-core; screenshots in test-results/). Set CHROMIUM_PATH where Chromium lives elsewhere.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HEALTHY = [1, 2, 3].map((i) => `e${i}e${i}e${i}e${i}-0000-4000-8000-00000000000${i}`);
const NO_CONSENT = "e9e9e9e9-0000-4000-8000-000000000009";
let world: SyncEnvironment;
let dir: string;
let browser: Browser | undefined;

function cli(args: string[]) {
  return runCli(args, world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi" }));
}

beforeAll(async () => {
  assertCliBuilt();
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH.`);
  dir = await mkdtemp(join(tmpdir(), "fleet-"));
  world = await startSyncEnvironment(
    { userCount: 3, customerTenants: [...HEALTHY.map((tenantId, i) => ({ tenantId, userCount: 20 + i })), { tenantId: NO_CONSENT, userCount: 5, consent: "none" as const }] },
    { queue: true },
  );
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("entra-user-sync report, multi-tenant mode, without --tenant", () => {
  let file: string;

  it("writes the fleet page, worst first, and each tenant's page next to it", async () => {
    for (const tenantId of [...HEALTHY, NO_CONSENT]) expect((await cli(["tenants", "add", tenantId])).code).toBe(0);
    await cli(["worker", "--once", "--concurrency", "2"]);
    file = join(dir, "fleet.html");
    const result = await cli(["report", "--out", file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Wrote the fleet page of 4 tenants to ${file}`);
    const html = await readFile(file, "utf8");
    expect(html).toContain("4 tenants, 1 unhealthy, worst first");
    const order = [...html.matchAll(/data-tenant="([^"]+)" data-health="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(order[0]).toEqual([NO_CONSENT, "failing"]);
    expect(order.slice(1).map((o) => o[1])).toEqual(["healthy", "healthy", "healthy"]);
    expect(html).toContain("failed (tenant_not_consented)");
    for (const tenantId of [...HEALTHY, NO_CONSENT]) {
      expect(html).toContain(`href="report-${tenantId}.html"`);
      expect(await readFile(join(dir, `report-${tenantId}.html`), "utf8")).toContain("entra-user-sync: runs of the last 14 days");
    }
    expectNoSecrets(html);
  }, 240_000);

  it.each([
    ["desktop", 1280, 900],
    ["phone", 390, 844],
  ])("reads at %s width: every tenant's row, nothing wider than the screen, a link that opens the tenant's page", async (name, width, height) => {
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(pathToFileURL(file).href);
    await mkdir("test-results", { recursive: true });
    await writeFile(join("test-results", `fleet-report-${name}.png`), await page.screenshot({ fullPage: true }));
    const rows = page.locator("tbody tr");
    expect(await rows.count()).toBe(4);
    expect(await rows.first().getAttribute("data-tenant")).toBe(NO_CONSENT);
    expect(await rows.first().isVisible()).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    // The health of the worst tenant is readable (the badge is in view, not cut off).
    const badge = await rows.first().locator(".badge").boundingBox();
    expect(badge && badge.x >= 0 && badge.x + badge.width <= width).toBe(true);
    expect(await page.locator("thead").isVisible()).toBe(name === "desktop");
    await rows.nth(1).locator("a").click();
    await page.waitForURL(/report-.*\.html$/);
    expect(await page.title()).toContain("entra-user-sync: runs of the last 14 days");
    await page.close();
  });
});
