/**
 * The groups (issue 29, USER_SYNC_GROUPS): the second object kind, and its one relationship,
 * `members`. A group's properties are read from `/groups/delta` with `members` (GroupDeltaClient,
 * src/graph/groupDeltaClient.ts) and stored like a user's (the same lossless entity encoding); its
 * members are edges (src/tables/edgeTables.ts), never a property. The selection is fixed
 * (DEFAULT_GROUP_SELECT): no setting names it.
 */
import { DEFAULT_GROUP_SELECT } from "../configuration/defaults.js";
import { canonicalUser, sameUserValues } from "../graph/canonicalUser.js";
import { GROUP_MEMBER_READ_ALL } from "../graph/groupErrors.js";
import type { GraphGroup } from "../graph/groupDeltaClient.js";
import { decodeUserEntity, encodeUserEntity } from "../tables/userEntity.js";
import type { ObjectKind, Relationship } from "./objectKind.js";

/** The member kinds Graph lists in `members@delta` (the `@odata.type` without `#microsoft.graph.`). */
export const MEMBER_TYPES: readonly string[] = ["user", "group", "device", "servicePrincipal", "orgContact"];

/** A group's direct members: "members of G" reads forward partition G, "groups of U" reverse partition U. */
export const MEMBERS: Relationship = {
  name: "members",
  deltaAnnotation: "members@delta",
  reverseName: "memberOf",
  cardinality: "many",
  targetTypes: MEMBER_TYPES.map((type) => `#microsoft.graph.${type}`),
  tables: { forward: "GroupMembers", reverse: "GroupMemberOf" },
  spansPages: true,
};

export const GROUPS: ObjectKind<GraphGroup> = {
  name: "groups",
  noun: "group",
  graph: { collectionPath: "/v1.0/groups", deltaPath: "/v1.0/groups/delta", permission: GROUP_MEMBER_READ_ALL },
  properties: {
    catalogue: DEFAULT_GROUP_SELECT,
    defaultSelect: DEFAULT_GROUP_SELECT,
    // The groups' selection is fixed; the setting that turns them on is the one to name.
    selectSetting: "USER_SYNC_GROUPS",
    deltaSelect: (select) => [...select],
    selectProblems: (select) => select.filter((name) => !DEFAULT_GROUP_SELECT.includes(name)).map((name) => `"${name}" is not a group property the product reads.`),
  },
  key: "id",
  canonical: canonicalUser,
  sameValues: sameUserValues,
  entity: { encode: encodeUserEntity, decode: decodeUserEntity },
  tables: { snapshots: "GroupSnapshots", mirror: "GroupMirror", changes: "GroupMirrorChanges" },
  relationships: [MEMBERS],
};
