/**
 * The group read ports over the stores (src/cli/groupStoreSources.ts), against Azurite, after runs
 * of the compiled CLI: a whole read passes assertWhole; a read that raced a change fails it with
 * read_incomplete, as the users' exports do (the snapshot: retention began deleting it; the
 * mirror: a round wrote to it). Memberships come in (group id, member id) order, groups in id order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupSourcesFromEnvironment } from "../../src/cli/groupSources.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;

function cli(args: string[]) {
  return runCli(args, world.cliEnv({ USER_SYNC_GROUPS: "true", SNAPSHOT_RETENTION_COUNT: "1", SNAPSHOT_RETENTION_DAYS: "0", SNAPSHOT_RETENTION_GRACE_MINUTES: "0" }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 40, seed: 5, groups: { count: 5 } });
}, 120_000);
afterAll(async () => world?.close());

describe("group sources over the stores", () => {
  it("a whole read passes; a read that raced retention or a mirror round fails with read_incomplete", async () => {
    const first = await cli(["run", "--full"]);
    expect(first.code, first.stderr).toBe(0);
    const runs = await cli(["runs", "--json"]);
    const snapshotId = String((JSON.parse(runs.stdout.split("\n").find((l) => l.includes('"kind":"snapshot"'))!) as { snapshotId: string }).snapshotId);

    const sources = groupSourcesFromEnvironment(undefined, world.env);
    const snapshot = (await sources.snapshot(snapshotId))!;
    const current = (await sources.current())!;
    for (const source of [snapshot, current]) {
      const edges = await Array.fromAsync(source.listMemberships());
      expect(edges.length).toBeGreaterThan(0);
      const keys = edges.map((e) => [e.groupId, e.memberId] as const);
      for (let i = 1; i < keys.length; i++) expect(keys[i - 1]![0] < keys[i]![0] || (keys[i - 1]![0] === keys[i]![0] && keys[i - 1]![1] < keys[i]![1])).toBe(true);
      const ids = (await Array.fromAsync(source.listGroups())).map((g) => String(g.id));
      expect(ids).toEqual([...ids].sort());
      // The users' managers of the same scope (USER_SYNC_GROUPS), ascending by user id: what diff --groups compares.
      const managers = (await Array.fromAsync(source.listManagers())).map((l) => `${l.userId}>${l.managerId}`);
      const expected: string[] = [];
      for (let i = 0; i < 40; i++) {
        const manager = world.tenant.changes.managerOf(i);
        if (manager !== undefined) expected.push(`${world.tenant.changes.userIdAt(i)}>${manager}`);
      }
      expect(expected).toHaveLength(39);
      expect(managers).toEqual(expected.sort());
      await expect(source.assertWhole()).resolves.toBeUndefined();
    }

    world.tenant.groups.addMember(1, { user: 39 });
    const second = await cli(["run", "--full"]);
    expect(second.code, second.stderr).toBe(0);
    await expect(snapshot.assertWhole()).rejects.toMatchObject({ code: "read_incomplete" });
    await expect(current.assertWhole()).rejects.toMatchObject({ code: "read_incomplete" });
    await expect(sources.snapshot(snapshotId)).rejects.toMatchObject({ code: "snapshot_not_found" });
  });
});
