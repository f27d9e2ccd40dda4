/**
 * Runs a command to its end and hands back its exit code, stdout and stderr, whatever the code (a
 * usage error's exit 2 is a result to check, not a failure of the test's own plumbing).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

const run = promisify(execFile);

/** `command args…` with only PATH and HOME from this process's environment unless `env` is given. */
export async function runToExit(command: string, args: readonly string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME }): Promise<ChildResult> {
  try {
    const { stdout, stderr } = await run(command, [...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as ChildResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
