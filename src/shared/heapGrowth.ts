/**
 * How far V8 lets the heap grow past what the last full collection left live, set once by each entry
 * point that runs a sync (the command line, the Functions app). Left to itself, V8 lets a process
 * that allocates as fast as a groups round grow its heap to about four times what is live before it
 * collects: 508 MiB of heap for 126 MiB live at 100,000 users, 10,000 groups and 1,000,000 edges,
 * which put the sync's peak RSS at 682 MiB. Growing by half of what is live instead keeps the heap
 * near what the run holds, for more (shorter) full collections: docs/performance.md ("The groups
 * round") has the measured cost, docs/decisions.md the choice.
 *
 * A `--heap-growing-percent` given to Node itself (its command line, or the Functions host's
 * `languageWorkers__node__arguments`) is left as given.
 */
import { setFlagsFromString } from "node:v8";

/** The heap may grow to (1 + HEAP_GROWING_PERCENT / 100) times what the last full collection left. */
export const HEAP_GROWING_PERCENT = 50;

export interface LimitHeapGrowthOptions {
  /** Node's own options (default `process.execArgv`): a `--heap-growing-percent` there wins. */
  execArgv?: readonly string[];
  /** Sets a V8 flag (default `v8.setFlagsFromString`). */
  setFlags?: (flags: string) => void;
}

/** Sets V8's heap growth to HEAP_GROWING_PERCENT unless Node was given one. Returns whether it did. */
export function limitHeapGrowth(options: LimitHeapGrowthOptions = {}): boolean {
  const execArgv = options.execArgv ?? process.execArgv;
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  (options.setFlags ?? setFlagsFromString)(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
