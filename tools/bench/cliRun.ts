/**
 * Runs the compiled CLI as a child process for the benchmarks (tenantsBench.ts, fleetBench.ts);
 * with `measure`, samples its peak RSS (VmHWM) and CPU time from /proc every 100 ms (one small
 * read each) and loads the heap sampler (heapSampler.ts) into it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { StringDecoder } from "node:string_decoder";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HeapReport } from "./heapSampler.js";
import { cpuTimeInMs } from "./processCpu.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled CLI (dist/src/cli/main.js). */
export const CLI = join(here, "..", "..", "src", "cli", "main.js");
/** The compiled heap sampler next to the compiled CLI (dist/tools/bench/heapSampler.js). */
const heapSamplerOf = (cli: string) => pathToFileURL(join(dirname(cli), "..", "..", "tools", "bench", "heapSampler.js")).href;

export interface ChildRun {
  code: number;
  peakRssKb: number;
  cpuSeconds: number;
  heap: HeapReport | undefined;
  /** The last 4,000 characters of its stderr. */
  stderr: string;
  /** Its stdout (the command's summary), when `keepStdout` was set. */
  stdout: string;
  /** Bytes and lines it wrote to stdout, when `countStdout` was set (the output itself is dropped). */
  stdoutBytes: number;
  stdoutLines: number;
}

/** CPU seconds a process has used (processCpu.ts); 0 where there is none. */
export function cpuSecondsOf(pid: number | undefined): number {
  return (cpuTimeInMs(pid) ?? 0) / 1000;
}

export interface RunCliOptions {
  /** Sample peak RSS and CPU time, and load the heap sampler. */
  measure?: boolean;
  /** Keep the child's stdout (the command's summary). */
  keepStdout?: boolean;
  /** Count the bytes and lines of the child's stdout without keeping it (an export's output). */
  countStdout?: boolean;
  /** Extra Node options before the CLI (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The compiled CLI to run (default CLI). */
  cli?: string;
  /** Called with each line the child writes to stderr (its log). */
  onStderrLine?: (line: string) => void;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, options: RunCliOptions = {}): Promise<ChildRun> {
  const measure = options.measure === true;
  return new Promise((resolve, reject) => {
    const folder = measure ? mkdtempSync(join(tmpdir(), "bench-cli-")) : undefined;
    const heapFile = folder ? join(folder, "heap.json") : undefined;
    const cli = options.cli ?? CLI;
    const nodeArgs = [...(measure ? ["--import", heapSamplerOf(cli)] : []), ...(options.nodeArgs ?? [])];
    const child = spawn(process.execPath, [...nodeArgs, cli, ...args], {
      env: heapFile ? { ...env, BENCH_HEAP_REPORT: heapFile } : env,
      stdio: ["ignore", options.keepStdout || options.countStdout ? "pipe" : "ignore", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    let partial = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
      if (!options.onStderrLine) return;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) options.onStderrLine(line);
    });
    const decoder = new StringDecoder("utf8");
    let stdoutBytes = 0;
    let stdoutLines = 0;
    child.stdout?.on("data", (chunk: Buffer) => {
      if (options.keepStdout) stdout += decoder.write(chunk);
      stdoutBytes += chunk.length;
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) stdoutLines += 1;
    });
    let peakRssKb = 0;
    let cpuSeconds = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peakRssKb = Math.max(peakRssKb, Number(hwm[1]));
        cpuSeconds = Math.max(cpuSeconds, cpuSecondsOf(child.pid));
      } catch {
        // gone, or not Linux
      }
    };
    const timer = measure ? setInterval(sample, 100) : undefined;
    child.on("error", reject);
    child.on("exit", () => {
      if (timer) clearInterval(timer);
    });
    child.on("close", (code) => {
      if (partial && options.onStderrLine) options.onStderrLine(partial);
      let heap: HeapReport | undefined;
      if (heapFile) {
        try {
          heap = JSON.parse(readFileSync(heapFile, "utf8")) as HeapReport;
        } catch {
          heap = undefined;
        }
        rmSync(folder!, { recursive: true, force: true });
      }
      resolve({ code: code ?? 1, peakRssKb, cpuSeconds, heap, stderr, stdout, stdoutBytes, stdoutLines });
    });
  });
}
