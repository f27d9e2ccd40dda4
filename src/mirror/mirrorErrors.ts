/**
 * The errors of the live mirror, in one place (as msal-node does, and as the credentials' and
 * Graph's catalogues): what went wrong (`MirrorProblem`), the facts each message names, its code and
 * its fix, and one factory (`createMirrorError`). Messages name users by id only, never by a value.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

type Details = UserSyncError["details"];

/** The facts each problem's message names. */
export interface MirrorProblemFacts {
  /** A user whose properties and the mirror's state columns do not fit in one table entity. */
  notStorable: { userId: string; stateColumns: number; maxProperties: number };
  /** A mirror entity whose state column is not one the mirror writes. */
  stateEdited: { partitionKey: string; rowKey: string; column: string };
  /** export --current before the mirror's first complete round. */
  notReady: Record<string, never>;
  /** export --current read a mirror a round wrote to meanwhile. */
  changedWhileRead: Record<string, never>;
  /** export --changes of a run that is not a mirror run. */
  runNotFound: { runId: string };
  /** export --changes of a mirror run that did not succeed. */
  runIncomplete: { runId: string; status: string };
}

export type MirrorProblem = keyof MirrorProblemFacts;

/** Each problem's code, message and details. */
export const MirrorProblems: { [P in MirrorProblem]: { code: UserSyncErrorCode; message: (facts: MirrorProblemFacts[P]) => string; details?: (facts: MirrorProblemFacts[P]) => Details } } = {
  notStorable: {
    code: "user_not_storable",
    message: (f) =>
      `User ${f.userId}: its properties and the mirror's ${f.stateColumns} state columns exceed the table limit of ${f.maxProperties} properties. Select fewer properties in USER_SYNC_SELECT.`,
    details: (f) => ({ userId: f.userId }),
  },
  stateEdited: {
    code: "storage_request_failed",
    message: (f) => `The mirror entity ${f.partitionKey}/${f.rowKey} has no valid ${f.column}; someone edited it. Run a full round (entra-user-sync run --full).`,
  },
  notReady: {
    code: "mirror_not_ready",
    message: () => "The live mirror has not completed its first round yet. Run a sync first (entra-user-sync run), then export --current.",
  },
  changedWhileRead: {
    code: "read_incomplete",
    message: () =>
      "The live mirror changed while it was read (a sync round wrote to it), so what was printed may mix two states: do not use it. Run export --current again (entra-user-sync runs shows when rounds run).",
  },
  runNotFound: {
    code: "run_not_found",
    message: (f) =>
      `There is no mirror run ${f.runId}. List runs with: entra-user-sync runs (change sets belong to runs whose MODE is incremental or full; a snapshot run is exported with --snapshot <id>).`,
  },
  runIncomplete: {
    code: "read_incomplete",
    message: (f) =>
      `Mirror run ${f.runId} is ${f.status}: its change set is incomplete (the round did not finish; the next round read its changes again). Export the change set of a succeeded run (see: entra-user-sync runs).`,
  },
};

export function createMirrorError<P extends MirrorProblem>(problem: P, facts: MirrorProblemFacts[P]): UserSyncError {
  const entry = MirrorProblems[problem] as { code: UserSyncErrorCode; message: (facts: MirrorProblemFacts[P]) => string; details?: (facts: MirrorProblemFacts[P]) => Details };
  return new UserSyncError(entry.code, entry.message(facts), { details: entry.details?.(facts) ?? {} });
}
