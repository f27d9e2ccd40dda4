/**
 * A `run` with USER_SYNC_GROUPS=true killed with SIGKILL in the middle of its groups pass (every
 * user page written and checkpointed, the second `/groups/delta` page held by the simulated tenant):
 * nothing is promoted, and the next `run` continues the same snapshot run (its holder is gone from
 * this machine), does the groups pass again and promotes the snapshot, whose groups and edges equal
 * the directory's.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  // A group of 1,200 members: its links span three pages of /groups/delta.
  world = await startSyncEnvironment({ userCount: 1300, seed: 37, groups: { count: 10, largeGroupMembers: 1200 } });
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await world?.close();
});

const env = () => world.cliEnv({ USER_SYNC_GROUPS: "true" });

describe("a run killed in its groups pass", () => {
  it("is continued by the next run, which does the groups pass again and promotes the snapshot", async () => {
    let groupPages = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const remove = world.tenant.intercept("graph", async (request) => {
      if (!request.url.pathname.startsWith("/v1.0/groups/delta")) return undefined;
      groupPages += 1;
      if (groupPages === 2) await held;
      return undefined;
    });
    try {
      const first = startCli(["run"], env());
      children.push(first.child);
      const deadline = Date.now() + 90_000;
      while (groupPages < 2 && Date.now() < deadline) await sleep(100);
      expect(groupPages, "the groups pass reached its second page").toBe(2);
      first.child.kill("SIGKILL");
      expect((await first.exited).signal).toBe("SIGKILL");
    } finally {
      release();
      remove();
    }
    const { store } = composeStorage(loadStorageSettings(world.env));
    expect(await store.getLatestSnapshot(), "nothing promoted").toBeUndefined();
    const killed = (await Array.fromAsync(store.listUnfinishedRuns()))[0]!;
    expect(killed.status).toBe("running");
    expect(killed.checkpoint?.nextLink, "every user page was written before the groups pass").toBeUndefined();

    const second = await runCli(["run"], env());
    expect(second.code, second.stderr).toBe(0);
    const latest = await store.getLatestSnapshot();
    expect(latest?.snapshotId, "the killed run's snapshot was continued, not started again").toBe(killed.snapshotId);
    const run = await store.getRun(latest!.runId);
    expect(run?.stats.counters.resumes).toBe(1);

    const groups = world.tenant.groups;
    const expectedEdges = new Set<string>();
    const expectedGroups = new Set<string>();
    for (let slot = 0; slot < groups.slotCount; slot++) {
      const group = groups.groupInSlot(slot);
      if (!group) continue;
      expectedGroups.add(String(group.id));
      for (const m of groups.currentMembers(String(group.id))) expectedEdges.add(`${String(group.id)}>${m.id}:${m.type}`);
    }
    const stores = composeGroupStores(loadStorageSettings(world.env));
    const edges = new Set<string>();
    for await (const e of stores.edges.listEdges(latest!.snapshotId)) edges.add(`${e.sourceId}>${e.targetId}:${e.targetType}`);
    expect(edges.size).toBe(expectedEdges.size);
    expect([...edges].filter((e) => !expectedEdges.has(e))).toEqual([]);
    const stored = new Set((await Array.fromAsync(stores.snapshots.listSnapshotObjects(latest!.snapshotId))).map((g) => g.id));
    expect(stored).toEqual(expectedGroups);
    expect(run?.groups).toMatchObject({ status: "succeeded", groups: expectedGroups.size, edges: expectedEdges.size });
  });
});
