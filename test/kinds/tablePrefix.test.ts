/**
 * Table prefixes: one default and one check for every store, when the store is built (before any
 * request). A prefix is refused when it is not a table name's start, or when a table of its stores
 * (the longest: `<prefix>GroupMirrorChanges`) would pass Azure's 63 characters.
 */
import { describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { DEFAULT_TABLE_PREFIX } from "../../src/configuration/defaults.js";
import { GROUPS } from "../../src/kinds/groups.js";
import { storeTableNames } from "../../src/kinds/tableNames.js";
import { checkedTablePrefix, LONGEST_TABLE_SUFFIX, MAX_TABLE_NAME_LENGTH, MAX_TABLE_PREFIX_LENGTH, TABLE_SUFFIXES } from "../../src/kinds/tablePrefix.js";
import { MANAGER, USERS } from "../../src/kinds/users.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";

const storage = { kind: "connectionString", connectionString: "UseDevelopmentStorage=true", tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true } as const;

const stores = (prefix: string) => [
  () => new SnapshotStoreClient({ storage, tablePrefix: prefix }),
  () => new UserMirrorClient({ storage, tablePrefix: prefix }),
  () => new TenantRegistryClient({ storage, tablePrefix: prefix }),
  () => composeGroupStores(storage, undefined, prefix),
];

describe("table prefixes: one default and one check for every store", () => {
  it("defaults to entraUser and keeps a valid prefix as given", () => {
    expect(checkedTablePrefix(undefined)).toBe(DEFAULT_TABLE_PREFIX);
    expect(DEFAULT_TABLE_PREFIX).toBe("entraUser");
    expect(checkedTablePrefix("t0123456789abcdef0123456789abcdef")).toBe("t0123456789abcdef0123456789abcdef");
  });

  it("allows the longest prefix whose every table name fits Azure's 63 characters, the groups' included", () => {
    expect(LONGEST_TABLE_SUFFIX).toBe("GroupMirrorChanges");
    expect(MAX_TABLE_PREFIX_LENGTH).toBe(45);
    const longest = "a".repeat(MAX_TABLE_PREFIX_LENGTH);
    for (const make of stores(longest)) expect(make).not.toThrow();
    const names = [...storeTableNames(longest, [USERS, GROUPS]), `${longest}${MANAGER.tables.forward}`, `${longest}${MANAGER.tables.reverse}`, `${longest}Tenants`];
    expect(names.every((name) => name.length <= MAX_TABLE_NAME_LENGTH)).toBe(true);
    expect(names.map((name) => name.slice(longest.length)).every((suffix) => TABLE_SUFFIXES.includes(suffix))).toBe(true);
  });

  it.each(["", "1abc", "bad-prefix"])("refuses %j in the snapshot store, the mirror, the tenant registry and the group stores alike", (prefix) => {
    for (const make of stores(prefix)) {
      expect(make).toThrowError(expect.objectContaining({ code: "invalid_setting", message: expect.stringContaining("tablePrefix") }));
      expect(make).toThrowError(expect.objectContaining({ message: expect.stringContaining(`use 1 to ${MAX_TABLE_PREFIX_LENGTH} letters and digits`) }));
    }
  });

  it.each([MAX_TABLE_PREFIX_LENGTH + 1, 51])("refuses a prefix of %i characters in every store, naming tablePrefix, the maximum and the table that would not fit", (length) => {
    const prefix = "a".repeat(length);
    for (const make of stores(prefix)) {
      expect(make).toThrowError(
        expect.objectContaining({
          code: "invalid_setting",
          details: expect.objectContaining({ settings: "tablePrefix", maxLength: MAX_TABLE_PREFIX_LENGTH }),
          message: expect.stringContaining(`at most ${MAX_TABLE_PREFIX_LENGTH}), so that its longest table name, ${prefix}GroupMirrorChanges, stays within Azure's 63 characters`),
        }),
      );
    }
  });

  it("names each store's tables after the prefix", () => {
    expect(new SnapshotStoreClient({ storage }).snapshotsTableName).toBe("entraUserSnapshots");
    expect(new UserMirrorClient({ storage, tablePrefix: "contoso" }).mirrorTableName).toBe("contosoMirror");
    expect(new TenantRegistryClient({ storage }).tableName).toBe("entraUserTenants");
  });
});
