/**
 * The settings layer reads a storage connection string as the storage SDKs will: every string it
 * accepts, @azure/data-tables and @azure/storage-queue accept with the same endpoint; every string it
 * refuses (with a phrase naming what is missing), they refuse too.
 */
import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { describe, expect, it } from "vitest";
import { storageEndpointOf, type StorageService } from "../../src/configuration/storageConnectionString.js";

const KEY = Buffer.from("not-a-real-account-key-material").toString("base64");
const CASES: string[] = [
  "UseDevelopmentStorage=true",
  `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
  `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.chinacloudapi.cn`,
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1`,
  `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY}`,
  `AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
  `AccountName=acct;AccountKey=${KEY}`,
  `DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
  `DefaultEndpointsProtocol=https;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
  "SharedAccessSignature=sv=2024-11-04&sig=abc",
  "TableEndpoint=https://acct.table.core.windows.net;QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=sv=2024-11-04&sig=abc",
];

function sdkEndpoint(connectionString: string, service: StorageService): string | undefined {
  try {
    const url = service === "table" ? TableClient.fromConnectionString(connectionString, "t").url : new QueueClient(connectionString, "q").url;
    return url.replace(/\/(t|q)(\?.*)?$/, "").replace(/\?.*$/, "").replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

describe("storageEndpointOf agrees with the storage SDKs", () => {
  for (const service of ["table", "queue"] as const) {
    it.each(CASES)(`${service}: %s`, (connectionString) => {
      const ours = storageEndpointOf(connectionString, service);
      const sdk = sdkEndpoint(connectionString, service);
      if ("endpoint" in ours) expect(sdk, "the SDK accepts it").toBe(ours.endpoint);
      else {
        expect(sdk, `the SDK refuses it too (we said: ${ours.problem})`).toBeUndefined();
        expect(ours.problem).not.toContain(KEY);
      }
    });
  }
});
