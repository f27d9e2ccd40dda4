/**
 * Exit codes: 0 success (also when the reader of stdout closed it early), 1 the run or command
 * failed, 2 bad usage or configuration, 3 another run holds the writer lease (nothing was read or
 * written), 4 the run stopped at a checkpoint (maximum run duration, or Ctrl+C): run again to
 * continue it; 130 a second Ctrl+C stopped the run at once (see interrupt.ts).
 */
export { EXIT_CONFIGURATION, EXIT_FAILURE, EXIT_RUN_IN_PROGRESS } from "../shared/errorOutcomes.js";
export const EXIT_PAUSED = 4;

/** Thrown by a command to end with a given exit code after it has printed its message. */
export class ExitCode extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
