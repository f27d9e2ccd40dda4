/**
 * Snapshot stores of a test file, each on tables of its own in the file's Azurite, and the table
 * requests a piece of work sends (as they leave Node's HTTP client).
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import { SnapshotStoreClient, type SnapshotStoreClientOptions } from "../../src/snapshots/snapshotStoreClient.js";
import type { TestFileAzurite } from "./azuriteStorage.js";

let prefixCounter = 0;

/** A table prefix no other store of this process uses: `<stem><n>x<pid>`. */
export function uniqueTablePrefix(stem: string): string {
  return `${stem}${++prefixCounter}x${process.pid}`;
}

/** A store on new tables (prefix `uniqueTablePrefix(stem)` unless `options` names one), its tables created. */
export async function newSnapshotStore(azurite: TestFileAzurite, stem: string, options: Partial<SnapshotStoreClientOptions> = {}): Promise<SnapshotStoreClient> {
  const store = new SnapshotStoreClient({ storage: azurite.tableStorage, tablePrefix: uniqueTablePrefix(stem), ...options });
  await store.createTablesIfNotExist();
  return store;
}

/** Records `METHOD /path` (decoded) of every request to `tableEndpoint`'s host until `stop()`. */
export function recordTableRequests(tableEndpoint: string): { requests: string[]; stop(): void } {
  const requests: string[] = [];
  const host = new URL(tableEndpoint).host;
  const onRequest = (message: unknown) => {
    const { request } = message as { request: ClientRequest };
    if (request.getHeader("host") === host) requests.push(`${request.method} ${decodeURIComponent(request.path)}`);
  };
  diagnosticsChannel.subscribe("http.client.request.start", onRequest);
  return { requests, stop: () => diagnosticsChannel.unsubscribe("http.client.request.start", onRequest) };
}

/** The requests to `tableEndpoint` while `work` runs. */
export async function tableRequestsOf<T>(tableEndpoint: string, work: () => Promise<T>): Promise<{ result: T; requests: string[] }> {
  const recording = recordTableRequests(tableEndpoint);
  try {
    return { result: await work(), requests: recording.requests };
  } finally {
    recording.stop();
  }
}
