/**
 * Membership changes made in the simulated directory by the groups' tests: one user joins a group
 * and another user member leaves it.
 */
import type { SimulatedMember, SimulatedTenant } from "../../tools/simulated-tenant/index.js";

export interface JoinedAndLeft {
  groupId: string;
  /** The user that joined: its index among the generated users, and its id. */
  joiner: number;
  joinerId: string;
  /** The user member that left. */
  leaving: SimulatedMember;
}

/** The last of the `userCount` generated users not yet in group `group` joins it; then another of its user members leaves it. */
export function joinOneLeaveOne(tenant: SimulatedTenant, group: number, userCount: number): JoinedAndLeft {
  const user = (i: number) => tenant.changes.userIdAt(i);
  const members = new Set([...tenant.groups.currentMembers(group)].map((m) => m.id));
  const joiner = [...Array(userCount).keys()].reverse().find((i) => !members.has(user(i)));
  if (joiner === undefined || !tenant.groups.addMember(group, { user: joiner })) throw new Error(`no generated user can join group ${group}`);
  const leaving = [...tenant.groups.currentMembers(group)].find((m) => m.type === "user" && m.id !== user(joiner));
  if (leaving === undefined) throw new Error(`group ${group} has no other user member to leave it`);
  tenant.groups.removeMember(group, leaving);
  return { groupId: tenant.groups.groupIdAt(group), joiner, joinerId: user(joiner), leaving };
}
