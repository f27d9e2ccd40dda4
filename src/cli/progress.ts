/**
 * The run's progress display on stderr: an ora spinner on a real terminal; plain lines, at most one
 * every few seconds, on a terminal that cannot redraw a line (TERM=dumb, no known width); nothing
 * on a pipe or a file (logs stay clean) or with --no-progress.
 *
 * The spinner leaves stdin alone (`discardStdin: false`): ora's default puts the terminal in raw
 * mode, where Ctrl+C is a keystroke instead of SIGINT, and the run could not be stopped.
 */
import ora, { type Ora } from "ora";
import type { Logger } from "../shared/logger.js";
import { visibleLine, visibleText } from "../shared/safeText.js";
import { truncate, writeError } from "./output.js";

export type ProgressMode = "spinner" | "lines" | "none";

/** Below this width a spinner line wraps on every update; plain lines read better. */
const MIN_SPINNER_COLUMNS = 20;
const LINE_INTERVAL_IN_MS = 5_000;

export function progressModeFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv, wanted: boolean): ProgressMode {
  if (!wanted || stream.isTTY !== true) return "none";
  if (env.TERM === "dumb" || !(stream.columns !== undefined && stream.columns >= MIN_SPINNER_COLUMNS)) return "lines";
  return "spinner";
}

export interface ProgressDisplay {
  /** Where the run's log lines go (above the spinner, when there is one). */
  logger: Logger;
  /** The current activity; shown at once by a spinner, at most every few seconds as a plain line. */
  update(text: string): void;
  succeed(text: string): void;
  info(text: string): void;
  fail(text: string): void;
  /** Removes the spinner (if any) so that other output is not drawn over. */
  stop(): void;
}

const plainLogger: Logger = {
  info: (m) => writeError(`${m}\n`),
  warn: (m) => writeError(`warning: ${m}\n`),
  error: (m) => writeError(`error: ${m}\n`),
};

export function createProgressDisplay(mode: ProgressMode, firstText: string, stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (mode === "spinner") return spinnerDisplay(firstText, stream);
  let lastLineAt = 0;
  const line = (text: string) => stream.write(`${visibleText(text)}\n`);
  return {
    logger: plainLogger,
    update(text) {
      if (mode !== "lines") return;
      const now = Date.now();
      if (now - lastLineAt < LINE_INTERVAL_IN_MS) return;
      lastLineAt = now;
      line(text);
    },
    succeed: (text) => mode !== "none" && line(text),
    info: (text) => mode !== "none" && line(text),
    fail: (text) => mode !== "none" && line(text),
    stop() {},
  };
}

function spinnerDisplay(firstText: string, stream: NodeJS.WriteStream): ProgressDisplay {
  const fit = (text: string) => truncate(visibleLine(text), Math.max(1, (stream.columns ?? 80) - 3));
  let spinner: Ora | undefined = ora({ stream, text: fit(firstText), discardStdin: false, isEnabled: true }).start();
  let fallback: ProgressDisplay | undefined;
  // A terminal resized to a width a spinner cannot use: stop spinning, print plain lines instead.
  const onResize = () => {
    if (spinner && !(stream.columns !== undefined && stream.columns >= MIN_SPINNER_COLUMNS)) {
      spinner.stop();
      spinner = undefined;
      fallback = createProgressDisplay("lines", "", stream);
    }
  };
  stream.on("resize", onResize);
  const done = () => stream.off("resize", onResize);
  return {
    logger: {
      info: (m) => (spinner ? spinner.info(visibleText(m)).start() : fallback!.logger.info(m)),
      warn: (m) => (spinner ? spinner.warn(visibleText(m)).start() : fallback!.logger.warn(m)),
      error: (m) => (spinner ? spinner.fail(visibleText(m)).start() : fallback!.logger.error(m)),
    },
    update(text) {
      if (spinner) spinner.text = fit(text);
      else fallback!.update(text);
    },
    succeed(text) {
      done();
      if (spinner) spinner.succeed(visibleText(text));
      else fallback!.succeed(text);
    },
    info(text) {
      done();
      if (spinner) spinner.info(visibleText(text));
      else fallback!.info(text);
    },
    fail(text) {
      done();
      if (spinner) spinner.fail(visibleText(text));
      else fallback!.fail(text);
    },
    stop() {
      done();
      spinner?.stop();
    },
  };
}
