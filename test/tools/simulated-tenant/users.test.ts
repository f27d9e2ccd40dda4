import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../../src/configuration/settings.js";
import { decodeSkipToken, encodeSkipToken } from "../../../tools/simulated-tenant/graph.js";
import { createSimulatedDirectory, GRAPH_DEFAULT_USER_PROPERTIES, SIMULATED_USER_PROPERTIES } from "../../../tools/simulated-tenant/users.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const all = [...SIMULATED_USER_PROPERTIES];

describe("simulated directory", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    const a = createSimulatedDirectory({ userCount: 50, seed: 3, domain: "a.onmicrosoft.com" });
    const b = createSimulatedDirectory({ userCount: 50, seed: 3, domain: "a.onmicrosoft.com" });
    const c = createSimulatedDirectory({ userCount: 50, seed: 4, domain: "a.onmicrosoft.com" });
    expect([...a.users(all)]).toEqual([...b.users(all)]);
    expect([...a.users(["id"])]).not.toEqual([...c.users(["id"])]);
  });

  it("gives every user a distinct GUID id derived from its index", () => {
    const directory = createSimulatedDirectory({ userCount: 20_000, seed: 1, domain: "a.onmicrosoft.com" });
    const ids = new Set<string>();
    for (const user of directory.users(["id"])) {
      expect(user.id).toMatch(GUID);
      ids.add(user.id);
    }
    expect(ids.size).toBe(20_000);
    expect(directory.userAt(12_345, ["id"]).id).toBe(directory.userAt(12_345).id);
  });

  it("supports the product's default select list and Graph's 11 default properties", () => {
    const directory = createSimulatedDirectory({ userCount: 1, seed: 1, domain: "a.onmicrosoft.com" });
    expect(Object.keys(directory.userAt(0, DEFAULT_SELECT))).toEqual([...DEFAULT_SELECT]);
    expect(Object.keys(directory.userAt(0)).sort()).toEqual([...GRAPH_DEFAULT_USER_PROPERTIES].sort());
    expect(GRAPH_DEFAULT_USER_PROPERTIES).toHaveLength(11);
    expect(() => directory.userAt(0, ["id", "shoeSize"])).toThrow(/shoeSize/);
    expect(() => directory.userAt(1)).toThrow(RangeError);
  });

  it("has the variety of a real tenant in its first 3,000 users", () => {
    const directory = createSimulatedDirectory({ userCount: 3_000, seed: 11, domain: "contoso.onmicrosoft.com" });
    const users = [...directory.users(all)];
    const some = (predicate: (u: Record<string, unknown>) => boolean) => users.some(predicate);
    const text = (u: Record<string, unknown>) => String(u.displayName);

    const guests = users.filter((u) => u.userType === "Guest");
    expect(guests.length).toBeGreaterThan(100);
    for (const guest of guests) {
      expect(guest.userPrincipalName).toMatch(/^[^@]+#EXT#@contoso\.onmicrosoft\.com$/);
      expect(["Accepted", "PendingAcceptance"]).toContain(guest.externalUserState);
    }
    expect(some((u) => /[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]/.test(text(u)))).toBe(true); // CJK
    expect(some((u) => /[\u0600-\u06ff]/.test(text(u)))).toBe(true); // Arabic
    expect(some((u) => /[\u0400-\u04ff]/.test(text(u)))).toBe(true); // Cyrillic
    expect(some((u) => /[À-ž]/.test(text(u)))).toBe(true); // Latin with diacritics
    expect(some((u) => /\p{Extended_Pictographic}/u.test(text(u)))).toBe(true); // emoji
    expect(some((u) => text(u).includes("'"))).toBe(true);
    expect(some((u) => u.accountEnabled === false)).toBe(true);
    expect(some((u) => u.givenName === null)).toBe(true);
    expect(some((u) => u.mail === null)).toBe(true);
    expect(some((u) => Array.isArray(u.businessPhones) && u.businessPhones.length === 0)).toBe(true);
    expect(some((u) => Array.isArray(u.businessPhones) && u.businessPhones.length > 1)).toBe(true);
    expect(some((u) => Array.isArray(u.proxyAddresses) && u.proxyAddresses.length > 2)).toBe(true);
    expect(some((u) => Array.isArray(u.otherMails) && u.otherMails.length > 1)).toBe(true);
    const synced = users.filter((u) => u.onPremisesSyncEnabled === true);
    expect(synced.length).toBeGreaterThan(100);
    for (const user of synced) expect(Buffer.from(String(user.onPremisesImmutableId), "base64")).toHaveLength(16);
    expect(some((u) => u.onPremisesSyncEnabled === null && u.onPremisesImmutableId === null)).toBe(true);
    for (const user of users) {
      expect(user.createdDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(String(user.userPrincipalName)).toMatch(/^[\x21-\x7e]+@/); // UPNs are ASCII
    }
  });
});

describe("skip tokens", () => {
  it("round-trip position, select and top, and are refused when altered or made with another key", () => {
    const key = randomBytes(32);
    const token = encodeSkipToken(key, { offset: 1998, select: ["id", "displayName"], top: 999 });
    expect(decodeSkipToken(key, token)).toEqual({ offset: 1998, select: ["id", "displayName"], top: 999 });
    expect(decodeSkipToken(key, encodeSkipToken(key, { offset: 5, select: undefined, top: 100 }))).toEqual({ offset: 5, select: undefined, top: 100 });
    expect(decodeSkipToken(randomBytes(32), token)).toBeUndefined();
    const flipped = Buffer.from(token, "base64url");
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0x01;
    expect(decodeSkipToken(key, flipped.toString("base64url"))).toBeUndefined();
    expect(decodeSkipToken(key, "not a token!")).toBeUndefined();
    expect(decodeSkipToken(key, "")).toBeUndefined();
  });
});
