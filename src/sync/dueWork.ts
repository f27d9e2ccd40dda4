/**
 * What a run does: the live mirror's round on every run (incremental, or full when due), and the
 * point-in-time snapshot on the full schedule (USER_SYNC_FULL_SCHEDULE) or whenever the mirror needs
 * a full round (which is made in the snapshot's pass). Pure: the inputs are
 * read from the store and the mirror by UserSyncService. See docs/mirror.md, "What a run does".
 */
import { CronExpressionParser } from "cron-parser";

/** Why a run writes a snapshot. */
export type SnapshotReason =
  /** `run --full`. */
  | "forced"
  /** A stopped (paused or dead) snapshot run is continued. */
  | "continuing"
  /** There is no complete snapshot yet. */
  | "firstSnapshot"
  /** The full schedule had an occurrence since the latest complete snapshot started. */
  | "scheduled"
  /**
   * The mirror needs a full round (it has no delta link yet, USER_SYNC_SELECT changed, its full
   * round is scheduled, or Graph refused its delta token): a full round is one pass over `/users`,
   * made and checkpointed by a snapshot run (docs/mirror.md, "One pass").
   */
  | "mirrorFullRound";

export interface DueWorkInput {
  /** `run --full`. */
  full: boolean;
  /** USER_SYNC_FULL_SCHEDULE (6-field NCRONTAB, UTC). */
  fullSchedule: string;
  now: Date;
  /** When the run of the latest complete snapshot started; undefined when there is none. */
  latestSnapshotStartedAt: Date | undefined;
  /** A snapshot run stopped at a checkpoint (paused) or died: the next run continues it. */
  hasUnfinishedSnapshot: boolean;
  /** When the mirror's last full round completed; undefined before the first (the mirror starts with one anyway). */
  mirrorFullRoundAt: Date | undefined;
  /** The mirror's saved state cannot give an incremental round (no delta link, or it was issued for another $select). */
  mirrorNeedsFullRound?: boolean;
}

export interface DueWork {
  /** Write a snapshot, and why; undefined: no snapshot this run. */
  snapshot: SnapshotReason | undefined;
  /** Force the mirror's round to be full, and why; undefined: the mirror decides (incremental unless its token is missing, expired or bound to another $select). */
  mirrorFull: "forced" | "scheduled" | undefined;
}

/**
 * The latest occurrence of a 6-field NCRONTAB schedule at or before `now`, in UTC (as the Functions
 * host evaluates timer schedules unless WEBSITE_TIME_ZONE is set); undefined when it has none.
 */
export function lastOccurrence(schedule: string, now: Date): Date | undefined {
  // cron-parser's prev() is strictly before its current date: 1 ms later includes `now` itself.
  const expression = CronExpressionParser.parse(schedule, { currentDate: new Date(now.getTime() + 1), tz: "UTC", strict: false });
  if (!expression.hasPrev()) return undefined;
  return expression.prev().toDate();
}

/** The first occurrence of a 6-field NCRONTAB schedule strictly after `after`, in UTC (as lastOccurrence); undefined when it has none. */
export function nextOccurrence(schedule: string, after: Date): Date | undefined {
  const expression = CronExpressionParser.parse(schedule, { currentDate: after, tz: "UTC", strict: false });
  if (!expression.hasNext()) return undefined;
  return expression.next().toDate();
}

/** Whether the schedule had an occurrence after `since` (at or before `now`). No `since`: true. */
export function hadOccurrenceSince(schedule: string, since: Date | undefined, now: Date): boolean {
  if (since === undefined) return true;
  const last = lastOccurrence(schedule, now);
  return last !== undefined && last.getTime() > since.getTime();
}

/** Decides what a run does. */
export function decideDueWork(input: DueWorkInput): DueWork {
  let snapshot: SnapshotReason | undefined;
  if (input.full) snapshot = "forced";
  else if (input.hasUnfinishedSnapshot) snapshot = "continuing";
  else if (input.latestSnapshotStartedAt === undefined) snapshot = "firstSnapshot";
  else if (hadOccurrenceSince(input.fullSchedule, input.latestSnapshotStartedAt, input.now)) snapshot = "scheduled";

  let mirrorFull: DueWork["mirrorFull"];
  if (input.full) mirrorFull = "forced";
  else if (input.mirrorFullRoundAt !== undefined && hadOccurrenceSince(input.fullSchedule, input.mirrorFullRoundAt, input.now)) mirrorFull = "scheduled";
  // Every full round of the mirror rides on a snapshot run's pass, so that it reads the directory once and resumes.
  if (snapshot === undefined && (mirrorFull !== undefined || input.mirrorNeedsFullRound === true)) snapshot = "mirrorFullRound";
  return { snapshot, mirrorFull };
}
