import { describe, expect, it } from "vitest";
import { byKey, mergeSorted } from "../../src/shared/mergeSorted.js";

async function* from<T>(items: T[]): AsyncIterableIterator<T> {
  for (const item of items) yield item;
}

describe("mergeSorted", () => {
  it("merges sorted streams into one sorted stream, empty streams included", async () => {
    const merged = await Array.fromAsync(mergeSorted([from(["b", "e"]), from([]), from(["a", "c", "f"]), from(["d"])], byKey((s: string) => s)));
    expect(merged).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("reads each stream one item ahead only", async () => {
    let read = 0;
    async function* counted(items: number[]) {
      for (const item of items) {
        read += 1;
        yield item;
      }
    }
    const merged = mergeSorted([counted([1, 3, 5]), counted([2, 4, 6])], (a, b) => a - b);
    expect((await merged.next()).value).toBe(1);
    expect(read, "one item of each stream held").toBe(2);
  });
});
