/**
 * The ports through which the command line and the nested-membership walk read groups and their
 * direct memberships (issue 29), whatever store holds them: the group stores (the GROUPS kind's
 * snapshot and mirror, the `members` relationship's forward edge table, see `Relationship` in
 * objectKind.ts) satisfy them. Declared on this floor so that both the stores (floor 7) and the
 * command line (floor 1) can name them.
 */
import type { GraphObject } from "./objectKind.js";

/**
 * One direct membership: `memberId` is a member of `groupId`. `memberType` is the member's
 * `@odata.type` without `#microsoft.graph.` (`user`, `group`, `device`, `servicePrincipal`,
 * `orgContact`; `directoryObject` when Graph gave none), as the groups' delta reader hands it out.
 * Only `group` members are walked through by the nested-membership walk.
 */
export interface MembershipEdge {
  groupId: string;
  memberId: string;
  memberType: string;
}

/** A user's manager, for the diff of managers: the user's id and its manager's (a user without one has no link). */
export interface ManagerLink {
  userId: string;
  managerId: string;
}

/**
 * The groups and direct memberships of one point in time: a snapshot, or the live mirror.
 * Orders (what the merge-join of `diff` relies on, and what a forward edge table's partition
 * reads give): groups ascending by id; edges ascending by group id, then by member id, each edge
 * once; managers ascending by user id.
 */
export interface GroupDataSource {
  /** What is read, in messages: `snapshot 20250310T020000000Z-abcdef`, `the live mirror (as of …)`. */
  readonly label: string;
  /** The properties the groups were read with (their `$select`, `id` first): the CSV's columns. */
  readonly select: readonly string[];
  /** The point in time, for the analytics lane's stamps: a snapshot's run start and id, or the mirror's state (its save time and run). */
  readonly pointInTime?: { time: Date; runId: string };
  listGroups(): AsyncIterable<GraphObject>;
  listMemberships(): AsyncIterable<MembershipEdge>;
  /** The users' managers at the same point in time, ascending by user id (a user without one has no link). */
  listManagers(): AsyncIterable<ManagerLink>;
  /**
   * Called once everything was read: throws UserSyncError `read_incomplete` when the source changed
   * meanwhile (a mirror round wrote to it, retention began deleting the snapshot), as the users'
   * exports do, so that a mix of two states is not taken for one.
   */
  assertWhole(): Promise<void>;
}

/**
 * Where group data is found. `undefined`: no group data is stored there (a snapshot taken with
 * USER_SYNC_GROUPS off, a mirror that never ran a groups round): the command says so instead of
 * exporting nothing.
 */
export interface GroupDataSources {
  snapshot(snapshotId: string): Promise<GroupDataSource | undefined>;
  current(): Promise<GroupDataSource | undefined>;
}
