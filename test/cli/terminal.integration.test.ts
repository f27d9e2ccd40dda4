/**
 * The command line at a real terminal (a pseudo-terminal, keys typed into it) and at the end of a
 * pipe that closes early: Ctrl+C pauses a run at its checkpoint with and without the progress
 * display, a second Ctrl+C stops at once and what it says was kept is kept, the display never loops
 * on a terminal without a size or on TERM=dumb, and a closed pipe ends a command quietly.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, CLI, runCli, startCli } from "../support/cli.js";
import { SPINNER_FRAME, startInTerminal, type TerminalSession } from "../support/terminal.js";

/** Seven /users pages, each delayed, so that a run is still reading when Ctrl+C arrives. */
const USERS = 6_000;
/** Short, so that a run stopped at once can be followed within the test; long enough for a loaded 2-core machine to renew it. */
const LEASE_SECONDS = 10;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;
const sessions: TerminalSession[] = [];

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return world.cliEnv({ TERM: "xterm-256color", USER_SYNC_LEASE_SECONDS: String(LEASE_SECONDS), USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, ...extra });
}

function inTerminal(args: string[], options: { columns?: number; env?: Record<string, string> } = {}): TerminalSession {
  const session = startInTerminal([process.execPath, CLI, ...args], { env: env(options.env), ...(options.columns !== undefined ? { columns: options.columns } : {}) });
  sessions.push(session);
  return session;
}

interface RunJson {
  kind: string;
  runId: string;
  status: string;
  stats?: { pages: number; usersRead: number };
  checkpoint?: { at: string };
}

async function snapshotRuns(): Promise<RunJson[]> {
  const result = await runCli(["runs", "--json", "--limit", "50"], env());
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as RunJson)
    .filter((run) => run.kind === "snapshot");
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, graphLatencyInMs: 300 });
});
afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
});
afterAll(async () => world?.close());

describe("the command line at a terminal", () => {
  it("Ctrl+C pauses a run at its checkpoint while the progress spinner shows (exit 4)", async () => {
    const terminal = inTerminal(["run"]);
    await terminal.waitFor(/Snapshot: [\d,]+ users? written/);
    terminal.type("\x03");
    const result = await terminal.exited;
    expect(result.output).toMatch(SPINNER_FRAME);
    expect(result.output).toContain("Ctrl+C: stopping at the next checkpoint");
    expect(result.output).toMatch(/User sync paused at a checkpoint because it was asked to stop: [\d,]+ users in \d+ pages?/);
    expect(result.code).toBe(4);
    const [paused] = await snapshotRuns();
    expect(paused).toMatchObject({ status: "paused" });
    expect(paused!.checkpoint).toBeDefined();
    expect(paused!.stats!.pages).toBeGreaterThanOrEqual(1);
    expect(paused!.stats!.usersRead).toBeLessThan(USERS);
    expectNoSecrets(result.output, [world.azurite.connectionString]);
  });

  it("Ctrl+C pauses a run with --no-progress too, and the run continues from its checkpoint", async () => {
    const [before] = await snapshotRuns();
    const terminal = inTerminal(["run", "--no-progress"]);
    await terminal.waitFor(/Resuming run \S+ from its checkpoint/);
    terminal.type("\x03");
    const result = await terminal.exited;
    expect(result.output).not.toMatch(SPINNER_FRAME);
    expect(result.code).toBe(4);
    const [paused] = await snapshotRuns();
    expect(paused).toMatchObject({ runId: before!.runId, status: "paused" });
    expect(paused!.stats!.pages).toBeGreaterThanOrEqual(before!.stats!.pages);
  });

  it("a second Ctrl+C stops at once and says what was kept; the next run continues from it", async () => {
    const [before] = await snapshotRuns();
    const terminal = inTerminal(["run"]);
    await terminal.waitFor(/Snapshot: [\d,]+ users? written/);
    // Two quick keypresses: the second arrives while the first is still stopping the run.
    terminal.type("\x03");
    await new Promise((resolve) => setTimeout(resolve, 10));
    terminal.type("\x03");
    const result = await terminal.exited;
    expect(result.code, result.output.slice(-2000)).toBe(130);
    const kept = /Stopped at once\. Kept: the snapshot's checkpoint after ([\d,]+) pages? \([\d,]+ users? written\); the next run continues it/.exec(result.output);
    expect(kept, result.output.slice(-2000)).not.toBeNull();
    expect(result.output).toContain(`the next run can start once it expires (USER_SYNC_LEASE_SECONDS, ${LEASE_SECONDS} s)`);
    // What it said was kept is there: the run's checkpoint, with at least the pages it named.
    const [stopped] = await snapshotRuns();
    expect(stopped!.runId).toBe(before!.runId);
    expect(["running", "paused"]).toContain(stopped!.status);
    expect(stopped!.checkpoint).toBeDefined();
    expect(stopped!.stats!.pages).toBeGreaterThanOrEqual(Number(kept![1]!.replace(/,/g, "")));

    // Once the lease the stopped process may have held expires, the next run continues the same snapshot.
    await new Promise((resolve) => setTimeout(resolve, (LEASE_SECONDS + 1) * 1000));
    const resumed = await runCli(["run", "--no-progress"], env());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`Resuming run ${before!.runId} from its checkpoint`);
    expect(resumed.stdout).toMatch(new RegExp(`^User sync succeeded: 6,000 users in 7 pages.*snapshot ${before!.runId} is now the latest`));
  });

  it("a terminal without a size (0 columns) gets plain progress lines, never a spinner, and the run ends", async () => {
    // Enough changes for a second snapshot whose diff overflows a pipe's buffer (see the pipe tests).
    for (let i = 0; i < 2_000; i++) world.tenant.changes.changeUser(i, { jobTitle: `Title ${i}` });
    const terminal = inTerminal(["run", "--full"], { columns: 0 });
    const result = await terminal.exited;
    expect(result.output.startsWith("0 0")).toBe(true);
    expect(result.code, result.output.slice(-2000)).toBe(0);
    expect(result.output).not.toMatch(SPINNER_FRAME);
    expect(result.output).toMatch(/^Snapshot: [\d,]+ users? written/m);
    expect(result.output).toContain("User sync succeeded: 6,000 users in 7 pages");
    expect(result.output.length).toBeLessThan(20_000);
  });

  it("TERM=dumb gets plain progress lines too", async () => {
    const terminal = inTerminal(["run"], { env: { TERM: "dumb" } });
    const result = await terminal.exited;
    expect(result.code, result.output.slice(-2000)).toBe(0);
    expect(result.output).not.toMatch(SPINNER_FRAME);
    expect(result.output).not.toContain("\x1b[?25l"); // no hidden cursor
    expect(result.output).toMatch(/^Mirror \(incremental round\): [\d,]+ items? in [\d,]+ pages?/m);
    expect(result.output).toMatch(/^Mirror updated incrementally:/m);
  });
});

describe("the command line at the end of a pipe that closes early", () => {
  const cases: Array<[string, string[]]> = [
    ["export --latest", ["export", "--latest"]],
    ["export --latest --format csv", ["export", "--latest", "--format", "csv"]],
    ["export --current", ["export", "--current"]],
    ["runs --json", ["runs", "--json"]],
    ["diff --format jsonl", ["diff", "--format", "jsonl"]],
  ];
  it.each(cases)("%s ends quietly with exit 0 after its reader stops", async (_label, args) => {
    const { child, exited } = startCli(args, env());
    // Like `| head -1`: read the first line, then close the pipe.
    let seen = "";
    await new Promise<void>((resolve) => {
      const onData = (chunk: string) => {
        seen += chunk;
        if (!seen.includes("\n")) return;
        child.stdout!.off("data", onData);
        child.stdout!.destroy();
        resolve();
      };
      child.stdout!.on("data", onData);
      child.once("close", () => resolve());
    });
    const result = await exited;
    expect(seen.split("\n")[0]!.length).toBeGreaterThan(0);
    expect(result.stderr).not.toMatch(/EPIPE|failed/);
    expect(result.code).toBe(0);
  });

  it("a non-terminal gets no progress display at all", async () => {
    const result = await runCli(["run"], env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(SPINNER_FRAME);
    expect(result.stderr).not.toMatch(/^Mirror \(incremental round\):/m);
  });
});
