/**
 * Large string bodies (entity group transactions) go out as their UTF-8 bytes, encoded once before
 * signing; small ones are left alone; and users written in a transaction with names in several
 * scripts (two-byte strings, surrogate pairs, Latin-1) come back from Azurite exactly as written.
 */
import { createHttpHeaders, createPipelineRequest, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { ENCODED_BODY_MIN_LENGTH, encodedBodyPolicy } from "../../src/tables/encodedBodyPolicy.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import { azuriteTableStorage } from "../support/azuriteStorage.js";

async function sent(body: string | undefined): Promise<PipelineRequest["body"]> {
  const request = createPipelineRequest({ url: "https://account.table.core.windows.net/$batch", method: "POST", ...(body === undefined ? {} : { body }) });
  let seen: PipelineRequest["body"];
  await encodedBodyPolicy().sendRequest(request, async (r) => {
    seen = r.body;
    return { request: r, status: 202, headers: createHttpHeaders() } satisfies PipelineResponse;
  });
  return seen;
}

describe("encodedBodyPolicy", () => {
  it("sends a large string body as its UTF-8 bytes", async () => {
    const text = `--batch\r\n${'{"displayName":"刘秀英 Zoë 😀"}\r\n'.repeat(ENCODED_BODY_MIN_LENGTH / 16)}`;
    const body = await sent(text);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect((body as Buffer).equals(Buffer.from(text, "utf8"))).toBe(true);
  });

  it("leaves small string bodies and other bodies alone", async () => {
    expect(await sent('{"displayName":"刘"}')).toBe('{"displayName":"刘"}');
    expect(await sent(undefined)).toBeUndefined();
  });
});

describe("a transaction of users written in several scripts", () => {
  let azurite: AzuriteInstance;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => azurite?.close());

  it("reads back exactly what was written", async () => {
    const store = new SnapshotStoreClient({
      storage: azuriteTableStorage(azurite),
      tablePrefix: `enc${process.pid}`,
      partitionCount: 1,
    });
    await store.createTablesIfNotExist();
    const names = ["刘秀英", "Zoë Ångström", "Анна Петрова", "محمد", "😀 emoji", "plain ascii", "עברית", "ελληνικά"];
    const users: GraphUser[] = Array.from({ length: 100 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      displayName: `${names[i % names.length]} ${i}`,
      jobTitle: "x".repeat(300),
    }));
    const run = await store.startRun({ trigger: "cli", select: ["id", "displayName", "jobTitle"] });
    const result = await store.upsertUsers(run.snapshotId, users);
    // One partition, 100 users: one transaction, well over the size from which it goes as bytes.
    expect(result).toMatchObject({ entitiesWritten: 100, transactions: 1, skipped: [] });
    await store.completeRun(run, { pages: 1, usersRead: 100, entitiesWritten: 100, transactions: 1 });
    const read = new Map<string, GraphUser>();
    for await (const user of store.listSnapshotUsers(run.snapshotId)) read.set(user.id, user);
    expect(read.size).toBe(100);
    for (const user of users) expect(read.get(user.id)).toStrictEqual(user);
  });
});
