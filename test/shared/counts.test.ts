import { describe, expect, it } from "vitest";
import { formatCount, formatNumber } from "../../src/shared/counts.js";

describe("counts", () => {
  it("formats numbers with thousands separators", () => {
    expect(formatNumber(6993)).toBe("6,993");
    expect(formatNumber(1_000_000)).toBe("1,000,000");
  });

  it("puts the noun in the right number", () => {
    expect(formatCount(1, "page")).toBe("1 page");
    expect(formatCount(0, "page")).toBe("0 pages");
    expect(formatCount(2, "snapshot")).toBe("2 snapshots");
    expect(formatCount(6993, "entity", "entities")).toBe("6,993 entities");
    expect(formatCount(1, "entity", "entities")).toBe("1 entity");
  });
});
