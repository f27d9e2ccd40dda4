/**
 * `runs` at a narrow terminal (a pseudo-terminal 40 columns wide): no line is wider than the
 * terminal, so nothing wraps mid-word; columns are left out and long notes cut with "…". And one
 * run id everywhere: the mirror run that `run` names in its lines is the one `runs` shows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, CLI, runCli } from "../support/cli.js";
import { startInTerminal, type TerminalSession } from "../support/terminal.js";

let world: SyncEnvironment;
let mirrorRunNamed: string;
const sessions: TerminalSession[] = [];

/** What a person sees: the terminal's output without its escape sequences and carriage returns, in lines. */
function screenLines(output: string): string[] {
  // eslint-disable-next-line no-control-regex
  return output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "").split("\n");
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 30, seed: 5 });
  const run = await runCli(["run"], world.cliEnv());
  expect(run.code, run.stderr).toBe(0);
  mirrorRunNamed = /Starting the mirror's full round \(mirror run (\S+)\)/.exec(run.stderr)?.[1] ?? "";
  world.tenant.changes.changeUser(1, { jobTitle: "A much longer job title that changes" });
  const incremental = await runCli(["run"], world.cliEnv());
  expect(incremental.code, incremental.stderr).toBe(0);
});
afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
});
afterAll(async () => world?.close());

describe("runs at a terminal", () => {
  it("the mirror run that `run` names is the id `runs` shows for that round", async () => {
    expect(mirrorRunNamed).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    const runs = await runCli(["runs", "--json"], world.cliEnv());
    const mirrorRuns = runs.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { kind: string; runId: string; mode?: string }).filter((r) => r.kind === "mirror");
    expect(mirrorRuns.find((r) => r.mode === "full")?.runId).toBe(mirrorRunNamed);
    const table = await runCli(["runs"], world.cliEnv());
    expect(table.stdout).toContain(`${mirrorRunNamed}  full`);
  });

  it.each([40, 60])("fits a %i-column terminal: no line wider, nothing wrapped mid-word, whole run ids", async (columns) => {
    const session = startInTerminal([process.execPath, CLI, "runs"], { env: world.cliEnv({ TERM: "xterm-256color" }), columns });
    sessions.push(session);
    const result = await session.exited;
    expect(result.code, result.output).toBe(0);
    const lines = screenLines(result.output).slice(1); // the first line is the terminal's size
    expect(lines.some((line) => line.startsWith("RUN"))).toBe(true);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(columns);
    const ids = lines.flatMap((line) => line.match(/\b\d{8}T\d{9}Z-[0-9a-f]{6}\b/g) ?? []);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(ids).toContain(mirrorRunNamed);
    expect(lines.join(" ")).toMatch(/runs\s+--wide/);
  });

  it("piped, the table keeps its 100 columns", async () => {
    const piped = await runCli(["runs"], world.cliEnv());
    expect(piped.stdout.split("\n")[0]).toMatch(/^RUN +MODE +STATUS +TOOK +USERS +NOTE$/);
  });
});
