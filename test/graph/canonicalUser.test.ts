import { describe, expect, it } from "vitest";
import { canonicalUser, sameValue } from "../../src/graph/canonicalUser.js";

const SELECT = ["id", "displayName", "mail", "businessPhones", "signInActivity"];

describe("canonicalUser", () => {
  it("gives id first, then every selected property in selection order, null for what Graph left out", () => {
    const fromDelta = { businessPhones: ["1"], id: "a", displayName: "A" };
    const user = canonicalUser(fromDelta, SELECT);
    expect(Object.keys(user)).toEqual(SELECT);
    expect(user).toEqual({ id: "a", displayName: "A", mail: null, businessPhones: ["1"], signInActivity: null });
  });

  it("gives the same form for the same user from /users (nulls, Graph's order) and from delta (unset left out)", () => {
    const fromUsers = { id: "a", mail: null, signInActivity: null, displayName: "A", businessPhones: [] };
    const fromDelta = { id: "a", displayName: "A", businessPhones: [] };
    expect(JSON.stringify(canonicalUser(fromUsers, SELECT))).toBe(JSON.stringify(canonicalUser(fromDelta, SELECT)));
  });

  it("files a property Graph spells in another case under the selected spelling, keeps unselected keys, drops @odata annotations", () => {
    const user = canonicalUser({ id: "a", DisplayName: "A", "@odata.type": "#microsoft.graph.user", "manager@delta": [{ id: "m" }] }, ["id", "displayName"]);
    expect(user).toEqual({ id: "a", displayName: "A", "manager@delta": [{ id: "m" }] });
  });

  it("gives each user of one selection its own form, whatever the spelling of the users before it", () => {
    const select = ["id", "mail", "displayName"];
    expect(canonicalUser({ id: "a", MAIL: "x@contoso.com", displayName: "A" }, select)).toEqual({ id: "a", mail: "x@contoso.com", displayName: "A" });
    // An exact spelling wins; a second spelling of it stays, as sent, after the selection.
    const both = canonicalUser({ id: "b", Mail: "UPPER@contoso.com", mail: "lower@contoso.com" }, select);
    expect(Object.entries(both)).toEqual([["id", "b"], ["mail", "lower@contoso.com"], ["displayName", null], ["Mail", "UPPER@contoso.com"]]);
    expect(canonicalUser({ id: "c", mail: "c@contoso.com", displayName: "C" }, select)).toEqual({ id: "c", mail: "c@contoso.com", displayName: "C" });
  });

  it("keeps a property named __proto__ as a key", () => {
    const raw = JSON.parse('{"id":"a","__proto__":"x"}') as { id: string };
    const user = canonicalUser(raw, ["id", "__proto__"]);
    expect(Object.keys(user)).toEqual(["id", "__proto__"]);
    expect(JSON.stringify(user)).toBe('{"id":"a","__proto__":"x"}');
  });

  it("returns a user already in the canonical form as it is, and copies any other into it", () => {
    const canonical = { id: "a", displayName: "A", mail: null, businessPhones: [], signInActivity: null };
    expect(canonicalUser(canonical, SELECT)).toBe(canonical);
    // Not canonical, copied: another order, a missing or undefined property, an extra key, a prototype, id not first.
    const others: Array<Record<string, unknown>> = [
      { id: "a", mail: null, displayName: "A", businessPhones: [], signInActivity: null },
      { id: "a", displayName: "A", mail: null, businessPhones: [] },
      { id: "a", displayName: "A", mail: undefined, businessPhones: [], signInActivity: null },
      { id: "a", displayName: "A", mail: null, businessPhones: [], signInActivity: null, extra: 1 },
      { id: "a", displayName: "A", mail: null, businessPhones: [], signInActivity: null, "@odata.type": "#microsoft.graph.user" },
      { displayName: "A", id: "a", mail: null, businessPhones: [], signInActivity: null },
      Object.assign(Object.create({ inherited: 1 }) as object, canonical),
    ];
    for (const other of others) {
      const user = canonicalUser(other as { id: string }, SELECT);
      expect(user).not.toBe(other);
      expect(Object.keys(user).slice(0, SELECT.length)).toEqual(SELECT);
      expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    }
  });
});

describe("sameValue", () => {
  it("treats null and absent alike in objects, not in arrays", () => {
    expect(sameValue({ a: null }, {})).toBe(true);
    expect(sameValue([null], [])).toBe(false);
    expect(sameValue({ a: 1, b: [1, { c: null }] }, { b: [1, {}], a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: "1" })).toBe(false);
    expect(sameValue({ a: {} }, { a: null })).toBe(false);
  });
});
