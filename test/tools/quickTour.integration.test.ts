/**
 * The README's quick tour, as a newcomer follows it: the commands are read from the README itself
 * (its "Quick tour: the sandbox" section), so that the README cannot drift from the product. The
 * sandbox runs in one pseudo-terminal; the commands are typed, in the README's order, into an
 * interactive bash in a second one (Ctrl+C included), and each step's output and exit code are
 * checked. Paths under .sandbox/ go to a temporary folder instead, so that the test leaves the
 * clone alone.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInTerminal, type TerminalSession } from "../support/terminal.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SANDBOX = join(ROOT, "dist", "tools", "sandbox.js");
let directory: string;
let sandbox: TerminalSession | undefined;
let shell: TerminalSession | undefined;

/** The commands of the README's quick tour: every line of its bash blocks, without the comments. */
function tourCommands(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = /### Quick tour: the sandbox\n([\s\S]*?)\n## /.exec(readme)?.[1];
  expect(section, "README.md has no 'Quick tour: the sandbox' section").toBeDefined();
  const blocks = [...section!.matchAll(/```bash\n([\s\S]*?)```/g)].map((match) => match[1]!);
  expect(blocks).toHaveLength(2);
  return blocks.flatMap((block) =>
    block
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter((line) => line !== ""),
  );
}

/** Types a command into the shell and waits for its end; returns what it showed and its exit code. */
async function type(command: string, options: { interruptWhen?: RegExp } = {}): Promise<{ output: string; code: number }> {
  const before = shell!.output().length;
  const marker = `@@${Math.random().toString(36).slice(2, 8)}`;
  shell!.type(`${command}; echo "${marker}=$?"\r`);
  if (options.interruptWhen) {
    await shell!.waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*${options.interruptWhen.source}`), 120_000);
    shell!.type("\x03");
  }
  const done = new RegExp(`${marker}=(\\d+)`);
  await shell!.waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*${done.source}`), 180_000);
  const output = shell!.output().slice(before);
  return { output, code: Number(done.exec(output.slice(output.indexOf("\n")))![1]) };
}

beforeAll(() => {
  if (!existsSync(SANDBOX)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
  directory = mkdtempSync(join(tmpdir(), "quick-tour-"));
});
afterAll(() => {
  shell?.close();
  sandbox?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("the README's quick tour", () => {
  it("every command works as written, in order, with the output and exit code the README promises", async () => {
    const commands = tourCommands().map((command) => command.replaceAll(".sandbox/", `${directory}/`));
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm-256color" };
    // The README's tip for time to press Ctrl+C: a slower tenant. Ctrl+C is pressed once the first
    // page is in (below); a page of a second leaves the keypress about three seconds to arrive
    // before the last page, on a loaded machine too (at 400 ms it once came after the last page).
    sandbox = startInTerminal([process.execPath, SANDBOX, "--users", "3000", "--graph-latency", "1000", "--settings-file", join(directory, "env.sh")], { env });
    await sandbox.waitFor(/sandbox> /, 120_000);
    shell = startInTerminal(["bash", "--norc", "--noprofile", "-i"], { env: { ...env, PS1: "tour$ " }, columns: 160 });
    await shell.waitFor(/tour\$ /);

    const steps = [...commands];
    const next = (expected: string): string => {
      const command = steps.shift();
      expect(command, `the README's tour ends before "${expected}"`).toBeDefined();
      expect(command!.startsWith(expected), `the README's next step is "${command}", the test expects "${expected}"`).toBe(true);
      return command!;
    };

    expect(await type(next(`source ${directory}/env.sh`))).toMatchObject({ code: 0 });
    const first = await type(next("entra-user-sync run"));
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/User sync succeeded: 3,000 users/);
    const runs = await type(next("entra-user-sync runs"));
    expect(runs.code, runs.output).toBe(0);
    expect(runs.output).toMatch(/RUN\s+MODE\s+STATUS/);
    const head = await type(next("entra-user-sync export --current | head -3"));
    expect(head.code, head.output).toBe(0);
    expect(head.output.match(/^\{"id":"[0-9a-f-]{36}"/gm)).toHaveLength(3);

    // "Then type `changes` at the sandbox's prompt (in the first terminal)".
    const before = sandbox.output().length;
    sandbox.type("changes\r");
    await sandbox.waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*sandbox> `));
    expect(sandbox.output().slice(before).match(/^(added|updated|renamed|deleted) /gm)).toHaveLength(7);

    const incremental = await type(next("entra-user-sync run"));
    expect(incremental.code, incremental.output).toBe(0);
    expect(incremental.output).toMatch(/Mirror updated incrementally: 2 added, 3 updated, 0 restored, 2 removed/);
    const afterChanges = await type(next("entra-user-sync runs"));
    expect(afterChanges.code).toBe(0);
    const runId = /^(\d{8}T\d{9}Z-[0-9a-f]{6}) +incremental +succeeded/m.exec(afterChanges.output)?.[1];
    expect(runId, afterChanges.output).toBeDefined();
    const changeSet = await type(next("entra-user-sync export --changes <RUN>").replace("<RUN>", runId!));
    expect(changeSet.code, changeSet.output).toBe(0);
    expect(changeSet.output.match(/^\{"change":"(added|updated|removed)"/gm)).toHaveLength(7);
    const full = await type(next("entra-user-sync run --full"));
    expect(full.code, full.output).toBe(0);
    expect(full.output).toMatch(/User sync succeeded: 3,000 users/);
    const diff = await type(next("entra-user-sync diff"));
    expect(diff.code, diff.output).toBe(0);
    expect(diff.output).toMatch(/Compared snapshot \S+ with \S+: 2 added, 2 removed, 3 changed\./);
    // "press Ctrl+C while it runs: it stops at its checkpoint (exit 4)".
    const stopped = await type(next("entra-user-sync run --full"), { interruptWhen: /Snapshot: \d/ });
    expect(stopped.code, stopped.output).toBe(4);
    const report = await type(next("entra-user-sync report --out"));
    expect(report.code, report.output).toBe(0);
    expect(readFileSync(join(directory, "report.html"), "utf8")).toMatch(/^<!doctype html>/);
    expect(steps, "the README's tour has steps the test does not know").toEqual([]);
  });
});
