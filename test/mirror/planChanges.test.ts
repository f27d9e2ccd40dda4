import { describe, expect, it } from "vitest";
import type { DeltaItem } from "../../src/graph/userDeltaClient.js";
import type { MirrorUser } from "../../src/mirror/mirrorEntity.js";
import { lastPerId, planDeltaPage, sameUser } from "../../src/mirror/planChanges.js";

const now = new Date("2026-01-02T03:04:05Z");
const context = { runId: "run2", round: "round1", now };
const user = (id: string, displayName: string | null) => ({ id, displayName });
const present = (id: string, displayName: string | null, extra: Partial<MirrorUser> = {}): MirrorUser => ({ user: user(id, displayName), state: "present", round: "round1", runId: "run1", ...extra });

describe("planDeltaPage", () => {
  it("adds, updates, restores and removes, keeping the last known properties of removed users", () => {
    const items: DeltaItem[] = [
      { kind: "user", user: user("new", "N") },
      { kind: "user", user: user("changed", null) },
      { kind: "user", user: user("restored", "R") },
      { kind: "removed", id: "soft", reason: "changed" },
      { kind: "removed", id: "unknown", reason: "deleted" },
    ];
    const existing = new Map<string, MirrorUser>([
      ["changed", present("changed", "Before")],
      ["restored", present("restored", "R", { state: "softDeleted", removedAt: now })],
      ["soft", present("soft", "Soft")],
    ]);
    const plan = planDeltaPage(items, existing, context);
    expect(plan.changes.map((c) => [c.id, c.change, c.reason])).toEqual([
      ["new", "added", undefined],
      ["changed", "updated", undefined],
      ["restored", "restored", undefined],
      ["soft", "removed", "changed"],
      ["unknown", "removed", "deleted"],
    ]);
    expect(plan.changes[3]!.user).toEqual(user("soft", "Soft"));
    // A cleared value is written whole (Replace), so the column goes away.
    expect(plan.writes[1]).toEqual({ mode: "Replace", mirrorUser: { user: user("changed", null), state: "present", round: "round1", runId: "run2", change: "updated" } });
    expect(plan.writes[3]).toEqual({ mode: "Merge", id: "soft", state: { state: "softDeleted", removedAt: now, round: "round1", runId: "run2", change: "removed" } });
    expect(plan.writes[4]).toMatchObject({ mode: "Replace", mirrorUser: { user: { id: "unknown" }, state: "deleted" } });
  });

  it("plans nothing for a page the mirror already reflects (a replay)", () => {
    const existing = new Map<string, MirrorUser>([
      ["a", present("a", "A")],
      ["b", present("b", "B", { state: "deleted", removedAt: new Date(0) })],
    ]);
    const plan = planDeltaPage([{ kind: "user", user: user("a", "A") }, { kind: "removed", id: "b", reason: "deleted" }], existing, context);
    expect(plan).toEqual({ writes: [], changes: [], unchanged: 2 });
  });

  it("keeps the first kind of change when a user changes again in the same run", () => {
    const existing = new Map<string, MirrorUser>([["a", present("a", "A", { runId: "run2", change: "added" })]]);
    const plan = planDeltaPage([{ kind: "user", user: user("a", "A2") }], existing, context);
    expect(plan.changes[0]!.change).toBe("added");
  });

  it("uses the last entry of a user repeated within a page", () => {
    const items: DeltaItem[] = [{ kind: "user", user: user("a", "1") }, { kind: "user", user: user("b", "x") }, { kind: "user", user: user("a", "2") }];
    expect(lastPerId(items).map((i) => (i.kind === "user" ? i.user.displayName : ""))).toEqual(["x", "2"]);
    expect(planDeltaPage(items, new Map(), context).writes).toHaveLength(2);
  });
});

describe("sameUser: the canonical comparison (issue 18)", () => {
  const stored = { id: "a", displayName: "A", mail: null, businessPhones: [], employeeOrgData: { division: "North", costCenter: null } };

  it("reads null and absent as the same, and ignores key order at any depth", () => {
    expect(sameUser(stored, { id: "a", displayName: "A", businessPhones: [], employeeOrgData: { division: "North" } })).toBe(true);
    expect(sameUser(stored, { employeeOrgData: { costCenter: null, division: "North" }, businessPhones: [], displayName: "A", id: "a" })).toBe(true);
    expect(sameUser(stored, { ...stored, "@odata.type": "#microsoft.graph.user" })).toBe(true);
  });

  it("still sees every real change: a value, a value cleared or set, array order, an empty array against null", () => {
    expect(sameUser(stored, { ...stored, displayName: "B" })).toBe(false);
    expect(sameUser(stored, { ...stored, mail: "a@example.com" })).toBe(false);
    expect(sameUser({ ...stored, mail: "a@example.com" }, { id: "a", displayName: "A", businessPhones: [], employeeOrgData: { division: "North" } })).toBe(false);
    expect(sameUser({ ...stored, businessPhones: ["1", "2"] }, { ...stored, businessPhones: ["2", "1"] })).toBe(false);
    expect(sameUser(stored, { ...stored, businessPhones: null })).toBe(false);
    expect(sameUser(stored, { ...stored, employeeOrgData: { division: "South" } })).toBe(false);
  });

  it("counts a user that delta returns without its unset properties as unchanged, and one whose value moved as updated", () => {
    const existing = new Map<string, MirrorUser>([
      ["a", { user: stored, state: "present", round: "round1", runId: "run1" }],
      ["b", { user: { id: "b", displayName: "B", mail: null }, state: "present", round: "round1", runId: "run1" }],
    ]);
    const plan = planDeltaPage(
      [
        { kind: "user", user: { displayName: "A", id: "a", businessPhones: [], employeeOrgData: { division: "North" } } },
        { kind: "user", user: { id: "b", displayName: "B2" } },
      ],
      existing,
      context,
    );
    expect(plan.unchanged).toBe(1);
    expect(plan.changes.map((c) => [c.id, c.change])).toEqual([["b", "updated"]]);
  });
});
