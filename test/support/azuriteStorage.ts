/**
 * A test file's Azurite: started before the file's tests and closed after them, and the stores' and
 * the tenant queue's settings for it (its account key, plain HTTP on loopback).
 */
import { afterAll, beforeAll } from "vitest";
import type { TenantQueueSettings } from "../../src/configuration/queueSettings.js";
import type { TableStorageSettings } from "../../src/configuration/storageSettings.js";
import { startAzurite, type AzuriteInstance, type StartAzuriteOptions } from "../../tools/azurite.js";

export function azuriteTableStorage(azurite: AzuriteInstance): TableStorageSettings {
  return { kind: "connectionString", connectionString: azurite.connectionString, tableEndpoint: azurite.tableEndpoint, allowInsecureConnection: true };
}

export function azuriteQueueStorage(azurite: AzuriteInstance): TenantQueueSettings {
  return { kind: "connectionString", connectionString: azurite.connectionString };
}

/** The Azurite of a test file, readable from its hooks and tests once the file's beforeAll has run. */
export interface TestFileAzurite {
  readonly instance: AzuriteInstance;
  /** The instance's table settings (azuriteTableStorage). */
  readonly tableStorage: TableStorageSettings;
}

/** Registers, in the calling test file, a beforeAll that starts one Azurite and an afterAll that closes it. */
export function azuriteForTestFile(options: StartAzuriteOptions = {}): TestFileAzurite {
  let started: TestFileAzurite | undefined;
  beforeAll(async () => {
    const instance = await startAzurite(options);
    started = { instance, tableStorage: azuriteTableStorage(instance) };
  });
  afterAll(async () => started?.instance.close());
  const running = () => {
    if (started === undefined) throw new Error("Azurite is not running yet: read it in a hook or a test, not while the file is collected");
    return started;
  };
  return {
    get instance() {
      return running().instance;
    },
    get tableStorage() {
      return running().tableStorage;
    },
  };
}
