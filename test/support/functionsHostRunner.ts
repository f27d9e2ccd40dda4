/**
 * Starts test/support/functionsHostProcess.ts (the Functions host's Node worker, played in a process
 * of its own) on the project's Node 22 against a package folder, and reads back what it saw.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostProcessPlan, HostProcessResult } from "./functionsHostProcess.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** The project's Node (the `node` dev dependency npm scripts run), the runtime the Bicep deploys. */
export const PROJECT_NODE = join(ROOT, "node_modules", "node", "bin", "node");
const HOST_PROCESS = join(import.meta.dirname, "functionsHostProcess.ts");

export interface FunctionsHostRun {
  code: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
  /** What the host process saw; undefined when it failed before the end. */
  result?: HostProcessResult;
}

export interface RunFunctionsHostOptions {
  /** The package folder (its cwd). */
  folder: string;
  /** Exactly the process's environment. */
  env: NodeJS.ProcessEnv;
  steps: HostProcessPlan["steps"];
  mustNotResolve?: string[];
  /** Default 240 s. */
  timeoutInMs?: number;
}

export async function runFunctionsHost(options: RunFunctionsHostOptions): Promise<FunctionsHostRun> {
  const dir = mkdtempSync(join(tmpdir(), "functions-host-"));
  const plan: HostProcessPlan = { folder: options.folder, steps: options.steps, resultFile: join(dir, "result.json"), mustNotResolve: options.mustNotResolve ?? [] };
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
  const child = spawn(PROJECT_NODE, [HOST_PROCESS, join(dir, "plan.json")], { cwd: options.folder, env: options.env, stdio: ["ignore", "pipe", "pipe"], timeout: options.timeoutInMs ?? 240_000 });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.on("error", reject).on("close", resolve));
  const result = existsSync(plan.resultFile) ? (JSON.parse(readFileSync(plan.resultFile, "utf8")) as HostProcessResult) : undefined;
  rmSync(dir, { recursive: true, force: true });
  return { code, output, ...(result ? { result } : {}) };
}
