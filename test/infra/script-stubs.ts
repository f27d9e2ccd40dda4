/**
 * Runs the delivery scripts (infra/scripts, the pipeline's inline scripts, the azd hooks) against
 * stub `az` and `azd` commands on the PATH, which record every call and answer like the real CLIs
 * (the parts the scripts read). No Azure, no network.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

/** Stub `az` and `azd` (bash scripts beside this file). */
const STUBS = join(import.meta.dirname, "stubs");

export interface Sandbox {
  dir: string;
  log: string;
  env: NodeJS.ProcessEnv;
  calls(): string[];
}

/** A temporary folder with stub `az` and `azd` first on the PATH. */
export function sandbox(env: Record<string, string> = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "delivery-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const name of ["az", "azd"]) {
    copyFileSync(join(STUBS, name), join(bin, name));
    chmodSync(join(bin, name), 0o755);
  }
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  return {
    dir,
    log,
    env: { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, HOME: process.env.HOME ?? dir, STUB_LOG: log, ...env },
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutInMs?: number }): Run {
  const result = spawnSync(command, args, { cwd: options.cwd ?? ROOT, env: options.env, encoding: "utf8", timeout: options.timeoutInMs ?? 60_000 });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * PowerShell 7 for the Windows variant of the azd hook: from the PATH, else the .NET global tool
 * restored from NuGet into the project's cache (the ordinary .NET client, once per machine).
 */
export function powershell(): string {
  const onPath = spawnSync("pwsh", ["-NoProfile", "-Command", "$PSVersionTable.PSVersion.Major"], { encoding: "utf8" });
  if (!onPath.error && onPath.status === 0) return "pwsh";
  const toolPath = join(homedir(), ".cache", "entra-user-sync", "pwsh");
  const binary = join(toolPath, "pwsh");
  if (!existsSync(binary)) {
    const install = spawnSync("dotnet", ["tool", "install", "PowerShell", "--version", "7.6.9", "--tool-path", toolPath], { encoding: "utf8", timeout: 300_000 });
    if (install.error || install.status !== 0) {
      throw new Error(`PowerShell 7 is needed to test the Windows azd hook: install it (dotnet tool install --global PowerShell) or put pwsh on the PATH.\n${install.stderr ?? install.error?.message}`);
    }
  }
  return binary;
}
