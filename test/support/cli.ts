/**
 * The compiled command line (`dist/src/cli/main.js`) in its own process, as an operator runs it.
 * `npm test` builds before running the tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Fails early, with the fix, when dist/ was not built. */
export function assertCliBuilt(): void {
  if (!existsSync(CLI)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
}

/** Starts the CLI with exactly `env` (nothing else is inherited); `exited` settles once its output is read. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/** Runs the CLI to the end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).exited;
}
