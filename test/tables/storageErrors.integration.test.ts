/**
 * Storage errors as the real SDK reports them, from Azurite: a batch with one entity the service
 * rejects is translated into a message that names that entity, its error code and the reason, and
 * does not call the service busy.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import type { UserSyncError } from "../../src/shared/errors.js";
import { storageError } from "../../src/tables/storageErrors.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";

let azurite: AzuriteInstance;
let table: TableClient;

beforeAll(async () => {
  azurite = await startAzurite();
  table = TableClient.fromConnectionString(azurite.connectionString, "storageErrors", { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  await table.createTable();
});
afterAll(async () => azurite?.close());

describe("storage errors from the service", () => {
  it.each([
    ["a property value over 64 KiB", { tooLong: "y".repeat(40_000) }, "PropertyValueTooLarge", "a property value is over 64 KiB"],
    ["an entity over 1 MiB", Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, "z".repeat(32_000)])), "EntityTooLarge", "the entity is over 1 MiB"],
  ])("name the entity of a batch the service rejected for %s", async (_label, properties, code, why) => {
    const entities = [
      { partitionKey: "p", rowKey: "first" },
      { partitionKey: "p", rowKey: "second" },
      { partitionKey: "p", rowKey: "rejected", ...properties },
    ];
    const failure = await table.submitTransaction(entities.map((entity) => ["upsert", entity, "Replace"] as const)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeDefined();
    const error = storageError(loadStorageSettings({ SNAPSHOT_STORAGE: azurite.connectionString }), "storageErrors", "writing 3 users", failure, { batch: entities }) as UserSyncError;
    expect(error.code).toBe("storage_request_failed");
    expect(error.message).toContain(`(400 ${code}). The storage service rejected an entity (operation 3 of 3 of the batch: entity p/rejected) with ${code}: ${why}.`);
    expect(error.message).toContain("Nothing of that batch was written");
    expect(error.message).not.toMatch(/busy|concurrency/i);
    expect(error.details).toMatchObject({ operationIndex: 2, rowKey: "rejected", requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // All or nothing: the valid entities of the batch are not there either.
    await expect(table.getEntity("p", "first")).rejects.toMatchObject({ statusCode: 404 });
  });
});
