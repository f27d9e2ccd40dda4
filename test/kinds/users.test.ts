/**
 * The users' kind (src/kinds/users.ts) is what every stage did for users before there were kinds:
 * the same Graph endpoints, property catalogue, canonical form, encoding, and table names.
 */
import { describe, expect, it } from "vitest";
import type { TableStorageSettings } from "../../src/configuration/settings.js";
import { DEFAULT_SELECT } from "../../src/configuration/defaults.js";
import { GRAPH_USER_PROPERTIES } from "../../src/configuration/userProperties.js";
import { canonicalUser, sameUserValues } from "../../src/graph/canonicalUser.js";
import { GraphUsersClient } from "../../src/graph/graphUsersClient.js";
import { UserDeltaClient } from "../../src/graph/userDeltaClient.js";
import { storeTableNames, tenantsTableName } from "../../src/kinds/tableNames.js";
import { OBJECT_KINDS, USERS } from "../../src/kinds/users.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { decodeUserEntity, encodeUserEntity } from "../../src/tables/userEntity.js";
import { tenantTableNames } from "../../src/tenants/tenantData.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";

// Building a client sends nothing: no storage is needed to read its table names.
const storage: TableStorageSettings = { kind: "connectionString", connectionString: "UseDevelopmentStorage=true", tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true };
const TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

describe("the users' kind", () => {
  it("names the tables every deployment has had, in single- and multi-tenant mode", () => {
    expect(storeTableNames("entraUser", OBJECT_KINDS)).toEqual(["entraUserSnapshots", "entraUserRuns", "entraUserMirror", "entraUserMirrorChanges"]);
    const store = new SnapshotStoreClient({ storage });
    expect([store.snapshotsTableName, store.runsTableName]).toEqual(["entraUserSnapshots", "entraUserRuns"]);
    const mirror = new UserMirrorClient({ storage });
    expect([mirror.mirrorTableName, mirror.changesTableName]).toEqual(["entraUserMirror", "entraUserMirrorChanges"]);
    expect(new TenantRegistryClient({ storage }).tableName).toBe("entraUserTenants");
    expect(tenantsTableName("entraUser")).toBe("entraUserTenants");
    const prefix = tenantTablePrefix(TENANT);
    expect(tenantTableNames(prefix)).toEqual(["Snapshots", "Runs", "Mirror", "MirrorChanges"].map((suffix) => `${prefix}${suffix}`));
    const tenantStore = new SnapshotStoreClient({ storage, tablePrefix: prefix });
    expect(tenantStore.snapshotsTableName).toBe(`${prefix}Snapshots`);
  });

  it("is the kind the stores hold unless told otherwise, and the only kind so far", () => {
    expect(new SnapshotStoreClient({ storage }).kind).toBe(USERS);
    expect(new UserMirrorClient({ storage }).kind).toBe(USERS);
    expect(OBJECT_KINDS).toEqual([USERS]);
  });

  it("reads the endpoints its Graph readers request", () => {
    const tokenProvider = { getToken: async () => ({ token: "unused" }) };
    const options = { graphEndpoint: "https://graph.microsoft.com", tokenProvider, select: ["id", "displayName"] };
    expect(new URL(new GraphUsersClient(options).firstPageUrl).pathname).toBe(USERS.graph.collectionPath);
    expect(new URL(new UserDeltaClient(options).firstRoundUrl).pathname).toBe(USERS.graph.deltaPath);
    expect([USERS.graph.collectionPath, USERS.graph.deltaPath]).toEqual(["/v1.0/users", "/v1.0/users/delta"]);
  });

  it("holds the users' catalogue, default $select, canonical form and encoding, and no relationship yet", () => {
    expect(USERS.properties.catalogue).toBe(GRAPH_USER_PROPERTIES);
    expect(USERS.properties.defaultSelect).toBe(DEFAULT_SELECT);
    expect(USERS.properties.deltaSelect(["id", "displayName", "signInActivity"])).toEqual(["id", "displayName"]);
    expect(USERS.properties.selectProblems(["id", "manager", "displayNme"])).toHaveLength(2);
    expect(USERS.canonical).toBe(canonicalUser);
    expect(USERS.sameValues).toBe(sameUserValues);
    expect(USERS.entity).toEqual({ encode: encodeUserEntity, decode: decodeUserEntity });
    expect(USERS.key).toBe("id");
    expect(USERS.relationships).toEqual([]);
  });
});
