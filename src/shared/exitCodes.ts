/**
 * Every exit code of the command line, in one place: 0 success (also when the reader of stdout
 * closed it early), 1 the run or command failed, 2 bad usage or configuration (also an unsupported
 * Node.js), 3 another run holds the writer lease (nothing was read or written), 4 the run stopped at
 * a checkpoint (maximum run duration, or Ctrl+C): run again to continue it; 130 a second Ctrl+C
 * stopped the run at once (src/cli/interrupt.ts). Which error ends with which code: errorOutcomes.ts.
 */
export const EXIT_SUCCESS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIGURATION = 2;
export const EXIT_RUN_IN_PROGRESS = 3;
export const EXIT_PAUSED = 4;
/** The exit code of a process stopped by a second Ctrl+C, as shells report it (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Thrown by a command to end with a given exit code after it has printed its message. */
export class ExitCode extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
