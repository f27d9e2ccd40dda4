/**
 * What the demos (tools/demo.ts, tools/demoTenants.ts) share: the compiled command line as a child
 * process, and the headings and notes they print.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled CLI (dist/src/cli/main.js, next to dist/tools). */
export const cli = join(here, "..", "src", "cli", "main.js");

/** Runs `entra-user-sync <args>`; its stderr goes to the terminal, its stdout too unless captured. */
export function cliRun(args: string[], env: NodeJS.ProcessEnv, options: { captureStdout?: boolean } = {}): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", options.captureStdout ? "pipe" : "inherit", "inherit"] });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

export const heading = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
export const note = (text: string) => console.log(`\x1b[2m${text}\x1b[0m`);
export const count = (n: number) => n.toLocaleString("en-US");
