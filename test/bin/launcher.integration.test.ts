/**
 * `npx entra-user-sync` in a fresh clone, as the README tells a newcomer, with the machine's own
 * `node` first on the PATH (the project's node_modules/.bin removed from it, as in a shell) and an
 * empty npx cache: straight after `npm install`, before any build, and again after. npx links the
 * command when it first runs it; the committed launcher (bin/entra-user-sync.js) makes sure that
 * the link has a target from the first minute, and builds dist/ when it is missing or stale.
 * The clone is a copy of the sources with this checkout's node_modules linked in (npm install
 * would fetch the project's Node again).
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe("npx entra-user-sync in a fresh clone", () => {
  let clone: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    clone = mkdtempSync(join(tmpdir(), "entra-user-sync-clone-"));
    for (const entry of ["package.json", "package-lock.json", "tsconfig.json", "bin", "src", "tools"]) {
      cpSync(join(root, entry), join(clone, entry), { recursive: true });
    }
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"), "dir");
    // A shell's PATH: the machine's node and npx first, not the project's node_modules/.bin that npm scripts add.
    const path = (process.env.PATH ?? "").split(delimiter).filter((entry) => !entry.includes(join("node_modules", ".bin")));
    env = { PATH: path.join(delimiter), HOME: clone, npm_config_cache: join(clone, ".npm-cache"), npm_config_update_notifier: "false" };
  });

  afterAll(() => {
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  async function npx(...args: string[]): Promise<Result> {
    try {
      const { stdout, stderr } = await run("npx", ["--offline", "entra-user-sync", ...args], { cwd: clone, env, timeout: 180_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failure = error as { code: number; stdout: string; stderr: string };
      return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
    }
  }

  it("works before any build: the launcher builds dist/ first, on the project's Node, and stdout is the command's own", async () => {
    expect(existsSync(join(clone, "dist"))).toBe(false);
    const first = await npx("--version");
    expect(first.stderr).toContain("the command line is not built yet (dist/ is missing); building it first");
    expect(first).toMatchObject({ code: 0, stdout: `0.1.0 (Node.js ${process.versions.node})\n` });
    expect(existsSync(join(clone, "dist", "src", "cli", "main.js"))).toBe(true);
  });

  it("works again from npx's cache, without building, and after a build", async () => {
    const second = await npx("--version");
    expect(second).toMatchObject({ code: 0, stdout: `0.1.0 (Node.js ${process.versions.node})\n` });
    expect(second.stderr).not.toContain("building");
    const built = await run("npm", ["run", "build"], { cwd: clone, env });
    expect(built.stderr).not.toContain("error");
    const third = await npx("--version");
    expect(third).toMatchObject({ code: 0, stdout: `0.1.0 (Node.js ${process.versions.node})\n` });
    expect(third.stderr).not.toContain("building");
  });

  it("rebuilds when a source is newer than the build, and says so", async () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(clone, "src", "cli", "program.ts"), later, later);
    const stale = await npx("--version");
    expect(stale.stderr).toContain("the sources changed since the last build; building it first");
    expect(stale).toMatchObject({ code: 0, stdout: `0.1.0 (Node.js ${process.versions.node})\n` });
  });
});
