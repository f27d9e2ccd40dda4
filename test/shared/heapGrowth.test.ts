import { describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from "../../src/shared/heapGrowth.js";

describe("the process's heap growth", () => {
  it("sets V8's heap growth to the product's percent", () => {
    const set: string[] = [];
    expect(limitHeapGrowth({ execArgv: ["--enable-source-maps"], setFlags: (flags) => void set.push(flags) })).toBe(true);
    expect(set).toEqual([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
    expect(HEAP_GROWING_PERCENT).toBe(50);
  });

  it("leaves a growth given to Node itself as given, in either spelling V8 accepts", () => {
    for (const arg of ["--heap-growing-percent=100", "--heap_growing_percent=100", "--heap-growing-percent"]) {
      const set: string[] = [];
      expect(limitHeapGrowth({ execArgv: [arg], setFlags: (flags) => void set.push(flags) }), arg).toBe(false);
      expect(set).toEqual([]);
    }
  });
});
