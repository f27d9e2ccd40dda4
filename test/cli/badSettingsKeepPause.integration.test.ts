/**
 * Bad settings never cost data, through the compiled command line: a snapshot paused by Ctrl+C is
 * still resumable after a run with a mistyped USER_SYNC_SELECT (`displayname,foo`), which fails at
 * start-up with exit 2, naming the nearest known property, before any request; and a storage
 * connection string the SDK would refuse fails the same way, naming the setting.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import type { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { expectNoSecrets, expectSnapshotEqualsDirectory, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 2500;
const SELECT = ["id", "displayName", "userPrincipalName", "jobTitle"];
const SERVICES = ["token", "metadata", "graph", "keyVault", "managedIdentity"] as const;

let world: SyncEnvironment;
let store: SnapshotStoreClient;

function env(extra: Record<string, string | undefined> = {}) {
  return world.cliEnv({ USER_SYNC_SELECT: SELECT.join(","), ...extra });
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS });
  store = composeStorage(loadStorageSettings(world.env)).store;
}, 120_000);
afterAll(async () => world?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a mistyped USER_SYNC_SELECT", () => {
  it("fails with exit 2 before any request, naming the nearest property, and the paused snapshot is still resumed afterwards", async () => {
    // A snapshot paused by Ctrl+C after its first page (the second page is held open).
    const hold = world.tenant.faults.hold("graph", (request) => /\/users\/?$/.test(request.url.pathname) && request.url.searchParams.has("$skiptoken"));
    let pausedRunId: string | undefined;
    try {
      const cli = startCli(["run", "--full", "--no-progress"], env());
      const deadline = Date.now() + 60_000;
      while (hold.held === 0 && Date.now() < deadline) await sleep(50);
      expect(hold.held, "the run's second page").toBeGreaterThan(0);
      // Its first page committed: a checkpoint to resume from.
      let checkpointed = false;
      while (!checkpointed && Date.now() < deadline) {
        for await (const run of store.listUnfinishedRuns()) if (run.stats.pages >= 1) checkpointed = true;
        if (!checkpointed) await sleep(100);
      }
      expect(checkpointed, "the first page's checkpoint").toBe(true);
      cli.child.kill("SIGINT");
      const paused = await cli.exited;
      expect(paused.code).toBe(4);
      const unfinished = await Array.fromAsync(store.listUnfinishedRuns());
      expect(unfinished).toHaveLength(1);
      pausedRunId = unfinished[0]!.runId;
    } finally {
      hold.release();
    }
    // The dropped request is logged once its connection is reset; count from after that.
    await sleep(500);
    world.tenant.requests.reset();
    const typo = await runCli(["run", "--full", "--no-progress"], env({ USER_SYNC_SELECT: "id,displayname,foo" }));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('USER_SYNC_SELECT "displayname" is not a Microsoft Graph user property: did you mean "displayName"?');
    expect(typo.stderr).toContain('"foo" is not a Microsoft Graph user property');
    expect(typo.stdout).toBe("");
    for (const service of SERVICES) expect(world.tenant.requests.count(service), service).toBe(0);
    expectNoSecrets(typo.stderr, [world.azurite.connectionString]);

    // The paused snapshot was not given up: it is still there, and the next run resumes it.
    expect((await Array.fromAsync(store.listUnfinishedRuns())).map((run) => run.runId)).toEqual([pausedRunId]);
    const resumed = await runCli(["run", "--no-progress"], env());
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).not.toContain("abandoned");
    const latest = await store.getLatestSnapshot();
    expect(latest?.runId).toBe(pausedRunId);
    await expectSnapshotEqualsDirectory(world.tenant, { settings: { select: SELECT }, store }, latest!.snapshotId, USERS);
  });
});

describe("a storage connection string the storage SDK would refuse", () => {
  const key = Buffer.from("not-a-real-account-key-material").toString("base64");
  it.each([
    ["without EndpointSuffix", `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key}`, "SNAPSHOT_STORAGE has no EndpointSuffix"],
    ["with an account key but no DefaultEndpointsProtocol", `AccountName=acct;AccountKey=${key};EndpointSuffix=core.windows.net`, "SNAPSHOT_STORAGE has AccountKey but neither DefaultEndpointsProtocol nor TableEndpoint"],
    ["a SAS without TableEndpoint", "SharedAccessSignature=sv=2024-11-04&ss=t&sig=abc", "SNAPSHOT_STORAGE has a SharedAccessSignature but no TableEndpoint"],
  ])("%s: exit 2 naming SNAPSHOT_STORAGE, before any request", async (_label, connectionString, expected) => {
    world.tenant.requests.reset();
    const result = await runCli(["run", "--no-progress"], env({ SNAPSHOT_STORAGE: connectionString }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(expected);
    for (const service of SERVICES) expect(world.tenant.requests.count(service), service).toBe(0);
    expectNoSecrets(result.stderr, [key]);
    // The read-only commands check it the same way.
    const runs = await runCli(["runs"], env({ SNAPSHOT_STORAGE: connectionString }));
    expect(runs.code).toBe(2);
    expect(runs.stderr).toContain(expected);
  });
});
