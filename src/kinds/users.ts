/**
 * The users: the first object kind. Its parts keep their own files: the canonical form
 * (src/graph/canonicalUser.ts), the Graph readers (src/graph/graphUsersClient.ts,
 * src/graph/userDeltaClient.ts), the property catalogue and its rules
 * (src/configuration/userProperties.ts) and the entity encoding (src/tables/userEntity.ts). Their
 * table names are the ones every deployment has had: `<prefix>Snapshots`, `<prefix>Mirror`,
 * `<prefix>MirrorChanges`.
 */
import { DEFAULT_SELECT } from "../configuration/defaults.js";
import { deltaSelectOf, GRAPH_USER_PROPERTIES, selectProblems, unknownPropertyProblems } from "../configuration/userProperties.js";
import { canonicalUser, sameUserValues } from "../graph/canonicalUser.js";
import { USERS_COLLECTION_PATH } from "../graph/graphUsersClient.js";
import type { GraphUser } from "../graph/types.js";
import { USERS_DELTA_PATH } from "../graph/userDeltaClient.js";
import { decodeUserEntity, encodeUserEntity } from "../tables/userEntity.js";
import type { ObjectKind, Relationship } from "./objectKind.js";

export const USERS: ObjectKind<GraphUser> = {
  name: "users",
  noun: "user",
  graph: { collectionPath: USERS_COLLECTION_PATH, deltaPath: USERS_DELTA_PATH, permission: "User.Read.All" },
  properties: {
    catalogue: GRAPH_USER_PROPERTIES,
    defaultSelect: DEFAULT_SELECT,
    selectSetting: "USER_SYNC_SELECT",
    deltaSelect: deltaSelectOf,
    selectProblems: (select) => [...selectProblems(select), ...unknownPropertyProblems(select)],
  },
  key: "id",
  canonical: canonicalUser,
  sameValues: sameUserValues,
  entity: { encode: encodeUserEntity, decode: decodeUserEntity },
  tables: { snapshots: "Snapshots", mirror: "Mirror", changes: "MirrorChanges" },
  // A user's `manager` (MANAGER below) comes with USER_SYNC_GROUPS, so the users alone keep no relationship (and no edge table).
  relationships: [],
};

/**
 * A user's manager (USER_SYNC_GROUPS only, docs/groups.md "Managers"): `manager@delta` on
 * `/users/delta`, `$expand=manager($select=id)` on `/users`; edges user → manager, one at most.
 */
export const MANAGER: Relationship = {
  name: "manager",
  deltaAnnotation: "manager@delta",
  reverseName: "directReports",
  cardinality: "one",
  targetTypes: ["#microsoft.graph.user"],
  tables: { forward: "Managers", reverse: "DirectReports" },
  spansPages: false,
};

/** Every kind the stores hold, in the order their tables are listed (storeTableNames). */
export const OBJECT_KINDS: readonly ObjectKind[] = [USERS];
