import { describe, expect, it } from "vitest";
import { IdInterner } from "../../src/kinds/idInterner.js";

describe("IdInterner", () => {
  it("gives each distinct id the next index once, and maps indices back to ids", () => {
    const ids = new IdInterner();
    expect(ids.size).toBe(0);
    expect(ids.indexOf("a")).toBeUndefined();
    expect([ids.intern("a"), ids.intern("b"), ids.intern("a"), ids.intern("c"), ids.intern("b")]).toEqual([0, 1, 0, 2, 1]);
    expect(ids.size).toBe(3);
    expect(ids.indexOf("c")).toBe(2);
    expect(ids.indexOf("d")).toBeUndefined();
    expect([0, 1, 2].map((i) => ids.idAt(i))).toEqual(["a", "b", "c"]);
  });
});
