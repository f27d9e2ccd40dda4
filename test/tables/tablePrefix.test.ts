import { describe, expect, it } from "vitest";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { DEFAULT_TABLE_PREFIX } from "../../src/configuration/defaults.js";
import { checkedTablePrefix } from "../../src/tables/tablePrefix.js";
import { TenantRegistryClient } from "../../src/tenants/tenantRegistryClient.js";

const storage = { kind: "connectionString", connectionString: "UseDevelopmentStorage=true", tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true } as const;

describe("table prefixes: one default and one check for every store", () => {
  it("defaults to entraUser and keeps a valid prefix as given", () => {
    expect(checkedTablePrefix(undefined)).toBe(DEFAULT_TABLE_PREFIX);
    expect(DEFAULT_TABLE_PREFIX).toBe("entraUser");
    expect(checkedTablePrefix("t0123456789abcdef0123456789abcdef")).toBe("t0123456789abcdef0123456789abcdef");
    expect(checkedTablePrefix("a".repeat(51))).toBe("a".repeat(51));
  });

  it.each(["", "1abc", "bad-prefix", "a".repeat(52)])("refuses %j in the snapshot store, the mirror and the tenant registry alike", (prefix) => {
    for (const make of [
      () => new SnapshotStoreClient({ storage, tablePrefix: prefix }),
      () => new UserMirrorClient({ storage, tablePrefix: prefix }),
      () => new TenantRegistryClient({ storage, tablePrefix: prefix }),
    ]) {
      expect(make).toThrowError(expect.objectContaining({ code: "invalid_setting", message: expect.stringContaining("1 to 51 letters and digits") }));
    }
  });

  it("names each store's tables after the prefix", () => {
    expect(new SnapshotStoreClient({ storage }).snapshotsTableName).toBe("entraUserSnapshots");
    expect(new UserMirrorClient({ storage, tablePrefix: "contoso" }).mirrorTableName).toBe("contosoMirror");
    expect(new TenantRegistryClient({ storage }).tableName).toBe("entraUserTenants");
  });
});
