import { describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import { changedProperties } from "../../src/snapshots/snapshotDiff.js";
import { chunkText, decodeUserEntity, encodeUserEntity, entitySizeInBytes, META_COLUMN, MAX_STRING_LENGTH } from "../../src/tables/userEntity.js";

const PK = "20261121T023300123Z-a1b2c3-0f";

/** What the SDK hands back after a round trip: typed Doubles come back as plain numbers. */
function asRead(entity: Record<string, unknown>): Record<string, unknown> {
  const read: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(entity)) {
    read[name] = typeof value === "object" && value !== null && "type" in value ? (value as unknown as { value: unknown }).value : value;
  }
  return read;
}

function roundTrip(user: GraphUser): GraphUser {
  return decodeUserEntity(asRead(encodeUserEntity(user, PK)));
}

const sample: GraphUser = {
  id: "6e7b768e-07e2-4810-8459-485f84f8f204",
  userPrincipalName: "adele@contoso.onmicrosoft.com",
  displayName: "Adèle Vance 🚀",
  givenName: "",
  surname: null,
  otherMails: [],
  proxyAddresses: ["SMTP:adele@contoso.com", "smtp:av@contoso.com"],
  accountEnabled: false,
  onPremisesSyncEnabled: true,
  employeeOrgData: { division: "東京", costCenter: null, nested: { deep: [1, { x: "y" }] } },
  preferredLanguage: "ja-JP",
  jobTitle: "Ингенер / مهندس",
  count32: 2_147_483_647,
  negative32: -2_147_483_648,
  big: 9_007_199_254_740_991,
  bigNegative: -2_147_483_649,
  ratio: 0.25,
  zero: 0,
};

describe("encodeUserEntity / decodeUserEntity", () => {
  it("round-trips every JSON shape Graph sends, deep-equal and in the same key order", () => {
    const decoded = roundTrip(sample);
    expect(decoded).toStrictEqual(sample);
    expect(Object.keys(decoded)).toEqual(Object.keys(sample));
  });

  it("keeps the key order when id is not first and properties come in an unusual order", () => {
    const user: GraphUser = { mail: null, id: "abc", accountEnabled: true, displayName: "Z" } as GraphUser;
    const decoded = roundTrip(user);
    expect(Object.keys(decoded)).toEqual(["mail", "id", "accountEnabled", "displayName"]);
    expect(decoded).toStrictEqual(user);
  });

  it("stores each property as its own queryable column with a native type where one exists", () => {
    const entity = encodeUserEntity(sample, PK);
    expect(entity.partitionKey).toBe(PK);
    expect(entity.rowKey).toBe(sample.id);
    expect(entity).not.toHaveProperty("id");
    expect(entity.userPrincipalName).toBe("adele@contoso.onmicrosoft.com");
    expect(entity.givenName).toBe("");
    expect(entity.accountEnabled).toBe(false);
    expect(entity.count32).toBe(2_147_483_647);
    expect(entity.ratio).toEqual({ value: 0.25, type: "Double" });
    // No array type in Table Storage; integers outside Int32 would come back as Int64/BigInt: JSON text.
    expect(entity.proxyAddresses).toBe('["SMTP:adele@contoso.com","smtp:av@contoso.com"]');
    expect(entity.otherMails).toBe("[]");
    expect(entity.big).toBe("9007199254740991");
    // A null has no column (the service cannot store one); its name is in the metadata.
    expect(entity).not.toHaveProperty("surname");
    const meta = JSON.parse(entity[META_COLUMN] as string) as { v: number; o: string[]; j: string[] };
    expect(meta.v).toBe(1);
    expect(meta.o).toEqual(Object.keys(sample));
    expect(meta.j).toEqual(["otherMails", "proxyAddresses", "employeeOrgData", "big", "bigNegative"]);
  });

  it("keeps a string that looks like JSON a string", () => {
    const user: GraphUser = { id: "u1", jobTitle: "[1,2]", department: "true", officeLocation: "null" };
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it("keeps a value of exactly 64 KiB in one column and chunks a longer one over several, losslessly", () => {
    const atLimit: GraphUser = { id: "u1", aboutMe: "x".repeat(MAX_STRING_LENGTH) };
    expect(roundTrip(atLimit)).toStrictEqual(atLimit);
    expect(JSON.parse(encodeUserEntity(atLimit, PK)[META_COLUMN] as string)).toEqual({ v: 1, o: ["id", "aboutMe"] });
    const over: GraphUser = { id: "u1", aboutMe: "é".repeat(MAX_STRING_LENGTH * 2 + 5), mail: "a@b.c" };
    const entity = encodeUserEntity(over, PK);
    expect(JSON.parse(entity[META_COLUMN] as string)).toEqual({ v: 2, o: ["id", "aboutMe", "mail"], c: { aboutMe: ["aboutMe", "_c0", "_c1"] } });
    for (const column of ["aboutMe", "_c0", "_c1"]) expect((entity[column] as string).length).toBeLessThanOrEqual(MAX_STRING_LENGTH);
    expect(roundTrip(over)).toStrictEqual(over);
  });

  it("never splits a surrogate pair between chunks", () => {
    const text = `${"a".repeat(MAX_STRING_LENGTH - 1)}😀${"b".repeat(10)}`;
    const chunks = chunkText(text);
    expect(chunks.join("")).toBe(text);
    expect(chunks[0]!.length).toBe(MAX_STRING_LENGTH - 1);
    const user: GraphUser = { id: "u1", displayName: text };
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it("chunks an array whose JSON text is over 64 KiB (thousands of proxyAddresses) and reads it back identically", () => {
    const user: GraphUser = { id: "u1", proxyAddresses: Array.from({ length: 5000 }, (_, i) => `smtp:user${i}@contoso.com`), displayName: "Many" };
    const entity = encodeUserEntity(user, PK);
    expect(JSON.parse(entity[META_COLUMN] as string).c.proxyAddresses.length).toBeGreaterThan(1);
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it.each(["@odata.type", "extension.name", "1abc", "has-dash", "_meta", "_c0", "_n0", "_private", "PartitionKey", "timestamp", "etag", "odata", "ü", "x".repeat(300)])(
    "stores the property name %s under a generated column and reads it back under its own name",
    (name) => {
      const user = { id: "u1", displayName: "D", [name]: "v", after: [1] } as GraphUser;
      const entity = encodeUserEntity(user, PK);
      const meta = JSON.parse(entity[META_COLUMN] as string);
      expect(meta.v).toBe(2);
      expect(entity[meta.n[name]]).toBe("v");
      const decoded = roundTrip(user);
      expect(decoded).toStrictEqual(user);
      expect(Object.keys(decoded)).toEqual(Object.keys(user));
    },
  );

  it("maps a name that differs from another only in case, and a mapped name that is also chunked", () => {
    const user = { id: "u1", mail: "a", Mail: "b", "big-one": "z".repeat(MAX_STRING_LENGTH + 1), nothing: null } as GraphUser;
    const entity = encodeUserEntity(user, PK);
    expect(entity.mail).toBe("a");
    expect(entity).not.toHaveProperty("Mail");
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it("accepts extension attribute names, which are valid identifiers", () => {
    const user: GraphUser = { id: "u1", extension_0a1b2c3d4e5f67890a1b2c3d4e5f6789_costCenter: "42" };
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it.each(["", "a/b", "a\\b", "a#b", "a?b", "a\u0001b"])("refuses the object id %j as a RowKey", (id) => {
    expect(() => encodeUserEntity({ id }, PK)).toThrowError(expect.objectContaining({ code: "user_not_storable" }));
  });

  it("refuses more properties than an entity can hold (the store records the user as skipped)", () => {
    const user: GraphUser = { id: "u1" };
    for (let i = 0; i < 252; i++) user[`p${i}`] = i;
    expect(() => encodeUserEntity(user, PK)).toThrowError(expect.objectContaining({ code: "user_not_storable" }));
    delete user.p251;
    expect(roundTrip(user)).toStrictEqual(user);
  });

  it("refuses an entity over 1 MiB, chunked or not", () => {
    expect(() => encodeUserEntity({ id: "u1", huge: "y".repeat(600_000) }, PK)).toThrowError(expect.objectContaining({ code: "user_not_storable" }));
    const user: GraphUser = { id: "u1" };
    for (let i = 0; i < 20; i++) user[`p${i}`] = "y".repeat(MAX_STRING_LENGTH);
    const error = (() => {
      try {
        encodeUserEntity(user, PK);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isUserSyncError(error, "user_not_storable")).toBe(true);
    expect((error as Error).message).toContain("1 MiB");
  });

  it("sizes entities by the service's formula", () => {
    const entity = encodeUserEntity({ id: "ab", flag: true, n: 1, s: "xyz" }, "pk");
    const meta = entity[META_COLUMN] as string;
    const expected = 4 + (2 + 2) * 2 + (8 + 4 * 2 + 1) + (8 + 1 * 2 + 4) + (8 + 1 * 2 + 4 + 3 * 2) + (8 + 5 * 2 + 4 + meta.length * 2);
    expect(entitySizeInBytes(entity)).toBe(expected);
  });

  it("refuses to decode an entity without readable metadata", () => {
    expect(() => decodeUserEntity({ partitionKey: PK, rowKey: "u1", displayName: "x" })).toThrowError(
      expect.objectContaining({ code: "storage_request_failed" }),
    );
    expect(() => decodeUserEntity({ partitionKey: PK, rowKey: "u1", [META_COLUMN]: '{"v":99,"o":[]}' })).toThrowError(
      expect.objectContaining({ code: "storage_request_failed" }),
    );
  });
});

describe("property names every JavaScript object inherits", () => {
  // JSON.parse makes own properties of every name, `__proto__` included, as Graph's JSON would.
  const text =
    '{"id":"u1","constructor":"Constructor Co","__proto__":{"polluted":true,"__proto__":{"deeper":1}},"toString":"ts","valueOf":7,"hasOwnProperty":false,"isPrototypeOf":null,"__defineGetter__":["g"],"toLocaleString":"tl","displayName":"Ada"}';
  const inherited = JSON.parse(text) as GraphUser;

  it("round-trip exactly: same own keys, same order, same values, and the same JSON", () => {
    const decoded = roundTrip(inherited);
    expect(JSON.stringify(decoded)).toBe(text);
    expect(Object.keys(decoded)).toEqual(Object.keys(inherited));
    for (const key of Object.keys(inherited)) expect(Object.hasOwn(decoded, key), key).toBe(true);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ polluted: true, ["__proto__"]: { deeper: 1 } });
    expect(decoded.constructor).toBe("Constructor Co");
    expect(decoded.hasOwnProperty).toBe(false);
    expect(decoded.isPrototypeOf).toBeNull();
  });

  it("leave the decoded object an ordinary object, and pollute no prototype", () => {
    const decoded = roundTrip(inherited);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value)).toBe(Object.prototype);
  });

  it("are stored under generated columns, named in the metadata", () => {
    const entity = encodeUserEntity(inherited, PK);
    for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "toLocaleString", "__proto__", "__defineGetter__"]) {
      expect(Object.hasOwn(entity, name), name).toBe(false);
    }
    expect(entity.displayName).toBe("Ada");
    const meta = JSON.parse(entity[META_COLUMN] as string) as { v: number; n: Record<string, string> };
    expect(meta.v).toBe(2);
    expect(Object.keys(meta.n)).toEqual(["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__", "toLocaleString"]);
    expect(new Set(Object.values(meta.n)).size).toBe(8);
  });

  it("keep a __proto__ with a plain value, and one chunked over several columns", () => {
    const user = JSON.parse(`{"id":"u2","__proto__":"${"p".repeat(MAX_STRING_LENGTH + 10)}","constructor":null}`) as GraphUser;
    const decoded = roundTrip(user);
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(user));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it("read as null, not as an inherited method, when a column is missing from the entity", () => {
    const entity = { partitionKey: PK, rowKey: "u3", [META_COLUMN]: JSON.stringify({ v: 1, o: ["id", "toString", "valueOf"] }) };
    expect(JSON.stringify(decodeUserEntity(entity))).toBe('{"id":"u3","toString":null,"valueOf":null}');
  });

  it("appear in a diff of two versions of the user", () => {
    const after = JSON.parse(text.replace('"Constructor Co"', '"Rebuilt"').replace('"polluted":true', '"polluted":false')) as GraphUser;
    const changes = changedProperties(inherited, after)!;
    expect(Object.keys(changes)).toEqual(["constructor", "__proto__"]);
    expect(JSON.stringify(changes)).toBe('{"constructor":{"from":"Constructor Co","to":"Rebuilt"},"__proto__":{"from":{"polluted":true,"__proto__":{"deeper":1}},"to":{"polluted":false,"__proto__":{"deeper":1}}}}');
  });
});
