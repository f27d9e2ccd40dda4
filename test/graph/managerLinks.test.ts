import { describe, expect, it } from "vitest";
import { propertiesOf, takeExpandedManager, takeManagerDelta } from "../../src/graph/managerLinks.js";
import { parseDeltaPage } from "../../src/graph/userDeltaClient.js";

const user = "11111111-1111-1111-1111-111111111111";
const boss = "22222222-2222-2222-2222-222222222222";
const old = "33333333-3333-3333-3333-333333333333";
const link = (id: string, removed = false) => ({ "@odata.type": "#microsoft.graph.user", id, ...(removed ? { "@removed": { reason: "deleted" } } : {}) });

describe("a user's manager as the readers take it off the user", () => {
  it("/users with $expand: the manager's id, or null when the user has none; the user keeps no manager key", () => {
    expect(takeExpandedManager({ id: user, displayName: "A", manager: link(boss) })).toEqual({ user: { id: user, displayName: "A" }, change: { userId: user, managerId: boss } });
    expect(takeExpandedManager({ id: user, displayName: "A" })).toEqual({ user: { id: user, displayName: "A" }, change: { userId: user, managerId: null } });
  });

  it("/users/delta: the present link wins over the removed one; only a removed link clears; no annotation says nothing", () => {
    expect(takeManagerDelta({ id: user, "manager@delta": [link(old, true), link(boss)] }).change).toEqual({ userId: user, managerId: boss });
    expect(takeManagerDelta({ id: user, "manager@delta": [link(old, true)] })).toEqual({ user: { id: user }, change: { userId: user, managerId: null } });
    expect(takeManagerDelta({ id: user, displayName: "A" })).toEqual({ user: { id: user, displayName: "A" }, change: undefined });
  });

  it("a delta page with manager hands the managers out beside canonical users that carry none", () => {
    const text = JSON.stringify({ value: [{ id: user, displayName: "A", "manager@delta": [link(boss)] }, { id: boss, displayName: "B" }], "@odata.deltaLink": "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x" });
    const page = parseDeltaPage(text, 1, ["id", "displayName"], true);
    expect(page.managers).toEqual([{ userId: user, managerId: boss }]);
    expect(page.items).toEqual([{ kind: "user", user: { id: user, displayName: "A" } }, { kind: "user", user: { id: boss, displayName: "B" } }]);
    expect(parseDeltaPage(text, 1, ["id", "displayName"]).managers).toBeUndefined();
  });

  it("the manager relationship is not a property of the selection", () => {
    const select = ["id", "displayName"];
    expect(propertiesOf(select)).toBe(select);
    expect(propertiesOf([...select, "manager"])).toEqual(select);
  });
});
