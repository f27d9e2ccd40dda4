/**
 * `npm run sandbox` as a person uses it: started in a terminal, its settings file sourced in another
 * shell, every command run against it, directory changes typed at its prompt, Ctrl+C to stop it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runToExit, type ChildResult } from "../support/childRun.js";
import { expectNoSecrets } from "../support/syncEnvironment.js";
import { startInTerminal, type TerminalSession } from "../support/terminal.js";

const SANDBOX = join(import.meta.dirname, "..", "..", "dist", "tools", "sandbox.js");
const run = promisify(execFile);
let directory: string;
let envFile: string;
let sandbox: TerminalSession;

/** A new bash that sources the settings file and runs `entra-user-sync <args>`, as in the README. */
function cli(...args: string[]): Promise<ChildResult> {
  return runToExit("bash", ["-c", 'source "$1" && shift && entra-user-sync "$@"', "bash", envFile, ...args]);
}

/** Types a command at the sandbox's prompt and waits for the next prompt. */
async function typeAtPrompt(command: string): Promise<string> {
  const before = sandbox.output().length;
  sandbox.type(`${command}\r`);
  const shown = () => sandbox.output().slice(before);
  await sandbox.waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*\\n[\\s\\S]*sandbox> `));
  return shown();
}

beforeAll(() => {
  if (!existsSync(SANDBOX)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
  directory = mkdtempSync(join(tmpdir(), "sandbox-test-"));
  envFile = join(directory, "env.sh");
});
afterAll(() => {
  sandbox?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("npm run sandbox", () => {
  it("rejects a bad option with its usage (exit 2)", async () => {
    const result = await run(process.execPath, [SANDBOX, "--users", "many"]).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toContain('--users must be a whole number from 1 to 1,000,000, not "many"');
    expect((result as { stderr: string }).stderr).toContain("Usage: npm run sandbox");
  });

  it("starts, writes its settings, and every command works against it; typed changes show in run, export --changes and diff", async () => {
    sandbox = startInTerminal([process.execPath, SANDBOX, "--users", "400", "--settings-file", envFile], { env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm-256color" } });
    await sandbox.waitFor(/sandbox> /, 60_000);
    expect(sandbox.output()).toContain(`source ${envFile}`);
    expect(readFileSync(envFile, "utf8")).toMatch(/^export SNAPSHOT_STORAGE='/m);
    // The screen names the settings but never shows the storage key.
    expectNoSecrets(sandbox.output());

    const first = await cli("run", "--no-progress");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^User sync succeeded: 400 users in 1 page,/);

    const changes = await typeAtPrompt("changes");
    expect(changes.match(/^(added|updated|renamed|deleted) /gm)).toHaveLength(7);
    const incremental = await cli("run", "--no-progress");
    expect(incremental.code, incremental.stderr).toBe(0);
    expect(incremental.stdout).toMatch(/^Mirror updated incrementally: 2 added, 3 updated, 0 restored, 2 removed .* in 1 page,/);

    const more = await typeAtPrompt("changes");
    expect(more).toMatch(/^restored /m);
    const again = await cli("run", "--no-progress");
    expect(again.stdout).toMatch(/^Mirror updated incrementally: 2 added, 3 updated, 1 restored, 2 removed/);
    const runId = /\(run (\S+)\)\.\n?$/.exec(again.stdout.trim())?.[1];
    expect(runId).toBeDefined();

    const changeSet = await cli("export", "--changes", runId!);
    expect(changeSet.code, changeSet.stderr).toBe(0);
    expect(changeSet.stdout.trim().split("\n")).toHaveLength(8);

    const full = await cli("run", "--full", "--no-progress");
    expect(full.code, full.stderr).toBe(0);
    const diff = await cli("diff");
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/: 4 added, 3 removed, 6 changed\./);
    expect((await cli("runs")).stdout).toMatch(/^RUN\s+MODE\s+STATUS/);
    expect((await cli("export", "--current")).stdout.trim().split("\n")).toHaveLength(400 + 4 - 3);
    expect((await cli("--version")).stdout).toMatch(/^\d+\.\d+\.\d+ \(Node\.js 22\./);
  });

  it("Ctrl+C stops it: its listeners close, Azurite exits, and its settings file is removed", async () => {
    const settings = readFileSync(envFile, "utf8");
    const graph = /^export GRAPH_ENDPOINT='([^']+)'/m.exec(settings)![1]!;
    const tablePort = /TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(settings)![1]!;
    sandbox.type("\x03");
    const result = await sandbox.exited;
    expect(result.code).toBe(0);
    expect(result.output).toContain("Stopped;");
    expect(existsSync(envFile)).toBe(false);
    await expect(fetch(`${graph}/v1.0/users`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    const { stdout } = await run("ps", ["-eo", "args"]);
    expect(stdout.split("\n").filter((line) => line.includes(`--tablePort ${tablePort}`))).toEqual([]);
  });
});
