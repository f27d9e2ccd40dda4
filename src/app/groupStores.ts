/**
 * The groups' stores of one prefix (USER_SYNC_GROUPS, docs/groups.md): the groups' snapshot table
 * (SnapshotStoreClient of the GROUPS kind, beside the users' run records), their mirror and change
 * log (UserMirrorClient of the GROUPS kind), the `members` edges (forward and reverse tables) and the
 * membership change log. Built by the composition (compose.ts) and by the read-only commands.
 */
import type { TokenCredential } from "@azure/identity";
import pLimit from "p-limit";
import type { TableStorageSettings } from "../configuration/settings.js";
import { GROUPS, MEMBERS } from "../kinds/groups.js";
import { MANAGER } from "../kinds/users.js";
import { ManagerEdges } from "../sync/managerEdges.js";
import { kindTableNames } from "../kinds/tableNames.js";
import { MembershipChangeLog } from "../mirror/membershipChangeLog.js";
import { UserMirrorClient } from "../mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../snapshots/snapshotStoreClient.js";
import type { GroupStores } from "../sync/groupsRound.js";
import { EdgeTables } from "../tables/edgeTables.js";
import { createTableClient } from "../tables/tableClient.js";
import { checkedTablePrefix } from "../kinds/tablePrefix.js";

export type { GroupStores };

/** Entity group transactions in flight at once, for the edges and the membership change log. */
const EDGE_WRITE_CONCURRENCY = 16;

export function composeGroupStores(storage: TableStorageSettings, credential?: TokenCredential, tablePrefix?: string): GroupStores {
  const prefix = checkedTablePrefix(tablePrefix);
  const common = { storage, ...(storage.kind === "identity" ? { credential } : {}), tablePrefix: prefix, kind: GROUPS };
  const table = (tableName: string) => createTableClient({ storage, credential, tableName, owner: "GroupStores" });
  const limit = pLimit(EDGE_WRITE_CONCURRENCY);
  const memberships = new MembershipChangeLog({ table: table(kindTableNames(prefix, GROUPS).changes), storage, limit });
  return {
    snapshots: new SnapshotStoreClient(common),
    mirror: new UserMirrorClient(common),
    edges: new EdgeTables({ relationship: MEMBERS, forward: table(`${prefix}${MEMBERS.tables.forward}`), reverse: table(`${prefix}${MEMBERS.tables.reverse}`), storage, limit }),
    memberships,
    // Manager changes are logged beside the membership changes (partition `<users' mirror run>-managers`).
    managers: new ManagerEdges(new EdgeTables({ relationship: MANAGER, forward: table(`${prefix}${MANAGER.tables.forward}`), reverse: table(`${prefix}${MANAGER.tables.reverse}`), storage, limit }), memberships),
  };
}
