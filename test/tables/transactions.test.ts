import { describe, expect, it } from "vitest";
import { encodeUserEntity, type UserEntity } from "../../src/tables/userEntity.js";
import { estimateOperationBytes, operationBytesBound, planTransactions, SERVICE_TRANSACTION_LIMITS } from "../../src/tables/transactions.js";
import { snapshotPartitionKey } from "../../src/tables/keys.js";

const SNAPSHOT = "20261121T023300123Z-a1b2c3";

function entities(count: number, partitionCount: number, extra: (i: number) => Record<string, unknown> = () => ({})): UserEntity[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `user-${i}`;
    return encodeUserEntity({ id, displayName: `User ${i}`, ...extra(i) }, snapshotPartitionKey(SNAPSHOT, id, partitionCount));
  });
}

function expectValid(plan: UserEntity[][], input: UserEntity[]) {
  for (const transaction of plan) {
    expect(transaction.length).toBeGreaterThan(0);
    expect(transaction.length).toBeLessThanOrEqual(100);
    expect(new Set(transaction.map((e) => e.partitionKey)).size).toBe(1);
    const bytes = transaction.reduce((sum, e) => sum + estimateOperationBytes(e), 0);
    if (transaction.length > 1) expect(bytes).toBeLessThanOrEqual(SERVICE_TRANSACTION_LIMITS.maxPayloadBytes);
  }
  // Every entity exactly once.
  expect(plan.flat().map((e) => e.rowKey).sort()).toEqual(input.map((e) => e.rowKey).sort());
}

describe("planTransactions", () => {
  it("keeps every transaction to one partition and at most 100 operations", () => {
    const input = entities(2500, 16);
    const plan = planTransactions(input);
    expectValid(plan, input);
    expect(new Set(plan.map((t) => t[0]!.partitionKey)).size).toBe(16);
    // 2,500 users over 16 partitions need at least 2 transactions per partition.
    expect(plan.length).toBeGreaterThanOrEqual(32);
  });

  it("fills transactions: 250 users in one partition make 100 + 100 + 50", () => {
    const plan = planTransactions(entities(250, 1));
    expect(plan.map((t) => t.length)).toEqual([100, 100, 50]);
  });

  it("never mixes partitions even when they interleave in the input", () => {
    const a = entities(3, 1).map((e) => ({ ...e, partitionKey: "p-a" }));
    const b = entities(3, 1).map((e) => ({ ...e, partitionKey: "p-b", rowKey: `${e.rowKey}-b` }));
    const input = [a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!];
    const plan = planTransactions(input);
    expectValid(plan, input);
    expect(plan.map((t) => t.map((e) => e.partitionKey))).toEqual([
      ["p-a", "p-a", "p-a"],
      ["p-b", "p-b", "p-b"],
    ]);
  });

  it("splits by estimated size before the 4 MiB request limit", () => {
    // ~128 KB of UTF-8 per user (32K two-byte characters, twice): 60 users are ~7.7 MB.
    const input = entities(60, 1, () => ({ aboutMe: "é".repeat(32_000), mySite: "ü".repeat(32_000) }));
    const plan = planTransactions(input);
    expectValid(plan, input);
    expect(plan.length).toBeGreaterThanOrEqual(2);
    expect(plan.every((t) => t.length < 60)).toBe(true);
  });

  it("honours smaller limits and gives an oversized entity a transaction of its own", () => {
    const input = entities(10, 1, (i) => ({ aboutMe: i === 4 ? "x".repeat(5000) : "short" }));
    const plan = planTransactions(input, { maxOperations: 3, maxPayloadBytes: 4000 });
    expect(plan.every((t) => t.length <= 3)).toBe(true);
    expect(plan.some((t) => t.length === 1 && t[0]!.rowKey === "user-4")).toBe(true);
    expect(plan.flat()).toHaveLength(10);
  });

  it("estimates an operation above its JSON body size", () => {
    const [entity] = entities(1, 1, () => ({ aboutMe: "日本語".repeat(1000) }));
    expect(estimateOperationBytes(entity!)).toBeGreaterThan(Buffer.byteLength(JSON.stringify(entity)));
  });

  it("bounds an operation without serialising it: never under the measured estimate, whatever the characters", () => {
    const samples = [
      ...entities(1, 1, () => ({ aboutMe: "日本語".repeat(1000) })),
      ...entities(1, 1, () => ({ note: "\u0001\u001f\"\\".repeat(500), ratio: { value: 0.5, type: "Double" }, flag: true, n: 7 })),
      ...entities(1, 1, () => ({ emoji: "😀".repeat(300), plain: "x".repeat(2000) })),
      ...entities(3, 4),
    ];
    for (const entity of samples) expect(operationBytesBound(entity)).toBeGreaterThanOrEqual(estimateOperationBytes(entity));
  });

  it("packs ordinary users 100 to a transaction without measuring each", () => {
    const input = entities(300, 1, (i) => ({ givenName: "秀英", surname: "刘", mail: `xiuying.${i}@contoso.com`, jobTitle: "Director", businessPhones: ["+1 425 555 0100"] }));
    expect(planTransactions(input).map((t) => t.length)).toEqual([100, 100, 100]);
  });

  it("counts a user by its bound up to the payload limit's share per operation, and plans the same transactions as exact sizes would", () => {
    // Bounds of ~20 KB: over the old 8 KiB measuring threshold, under 3.9 MiB ÷ 100 operations.
    const input = entities(250, 1, (i) => ({ aboutMe: `${i} ${"bio ".repeat(700)}` }));
    const bounds = input.map((e) => operationBytesBound(e));
    expect(Math.min(...bounds)).toBeGreaterThan(8 * 1024);
    expect(Math.max(...bounds)).toBeLessThanOrEqual(SERVICE_TRANSACTION_LIMITS.maxPayloadBytes / SERVICE_TRANSACTION_LIMITS.maxOperations);
    const plan = planTransactions(input);
    expect(plan.map((t) => t.length)).toEqual([100, 100, 50]);
    // By exact sizes too, 100 of them fit one transaction: cut by count only, the same transactions.
    expect(input.slice(0, 100).reduce((sum, e) => sum + estimateOperationBytes(e), 0)).toBeLessThan(SERVICE_TRANSACTION_LIMITS.maxPayloadBytes);
    expectValid(plan, input);
  });
});
