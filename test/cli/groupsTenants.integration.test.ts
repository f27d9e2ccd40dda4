/**
 * USER_SYNC_GROUPS=true in multi-tenant mode, through the compiled CLI: each registered tenant's run
 * checks its own token (the simulated customer tenants grant no groups role), promotes that
 * tenant's users in its own tables, and fails its groups part naming GroupMember.Read.All and that
 * tenant's admin-consent URL; the groups' tables it created are the tenant's own (its prefix).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import { tenantTablePrefix } from "../../src/tenants/tenantId.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const T1 = "a1a1a1a1-0000-4000-8000-000000000001";
let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  return runCli(args, world.cliEnv({ GRAPH_TENANT_ID: undefined, USER_SYNC_TENANT_MODE: "multi", USER_SYNC_GROUPS: "true", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 7, customerTenants: [{ tenantId: T1, userCount: 40 }] });
}, 120_000);
afterAll(async () => world?.close());

describe("groups in multi-tenant mode", () => {
  it("run --tenant promotes the tenant's users in its own tables and fails its groups part with its own consent URL", async () => {
    const added = await cli(["tenants", "add", T1, "--name", "Contoso"]);
    expect(added.code, added.stderr).toBe(0);
    const result = await cli(["run", "--tenant", T1]);
    expect(result.code).toBe(1);
    const output = result.stdout + result.stderr;
    expect(output).toContain("GroupMember.Read.All");
    expect(output).toMatch(new RegExp(`/${T1}/(v2\\.0/)?adminconsent\\?client_id=`));

    const storage = loadStorageSettings(world.env);
    const prefix = tenantTablePrefix(T1);
    const store = new SnapshotStoreClient({ storage, tablePrefix: prefix });
    const latest = await store.getLatestSnapshot();
    expect(latest?.userCount).toBe(40);
    expect((await store.getRun(latest!.runId))?.groups).toMatchObject({ status: "failed", errorCode: "graph_permission_missing" });
    // The tenant's groups' stores are under its own prefix, and hold no edge (no groups request was made).
    const stores = composeGroupStores(storage, undefined, prefix);
    expect(stores.edges.tableNames.forward).toBe(`${prefix}GroupMembers`);
    expect(await Array.fromAsync(stores.edges.listEdges("mirror"))).toEqual([]);
  });
});
