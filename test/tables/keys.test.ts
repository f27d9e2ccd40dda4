import { describe, expect, it } from "vitest";
import { isRunId, newRunId, runRowKey, shardOf, snapshotPartitionKey, timeOfRunId } from "../../src/tables/keys.js";

describe("run ids and keys", () => {
  it("encode the UTC start time, sort by it, and are valid table keys", () => {
    const early = newRunId(new Date("2026-11-21T02:33:00.123Z"));
    const later = newRunId(new Date("2026-11-21T02:33:00.124Z"));
    expect(early).toMatch(/^20261121T023300123Z-[0-9a-f]{6}$/);
    expect(isRunId(early)).toBe(true);
    expect(early < later).toBe(true);
    expect(timeOfRunId(early)?.toISOString()).toBe("2026-11-21T02:33:00.123Z");
    expect(/[/\\#?]/.test(early)).toBe(false);
  });

  it("rejects values that are not ids", () => {
    for (const value of ["", "20261121T023300123Z", "20261121T023300123Z-ABCDEF", "x' or 1 eq 1", "20261121T023300123Z-a1b2c3-00"]) {
      expect(isRunId(value)).toBe(false);
      expect(runRowKey(value)).toBeUndefined();
    }
    // The right shape but not a real time.
    expect(isRunId("20261341T023300123Z-a1b2c3")).toBe(false);
    expect(timeOfRunId("20260230T246000123Z-a1b2c3")).toBeUndefined();
  });

  it("gives run RowKeys that sort newest first", () => {
    const ids = ["2024-01-01T00:00:00.000Z", "2026-11-21T02:33:00.123Z", "2026-11-21T02:33:00.124Z", "2031-05-05T05:05:05.005Z"].map((t) =>
      newRunId(new Date(t)),
    );
    const keys = ids.map((id) => runRowKey(id)!);
    expect([...keys].sort()).toEqual([...keys].reverse());
    for (const key of keys) expect(key).toMatch(/^\d{13}-[0-9a-f]{6}$/);
    // They sort before the pointer row "latest".
    expect(keys.every((k) => k < "latest")).toBe(true);
  });
});

describe("shards", () => {
  it("are stable two-digit hex values below the partition count", () => {
    expect(shardOf("6e7b768e-07e2-4810-8459-485f84f8f204", 16)).toBe(shardOf("6e7b768e-07e2-4810-8459-485f84f8f204", 16));
    for (let i = 0; i < 1000; i++) {
      const shard = shardOf(`id-${i}`, 16);
      expect(shard).toMatch(/^0[0-9a-f]$/);
    }
    expect(shardOf("anything", 1)).toBe("00");
    expect(shardOf("anything", 256)).toMatch(/^[0-9a-f]{2}$/);
  });

  it("spread GUIDs over every partition, roughly evenly", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 16_000; i++) {
      const guid = `${(i * 2654435761 >>> 0).toString(16).padStart(8, "0")}-1234-4abc-8def-${i.toString(16).padStart(12, "0")}`;
      const shard = shardOf(guid, 16);
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    expect(counts.size).toBe(16);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(700);
      expect(count).toBeLessThan(1300);
    }
  });

  it("form the PartitionKey <snapshotId>-<shard>", () => {
    expect(snapshotPartitionKey("20261121T023300123Z-a1b2c3", "u1", 16)).toBe(`20261121T023300123Z-a1b2c3-${shardOf("u1", 16)}`);
  });
});
