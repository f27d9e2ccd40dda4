/**
 * `entra-user-sync report` as an operator runs it (the compiled command line against Azurite and
 * the simulated tenant), and the page it writes opened in a real browser (Debian's Chromium,
 * headless, through playwright-core): a screenshot of every chart, whose pixels are not all
 * background. .ci/run installs Chromium; elsewhere set CHROMIUM_PATH or install it
 * (apt-get install chromium).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 400;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let world: SyncEnvironment;
let dir: string;
let browser: Browser | undefined;

function cli(args: string[]) {
  return runCli(args, world.cliEnv());
}

beforeAll(async () => {
  assertCliBuilt();
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH.`);
  dir = await mkdtemp(join(tmpdir(), "report-"));
  world = await startSyncEnvironment({ userCount: USERS, seed: 7 });
});
afterAll(async () => {
  await browser?.close();
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Pixels that differ from the chart's background (white), in a PNG. */
function inkedPixels(png: Buffer): number {
  const image = PNG.sync.read(png);
  let inked = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    if (image.data[i]! < 235 || image.data[i + 1]! < 235 || image.data[i + 2]! < 235) inked += 1;
  }
  return inked;
}

describe("entra-user-sync report", () => {
  let file: string;

  it("writes the page from the run records of the store", async () => {
    expect((await cli(["run"])).code).toBe(0);
    world.tenant.changes.changeUser(5, { jobTitle: "Report Mover" });
    world.tenant.changes.addUser({});
    // Graph throttles the incremental round once (Retry-After 1 s): the throttling chart has something to show.
    world.tenant.faults.graph.script([{ status: 429, retryAfterSeconds: 1 }]);
    expect((await cli(["run"])).code).toBe(0);
    file = join(dir, "report.html");
    const result = await cli(["report", "--out", file, "--days", "3"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`to ${file}`);
    const html = await readFile(file, "utf8");
    expect(html).toContain("entra-user-sync: runs of the last 3 days");
    expect(html).toContain("movers (updated): 1");
    expect(html).toContain("429 answers: 1");
    expectNoSecrets(html);
    // No user data: no UPN, mail or display name of any user.
    for (const user of world.tenant.directory.users()) {
      for (const value of [user.userPrincipalName, user.mail, user.displayName]) if (typeof value === "string" && value.length > 3) expect(html.includes(value)).toBe(false);
    }
  });

  it("--out - writes the page to standard output, nothing else", async () => {
    const result = await cli(["report", "--out", "-"]);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith("<!doctype html>")).toBe(true);
    expect(result.stdout.trimEnd().endsWith("</html>")).toBe(true);
  });

  it("--days out of range is refused before anything runs", async () => {
    const result = await cli(["report", "--days", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--days");
  });

  it("opens in a real browser with every chart drawn, and no request leaves the page", async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(file).href);
    expect(requests).toEqual([pathToFileURL(file).href]);
    const shot = await page.screenshot({ fullPage: true });
    // Kept with the test results (CI keeps test-results/), for a person to look at.
    await mkdir("test-results", { recursive: true });
    await writeFile(join("test-results", "report-screenshot.png"), shot);
    expect(inkedPixels(shot)).toBeGreaterThan(5_000);
    const charts = await page.locator("svg.chart").all();
    expect(charts).toHaveLength(8);
    for (const chart of charts) {
      const id = await chart.getAttribute("data-chart");
      const box = await chart.boundingBox();
      expect(box?.width, id ?? "").toBeGreaterThan(300);
      // The marks alone (bars, points, lines): hide axes and labels, so that an empty chart has no ink.
      await chart.evaluate((svg) => svg.querySelectorAll("text, line, rect.key").forEach((e: { setAttribute(name: string, value: string): void }) => e.setAttribute("visibility", "hidden")));
      const marks = inkedPixels(await chart.screenshot());
      expect(marks, `chart ${id} is empty`).toBeGreaterThan(20);
    }
  });

  it("stays readable on a 420 px phone screen: nothing wider than the screen, every chart drawn, labels legible", async () => {
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    const page = await browser.newPage({ viewport: { width: 420, height: 900 } });
    await page.goto(pathToFileURL(file).href);
    await mkdir("test-results", { recursive: true });
    await writeFile(join("test-results", "report-420px.png"), await page.screenshot({ fullPage: true }));
    // Nothing scrolls sideways or is cut off.
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(420);
    const charts = await page.locator("svg.chart").all();
    expect(charts).toHaveLength(8);
    for (const chart of charts) {
      const id = (await chart.getAttribute("data-chart")) ?? "";
      const box = (await chart.boundingBox())!;
      expect(box.x, id).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, id).toBeLessThanOrEqual(420);
      expect(box.width, id).toBeGreaterThan(300);
      // The axis labels are at least 8 px tall on the screen.
      const tick = await chart.locator("text.tick").first().boundingBox();
      expect(tick?.height, id).toBeGreaterThanOrEqual(8);
      await chart.evaluate((svg) => svg.querySelectorAll("text, line, rect.key").forEach((e: { setAttribute(name: string, value: string): void }) => e.setAttribute("visibility", "hidden")));
      expect(inkedPixels(await chart.screenshot()), `chart ${id} is empty at 420 px`).toBeGreaterThan(20);
    }
    await page.close();
  });
});
