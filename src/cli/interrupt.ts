/**
 * Ctrl+C (SIGINT) and SIGTERM during a run: the first asks the run to stop at its next checkpoint
 * (an abort signal); the second stops the process at once, after saying what was kept.
 */
import { EXIT_INTERRUPTED } from "../shared/exitCodes.js";

export interface InterruptOptions {
  /** The first signal: the run was asked to stop at its next checkpoint. */
  onFirst(signal: NodeJS.Signals): void;
  /** The second signal: say what was kept; the process exits with EXIT_INTERRUPTED right after. */
  onSecond(signal: NodeJS.Signals): void;
}

export interface InterruptHandling {
  /** Aborted by the first signal. */
  signal: AbortSignal;
  /** Restores Node's default handling (call when the run is over). */
  dispose(): void;
}

export function handleInterrupts(options: InterruptOptions): InterruptHandling {
  const controller = new AbortController();
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      controller.abort();
      options.onFirst(signal);
      return;
    }
    try {
      options.onSecond(signal);
    } finally {
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
