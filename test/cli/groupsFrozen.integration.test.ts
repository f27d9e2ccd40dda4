/**
 * A `run` with USER_SYNC_GROUPS=true frozen (SIGSTOP) in its groups pass, past its writer lease
 * (its second `/groups/delta` request held by the simulated tenant): another `run` takes the lease
 * over, continues the snapshot from the groups pass's checkpoint and promotes it. Thawed (SIGCONT,
 * its page answered), the frozen run writes nothing: it exits with `lease_lost` (exit 3), the
 * snapshot run record and the groups' mirror runs are as the run that took over left them, and the
 * exports of the snapshot and of the groups' mirror still equal the directory edge for edge.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const LEASE_SECONDS = 15;
let world: SyncEnvironment;
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 1300, seed: 41, groups: { count: 8, largeGroupMembers: 1200 } });
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await world?.close();
});

const env = () => world.cliEnv({ USER_SYNC_GROUPS: "true", USER_SYNC_LEASE_SECONDS: String(LEASE_SECONDS) });
/**
 * The run that takes over: a lease long enough that a loaded machine starving it for a few seconds
 * does not cost it its own lease (only the frozen run's lease has to lapse here).
 */
const takeoverEnv = () => world.cliEnv({ USER_SYNC_GROUPS: "true", USER_SYNC_LEASE_SECONDS: "120" });

async function exported(args: string[]): Promise<string[]> {
  const result = await runCli(["export", ...args], env());
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.split("\n").filter((line) => line !== "").sort();
}

function directoryEdges(): string[] {
  const g = world.tenant.groups;
  const edges: string[] = [];
  for (let slot = 0; slot < g.slotCount; slot++) {
    const group = g.groupInSlot(slot);
    if (!group) continue;
    for (const m of g.currentMembers(String(group.id))) edges.push(`${String(group.id)}>${m.id}:${m.type}`);
  }
  return edges.sort();
}

describe("a run frozen in its groups pass past its lease", () => {
  it("writes nothing once thawed: the run that took over continued the pass and promoted the snapshot", async () => {
    const settings = loadStorageSettings(world.env);
    const { store } = composeStorage(settings);
    const groups = composeGroupStores(settings);
    let groupPages = 0;
    let frozen: ReturnType<typeof startCli> | undefined;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const remove = world.tenant.intercept("graph", async (request) => {
      if (!request.url.pathname.startsWith("/v1.0/groups/delta")) return undefined;
      groupPages += 1;
      if (groupPages === 2) {
        frozen?.child.kill("SIGSTOP");
        await held;
      }
      return undefined;
    });
    try {
      frozen = startCli(["run"], env());
      children.push(frozen.child);
      const deadline = Date.now() + 240_000;
      while (groupPages < 2 && Date.now() < deadline) await sleep(100);
      expect(groupPages, "the frozen run reached its second groups page").toBe(2);
      for (let i = 0; i < 1200 && (await store.getLease()) !== undefined; i++) await sleep(100);
      expect(await store.getLease(), "the frozen run's lease expired").toBeUndefined();

      const next = await runCli(["run"], takeoverEnv());
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout + next.stderr).toMatch(/continuing the groups pass from its checkpoint/);
      const latest = (await store.getLatestSnapshot())!;
      const record = await store.getRun(latest.runId);
      expect(record?.status).toBe("succeeded");
      const mirrorRuns = await Array.fromAsync(groups.mirror.listRuns());
      const snapshotEdges = await exported(["--latest", "--memberships"]);
      const mirrorEdges = await exported(["--current", "--memberships"]);

      // Thawed: its held page is answered now.
      release();
      frozen.child.kill("SIGCONT");
      const exit = await frozen.exited;
      expect(exit.code, exit.stderr).toBe(3);
      expect(exit.stderr).toContain("[lease_lost]");

      expect(await store.getRun(latest.runId), "the snapshot run record is the one the run that took over wrote").toEqual(record);
      expect((await store.getLatestSnapshot())?.snapshotId).toBe(latest.snapshotId);
      expect(await Array.fromAsync(groups.mirror.listRuns()), "no groups' mirror run recorded by the thawed run").toEqual(mirrorRuns);
      expect(await exported(["--latest", "--memberships"])).toEqual(snapshotEdges);
      expect(await exported(["--current", "--memberships"])).toEqual(mirrorEdges);
      const edgeKey = (line: string) => {
        const e = JSON.parse(line) as Record<string, unknown>;
        return `${String(e.groupId)}>${String(e.memberId)}:${String(e.memberType)}`;
      };
      expect(snapshotEdges.map(edgeKey).sort()).toEqual(directoryEdges());
      expect(mirrorEdges.map(edgeKey).sort()).toEqual(directoryEdges());
    } finally {
      release();
      remove();
      frozen?.child.kill("SIGCONT");
    }
  }, 600_000);
});
