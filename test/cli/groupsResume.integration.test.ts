/**
 * A `run` with USER_SYNC_GROUPS=true killed with SIGKILL in the middle of its groups pass (every
 * user page written and checkpointed, one `/groups/delta` page committed, the second held by the
 * simulated tenant): nothing is promoted, and the next `run` continues the same snapshot run from
 * the groups pass's checkpoint: its first `/groups/delta` request is the saved page link (no first
 * page again, fewer pages than a full pass), it promotes the snapshot, and the exports of the
 * snapshot and of the groups' mirror (whose sweep spares what the killed run marked) equal the
 * directory, edge for edge. When Graph refuses the saved link (its token expired), the continued
 * run does the pass again from its first page, and says so.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import type { SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
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

/** Each CLI run here syncs 1,300 users and the groups; several runs per test on a shared machine. */
const TEST_TIMEOUT = 600_000;

const env = () => world.cliEnv({ USER_SYNC_GROUPS: "true" });
const store = () => composeStorage(loadStorageSettings(world.env)).store;

/** The `/groups/delta` requests the simulated tenant served since the log was reset, as URLs. */
function groupDeltaRequests(): URL[] {
  return world.tenant.requests
    .entries()
    .filter((e) => e.service === "graph" && e.path.startsWith("/v1.0/groups/delta"))
    .map((e) => new URL(e.path, "https://graph.invalid"));
}

/** Starts `args` and kills it with SIGKILL while the simulated tenant holds its `holdAt`-th `/groups/delta` request. */
async function killInGroupsPass(args: string[], holdAt: number): Promise<SyncRunRecord> {
  let groupPages = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const remove = world.tenant.intercept("graph", async (request) => {
    if (!request.url.pathname.startsWith("/v1.0/groups/delta")) return undefined;
    groupPages += 1;
    if (groupPages === holdAt) await held;
    return undefined;
  });
  try {
    const first = startCli(args, env());
    children.push(first.child);
    const deadline = Date.now() + 240_000;
    let exited: string | undefined;
    void first.exited.then((r) => (exited = `exited early (${String(r.code)}): ${r.stderr}`));
    while (groupPages < holdAt && exited === undefined && Date.now() < deadline) await sleep(100);
    expect(exited).toBeUndefined();
    expect(groupPages, `the groups pass reached its page ${holdAt}`).toBe(holdAt);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
  } finally {
    release();
    remove();
  }
  const killed = (await Array.fromAsync(store().listUnfinishedRuns()))[0]!;
  expect(killed.status).toBe("running");
  expect(killed.checkpoint?.nextLink, "every user page was written before the groups pass").toBeUndefined();
  return killed;
}

async function lines(args: string[]): Promise<Array<Record<string, unknown>>> {
  const result = await runCli(args, env());
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The simulated directory now: group ids, and every direct edge as `group>member:type`. */
function directory(): { groups: string[]; edges: string[] } {
  const g = world.tenant.groups;
  const groups: string[] = [];
  const edges: string[] = [];
  for (let slot = 0; slot < g.slotCount; slot++) {
    const group = g.groupInSlot(slot);
    if (!group) continue;
    groups.push(String(group.id));
    for (const m of g.currentMembers(String(group.id))) edges.push(`${String(group.id)}>${m.id}:${m.type}`);
  }
  return { groups: groups.sort(), edges: edges.sort() };
}

const edgeKey = (e: Record<string, unknown>) => `${String(e.groupId)}>${String(e.memberId)}:${String(e.memberType)}`;

/** `export <source> --groups` and `--memberships` equal the directory, edge for edge. */
async function expectExportsEqualDirectory(source: string[]): Promise<void> {
  const expected = directory();
  expect((await lines(["export", ...source, "--groups"])).map((g) => String(g.id)).sort(), `${source.join(" ")} --groups`).toEqual(expected.groups);
  expect((await lines(["export", ...source, "--memberships"])).map(edgeKey).sort(), `${source.join(" ")} --memberships`).toEqual(expected.edges);
}

describe("a run killed in its groups pass", () => {
  let resumedPages = 0;

  it("is continued by the next run from the groups pass's saved page link, and the snapshot and the mirror equal the directory", async () => {
    const killed = await killInGroupsPass(["run"], 2);
    expect(await store().getLatestSnapshot(), "nothing promoted").toBeUndefined();
    const saved = killed.groupsCheckpoint;
    expect(saved, "the groups pass checkpointed its committed pages").toMatchObject({ pages: 1 });
    const savedToken = new URL(saved!.nextLink).searchParams.get("$skiptoken");
    expect(savedToken).toBeTruthy();

    world.tenant.requests.reset();
    const second = await runCli(["run"], env());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout + second.stderr).toMatch(/continuing the groups pass from its checkpoint \(1 page committed/);
    const requests = groupDeltaRequests();
    resumedPages = requests.length;
    expect(requests[0]?.searchParams.get("$skiptoken"), "the first request is the saved page link").toBe(savedToken);
    expect(requests.filter((u) => !u.searchParams.has("$skiptoken") && !u.searchParams.has("$deltatoken")), "no first-page request again").toEqual([]);

    const latest = await store().getLatestSnapshot();
    expect(latest?.snapshotId, "the killed run's snapshot was continued, not started again").toBe(killed.snapshotId);
    const run = await store().getRun(latest!.runId);
    expect(run?.stats.counters.resumes).toBe(1);
    expect(run?.groupsCheckpoint, "a completed groups pass leaves no checkpoint").toBeUndefined();
    const expected = directory();
    expect(run?.groups).toMatchObject({ status: "succeeded", groups: expected.groups.length, edges: expected.edges.length });
    await expectExportsEqualDirectory(["--latest"]);
    // The groups' mirror: the killed run's pages kept the round's mark, so the sweep spared them.
    await expectExportsEqualDirectory(["--current"]);
  }, TEST_TIMEOUT);

  it("reads fewer pages than a full pass", async () => {
    world.tenant.requests.reset();
    const full = await runCli(["run", "--full"], env());
    expect(full.code, full.stderr).toBe(0);
    const fullPages = groupDeltaRequests().length;
    expect(fullPages).toBeGreaterThanOrEqual(3);
    expect(resumedPages, "the continued pass read the pages after the committed one").toBe(fullPages - 1);
  }, TEST_TIMEOUT);

  it("does the groups pass again from its first page when Graph refuses the saved link, and says so", async () => {
    const killed = await killInGroupsPass(["run", "--full"], 2);
    expect(killed.groupsCheckpoint?.pages).toBe(1);
    // The round's tokens expire (400 syncStateNotFound) while no run holds them.
    world.tenant.changes.expireDeltaTokens();
    world.tenant.requests.reset();
    const next = await runCli(["run"], env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toMatch(/Graph refused the groups pass's saved page link .*runs again from its first page/);
    const requests = groupDeltaRequests();
    expect(requests[0]?.searchParams.get("$skiptoken")).toBe(new URL(killed.groupsCheckpoint!.nextLink).searchParams.get("$skiptoken"));
    expect(requests.filter((u) => !u.searchParams.has("$skiptoken") && !u.searchParams.has("$deltatoken")), "the pass started over").toHaveLength(1);
    expect((await store().getLatestSnapshot())?.snapshotId).toBe(killed.snapshotId);
    await expectExportsEqualDirectory(["--latest"]);
    await expectExportsEqualDirectory(["--current"]);
  }, TEST_TIMEOUT);
});
