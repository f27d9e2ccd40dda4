/**
 * `export --with-manager-chain` (issue 29, item 5), as an operator runs it: the compiled CLI in its
 * own process against Azurite and the simulated tenant. Each user's chain of managers equals the
 * one walked in the simulated directory (a cycle of managers included: the chain ends before the
 * repeat and says so), from a snapshot and from the live mirror, in JSON Lines and CSV; without
 * USER_SYNC_GROUPS (the setting, or data kept without it) the flag fails with exit 2 naming it.
 */
import { stringify } from "csv-stringify/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 90;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;

interface ChainLine {
  id: string;
  managerChain: string[];
  managerChainCycle?: boolean;
}

function cli(args: string[], groups: boolean | undefined) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_GROUPS: groups === undefined ? undefined : String(groups) }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 43, groups: { count: 4, largeGroupMembers: 20 } });
}, 120_000);
afterAll(async () => world?.close());

/** Each user's chain in the simulated directory now, walked there (a Set of the ids seen), by user id. */
function directoryChains(): Map<string, { managerChain: string[]; managerChainCycle?: true }> {
  const changes = world.tenant.changes;
  const indexOf = new Map<string, number>();
  for (let i = 0; i < USERS; i++) indexOf.set(changes.userIdAt(i), i);
  const chains = new Map<string, { managerChain: string[]; managerChainCycle?: true }>();
  for (let i = 0; i < USERS; i++) {
    const id = changes.userIdAt(i);
    const seen = new Set([id]);
    const chain: string[] = [];
    let cycle = false;
    for (let manager = changes.managerOf(i); manager !== undefined; manager = changes.managerOf(indexOf.get(manager)!)) {
      if (seen.has(manager)) {
        cycle = true;
        break;
      }
      seen.add(manager);
      chain.push(manager);
    }
    chains.set(id, { managerChain: chain, ...(cycle ? { managerChainCycle: true as const } : {}) });
  }
  return chains;
}

function exportedChains(stdout: string): Map<string, { managerChain: string[]; managerChainCycle?: true }> {
  const chains = new Map<string, { managerChain: string[]; managerChainCycle?: true }>();
  for (const line of stdout.split("\n").filter((l) => l !== "")) {
    const user = JSON.parse(line) as ChainLine;
    chains.set(user.id, { managerChain: user.managerChain, ...(user.managerChainCycle === true ? { managerChainCycle: true as const } : {}) });
  }
  return chains;
}

async function latestSnapshotId(): Promise<string> {
  const latest = await composeStorage(loadStorageSettings(world.env)).store.getLatestSnapshot();
  return latest!.snapshotId;
}

describe("export --with-manager-chain", () => {
  let withoutManagers: string;

  it("fails with exit 2 naming USER_SYNC_GROUPS when the setting is off, and when the data was kept without it", async () => {
    for (const setting of [undefined, false]) {
      const refused = await cli(["export", "--latest", "--with-manager-chain"], setting);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/USER_SYNC_GROUPS is (missing|false)/);
      expect(refused.stdout).toBe("");
    }
    const run = await cli(["run", "--full"], false);
    expect(run.code, run.stderr).toBe(0);
    withoutManagers = await latestSnapshotId();
    for (const where of [["--snapshot", withoutManagers], ["--latest"], ["--current"]]) {
      const refused = await cli(["export", ...where, "--with-manager-chain"], true);
      expect(refused.code, `${where.join(" ")}: ${refused.stderr}`).toBe(2);
      expect(refused.stderr).toMatch(/No managers are stored in (snapshot|the live mirror).*USER_SYNC_GROUPS off.*USER_SYNC_GROUPS=true/);
      expect(refused.stdout).toBe("");
    }
    // Refused before anything: with --format parquet, --groups or --changes.
    expect((await cli(["export", "--latest", "--with-manager-chain", "--format", "parquet", "--out", "x.parquet"], true)).code).toBe(2);
    expect((await cli(["export", "--latest", "--with-manager-chain", "--groups"], true)).code).toBe(2);
  });

  it("gives each user of a snapshot its chain of managers, nearest first, equal to the directory's, a cycle ending before the repeat", async () => {
    // Generated user i reports to ⌊(i−1)/8⌋; user 1 now reports to user 9, who reports to user 1: a cycle below the root.
    world.tenant.changes.setManager(1, 9);
    const run = await cli(["run", "--full"], true);
    expect(run.code, run.stderr).toBe(0);
    const expected = directoryChains();
    const id = (i: number) => world.tenant.changes.userIdAt(i);
    expect(expected.get(id(17))).toEqual({ managerChain: [id(2), id(0)] });
    expect(expected.get(id(73))).toEqual({ managerChain: [id(9), id(1)], managerChainCycle: true });
    const cycles = [...expected.values()].filter((c) => c.managerChainCycle).length;
    expect(cycles).toBeGreaterThan(2);

    const result = await cli(["export", "--latest", "--with-manager-chain"], true);
    expect(result.code, result.stderr).toBe(0);
    expect(exportedChains(result.stdout)).toEqual(expected);
    expect(result.stderr).toContain(`note: ${cycles} users' manager chains came back to a manager already in the chain`);

    const csv = await cli(["export", "--latest", "--with-manager-chain", "--format", "csv"], true);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.split(/\r?\n/).filter((l) => l !== "");
    expect(lines[0]!.split(",").slice(-2)).toEqual(["managerChain", "managerChainCycle"]);
    expect(lines.length).toBe(USERS + 1);
    for (const i of [0, 17, 73]) {
      const chain = expected.get(id(i))!;
      const tail = stringify([["", JSON.stringify(chain.managerChain), chain.managerChainCycle ? "true" : ""]]).trimEnd();
      const line = lines.find((l) => l.startsWith(`${id(i)},`));
      expect(line?.endsWith(tail), `${line} ends with ${tail}`).toBe(true);
    }
  });

  it("from the live mirror: the chains follow an incremental round; the snapshot keeps its own; diff --groups reports the managers changed", async () => {
    const snapshotId = await latestSnapshotId();
    const before = exportedChains((await cli(["export", "--snapshot", snapshotId, "--with-manager-chain"], true)).stdout);
    world.tenant.changes.setManager(1, 0); // the cycle is broken
    world.tenant.changes.setManager(20, 5);
    const run = await cli(["run"], true);
    expect(run.code, run.stderr).toBe(0);
    expect(await latestSnapshotId(), "an incremental round: no new snapshot").toBe(snapshotId);

    const current = await cli(["export", "--current", "--with-manager-chain"], true);
    expect(current.code, current.stderr).toBe(0);
    const expected = directoryChains();
    expect([...expected.values()].some((c) => c.managerChainCycle)).toBe(false);
    expect(exportedChains(current.stdout)).toEqual(expected);
    expect(current.stderr).not.toContain("cycle");

    const again = await cli(["export", "--snapshot", snapshotId, "--with-manager-chain"], true);
    expect(exportedChains(again.stdout)).toEqual(before);
    expect(exportedChains(again.stdout)).not.toEqual(expected);

    // A new snapshot: diff --groups reports the two managers changed since the last one.
    const full = await cli(["run", "--full"], true);
    expect(full.code, full.stderr).toBe(0);
    const diff = await cli(["diff", "--groups", "--format", "jsonl"], true);
    expect(diff.code, diff.stderr).toBe(0);
    const id = (i: number) => world.tenant.changes.userIdAt(i);
    const managers = diff.stdout.split("\n").filter((l) => l.includes('"kind":"manager"')).map((l) => JSON.parse(l) as { userId: string });
    expect(managers.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(
      [
        { kind: "manager", change: "changed", userId: id(1), from: id(9), to: id(0) },
        { kind: "manager", change: "changed", userId: id(20), from: id(2), to: id(5) },
      ].sort((a, b) => a.userId.localeCompare(b.userId)),
    );
  });
});
