/**
 * An incremental groups' round's membership changes, for the change log (docs/groups.md): `joined`,
 * or `left` with the product's reason. Graph's `@removed.reason` is `deleted` both for a member
 * taken out of the group and for a member deleted from the directory; for a **user** member the
 * users' mirror tells them apart, since the users' round of the same run ran first: a user whose
 * mirror state is not `present` (soft-deleted, deleted, missing) left because it was deleted
 * (`memberDeleted`), any other user was taken out of the group (`removed`). Graph's own reason is
 * kept beside it (`graphReason`). Members of other kinds (groups, devices, service principals,
 * contacts), or a round given no users' mirror, keep Graph's reason as `reason`.
 */
import type { GroupDeltaPage } from "../graph/groupDeltaClient.js";
import type { MembershipChange } from "../mirror/membershipChangeLog.js";
import type { MirrorUser } from "../mirror/mirrorEntity.js";
import type { OperationOptions } from "../shared/abort.js";

/**
 * The users' mirror, as the groups' incremental round asks it whether a user member that left was
 * deleted (its state there is not `present`): the users' round of the same run ran before.
 */
export interface MemberUsers {
  getUsers(ids: readonly string[], options?: OperationOptions): Promise<Map<string, MirrorUser>>;
}

type PageEdge = GroupDeltaPage["edges"][number];

const USER_TYPE = "user";

/** One page's edges as membership changes; one batched read of the users' mirror for the user members that left. */
export async function membershipChangesOf(edges: readonly PageEdge[], users: MemberUsers | undefined, options: OperationOptions = {}): Promise<MembershipChange[]> {
  const leftUsers = edges.filter((e) => e.removed && e.memberType === USER_TYPE).map((e) => e.memberId);
  const known = users && leftUsers.length > 0 ? await users.getUsers(leftUsers, { abortSignal: options.abortSignal }) : undefined;
  return edges.map((edge) => {
    const membership = { groupId: edge.groupId, memberId: edge.memberId, memberType: edge.memberType };
    if (!edge.removed) return { ...membership, change: "joined" };
    if (!users || edge.memberType !== USER_TYPE) return { ...membership, change: "left", reason: edge.removed.reason };
    const state = known?.get(edge.memberId)?.state;
    const deleted = state !== undefined && state !== "present";
    return { ...membership, change: "left", reason: deleted ? "memberDeleted" : "removed", graphReason: edge.removed.reason };
  });
}
