/**
 * What a mirror run records about itself as it goes, for every kind of round (an incremental or
 * full round read from /users/delta: mirrorSync.ts; a full round in one pass with a snapshot run:
 * src/sync/onePassRound.ts): the users it could not store (the first ones listed in the run record,
 * all counted in `counters.skippedUsers`, the first ten logged) and its table counters (requests,
 * transactions, entities written and read since the run started).
 */
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { MAX_MIRROR_SKIPPED_RECORDED, type MirrorRunRecord, type MirrorSkippedUser } from "./mirrorRecords.js";
import type { MirrorTableStats } from "./mirrorTables.js";

/** Skipped users logged one by one per run; the rest are listed (the first ones) and counted. */
const MAX_SKIPPED_LOGGED = 10;
const NO_TABLE_STATS: MirrorTableStats = { requests: 0, transactions: 0, entitiesWritten: 0, entitiesRead: 0 };

export class MirrorRunCounters {
  readonly #mirror: { readonly stats: MirrorTableStats };
  readonly #logger: Logger;
  #tablesBefore: MirrorTableStats | undefined;
  #skippedLogged = 0;

  constructor(mirror: { readonly stats: MirrorTableStats }, logger: Logger) {
    this.#mirror = mirror;
    this.#logger = logger;
  }

  /** Counts table work from now on; `carried`: the counters of a run record this run continues (its table work so far). */
  startTables(carried?: Readonly<Record<string, number>>): void {
    const now = this.#mirror.stats;
    this.#tablesBefore = {
      requests: now.requests - (carried?.tableRequests ?? 0),
      transactions: now.transactions - (carried?.tableTransactions ?? 0),
      entitiesWritten: now.entitiesWritten - (carried?.tableEntitiesWritten ?? 0),
      entitiesRead: now.entitiesRead - (carried?.tableEntitiesRead ?? 0),
    };
  }

  /** The run's table counters, as of now (in `run.counters`). */
  countTables(run: MirrorRunRecord): void {
    const stats = this.#mirror.stats;
    const before = this.#tablesBefore ?? NO_TABLE_STATS;
    run.counters.tableRequests = stats.requests - before.requests;
    run.counters.tableTransactions = stats.transactions - before.transactions;
    run.counters.tableEntitiesWritten = stats.entitiesWritten - before.entitiesWritten;
    run.counters.tableEntitiesRead = stats.entitiesRead - before.entitiesRead;
  }

  /** Users the mirror could not store: counted, the first ones listed in the run record, the first ten logged. */
  recordSkipped(run: MirrorRunRecord, skipped: readonly MirrorSkippedUser[]): void {
    if (skipped.length === 0) return;
    run.counters.skippedUsers = (run.counters.skippedUsers ?? 0) + skipped.length;
    run.skipped ??= [];
    for (const user of skipped) {
      if (run.skipped.length < MAX_MIRROR_SKIPPED_RECORDED) run.skipped.push({ id: user.id.slice(0, 200), reason: redact(user.reason).slice(0, 400) });
      if (this.#skippedLogged++ < MAX_SKIPPED_LOGGED) this.#logger.warn(`The mirror skipped a user that cannot be stored: ${redact(user.reason)}`);
    }
  }
}
