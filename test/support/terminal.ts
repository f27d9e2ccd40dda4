/**
 * Runs a command in a pseudo-terminal, as a person at a terminal does, with util-linux `script`
 * (always installed on Debian): the command's stdin, stdout and stderr are the terminal; keys are
 * typed into it (Ctrl+C is "\x03", which the terminal turns into SIGINT for the foreground process).
 * `columns: 0` leaves the terminal without a size, as `script` does when it has no real terminal.
 */
import { spawn } from "node:child_process";

export interface TerminalResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything the terminal showed (stdout and stderr, with the terminal's escape sequences). */
  output: string;
}

export interface TerminalSession {
  /** Types into the terminal. */
  type(keys: string): void;
  /** Everything shown so far. */
  output(): string;
  /** Resolves when the output matches; rejects after `timeoutInMs` (or when the command ends first). */
  waitFor(pattern: RegExp, timeoutInMs?: number): Promise<void>;
  exited: Promise<TerminalResult>;
  /** Ends the terminal (its command gets SIGHUP); for cleanup after a failed test. */
  close(): void;
}

export interface TerminalOptions {
  env: NodeJS.ProcessEnv;
  /** Terminal width; 0 leaves the size unset (0 columns, 0 rows). Default 120. */
  columns?: number;
  rows?: number;
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Starts `command` (argv) in a new pseudo-terminal. The first output line is the terminal's size ("rows columns"). */
export function startInTerminal(command: readonly string[], options: TerminalOptions): TerminalSession {
  const columns = options.columns ?? 120;
  const rows = options.rows ?? 40;
  const size = columns > 0 ? `stty cols ${columns} rows ${rows}; ` : "";
  const shell = `${size}stty size; exec ${command.map(quote).join(" ")}`;
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", shell, "/dev/null"], { env: options.env, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: string) => {
    output += chunk;
    for (const check of waiters) check();
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  let ended = false;
  const exited = new Promise<TerminalResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      ended = true;
      for (const check of waiters) check();
      resolve({ code, signal, output });
    });
  });
  return {
    type(keys) {
      child.stdin.write(keys);
    },
    output: () => output,
    waitFor(pattern, timeoutInMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutInMs} ms waiting for ${pattern}; the terminal showed:\n${output.slice(-3000)}`)), timeoutInMs);
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (pattern.test(output)) finish();
          else if (ended) finish(new Error(`the command ended before showing ${pattern}; the terminal showed:\n${output.slice(-3000)}`));
        };
        waiters.add(check);
        check();
      });
    },
    exited,
    close() {
      if (!ended) child.kill("SIGKILL");
    },
  };
}

/** The braille frames of the progress spinner (ora's "dots"). */
export const SPINNER_FRAME = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
