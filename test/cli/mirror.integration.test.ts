/**
 * The live mirror on the command line, as an operator runs it: the compiled CLI in its own process
 * against Azurite and the simulated tenant, while the directory changes between runs. `run` does
 * what is due (an incremental round after the first full one), `run --full` forces a full round,
 * `export --current [--include-deleted]` prints the mirror, `export --changes <run>` one run's
 * change set, and `runs` shows each run's mode.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../src/configuration/settings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const USERS = 600;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string> = {}) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 23 });
});
afterAll(async () => world?.close());

const pick = (user: GraphUser) => Object.fromEntries(DEFAULT_SELECT.map((p) => [p, user[p] ?? null])) as GraphUser;
const id = (index: number) => world.tenant.changes.userIdAt(index);
const lines = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
const added: string[] = [];
/** Last known properties of users before they were deleted. */
const lastKnown = new Map<string, GraphUser>();

/** The directory now, as Graph shows it with the default $select. */
function currentDirectory(): Map<string, GraphUser> {
  const users = new Map<string, GraphUser>();
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.changes.currentUser(i);
    if (user) users.set(user.id, pick(user));
  }
  for (const addedId of added) {
    const user = world.tenant.changes.currentUser(addedId);
    if (user) users.set(addedId, pick(user));
  }
  return users;
}

function expectSameUsers(printed: Array<Record<string, unknown>>, expected: Map<string, GraphUser>): void {
  const byId = new Map(printed.map((u) => [u.id as string, u]));
  expect(byId.size).toBe(printed.length);
  const mismatches = [...expected].filter(([key, user]) => JSON.stringify(byId.get(key)) !== JSON.stringify(user)).map(([key]) => key);
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(byId.size).toBe(expected.size);
}

async function mirrorRuns(): Promise<Array<{ kind: string; runId: string; mode?: string; reason?: string; status: string }>> {
  const result = await cli(["runs", "--json", "--limit", "50"]);
  expect(result.code).toBe(0);
  return lines(result.stdout) as Array<{ kind: string; runId: string; mode?: string; reason?: string; status: string }>;
}

describe("the live mirror on the command line", () => {
  it("run seeds the mirror with a full round and writes the first snapshot", async () => {
    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^User sync succeeded: 600 users in 1 page,/);
    // One pass over /users: the mirror's full round is written from the snapshot's page.
    expect(result.stdout).toMatch(/\nMirror full round \(first round\) in the snapshot's pass: 600 users written from 1 page, 0 not seen/);
    const current = await cli(["export", "--current"]);
    expect(current.code).toBe(0);
    expectSameUsers(lines(current.stdout), currentDirectory());
  });

  it("run then does an incremental round only: adds, changes, UPN renames, soft and hard deletes", async () => {
    for (const index of [3, 4]) lastKnown.set(id(index), pick(world.tenant.changes.currentUser(index)!));
    added.push(world.tenant.changes.addUser({ displayName: "Ada Added", jobTitle: "Engineer", department: "R&D" }));
    world.tenant.changes.changeUser(1, { jobTitle: "Director", department: null });
    world.tenant.changes.renameUser(2, `renamed.two@${world.tenant.tenantDomain}`);
    world.tenant.changes.softDeleteUser(3);
    world.tenant.changes.hardDeleteUser(4);
    world.tenant.requests.reset();

    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    // No snapshot is due: only the mirror's incremental round ran, with one delta request.
    expect(result.stdout).not.toContain("User sync succeeded");
    expect(result.stdout).toMatch(/^Mirror updated incrementally: 1 added, 2 updated, 0 restored, 2 removed \(0 unchanged\) from 5 changes in 1 page,/);
    expect(world.tenant.requests.count("graph")).toBe(1);

    const current = lines((await cli(["export", "--current"])).stdout);
    expectSameUsers(current, currentDirectory());
    expect(current.find((u) => u.id === id(2))?.userPrincipalName).toBe(`renamed.two@${world.tenant.tenantDomain}`);
    expect(current.find((u) => u.id === id(1))?.department).toBeNull();
  });

  it("export --current --include-deleted also prints removed users with their last known properties and state", async () => {
    const result = await cli(["export", "--current", "--include-deleted"]);
    expect(result.code).toBe(0);
    const printed = lines(result.stdout);
    expect(printed).toHaveLength(USERS + 1);
    const soft = printed.find((u) => u.id === id(3))!;
    const hard = printed.find((u) => u.id === id(4))!;
    const { "@removed": softRemoved, ...softUser } = soft;
    const { "@removed": hardRemoved, ...hardUser } = hard;
    expect(softUser).toEqual(lastKnown.get(id(3)));
    expect(hardUser).toEqual(lastKnown.get(id(4)));
    expect(softRemoved).toMatchObject({ reason: "changed", removedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(hardRemoved).toMatchObject({ reason: "deleted" });
    expect(printed.filter((u) => "@removed" in u)).toHaveLength(2);
    expect(result.stderr).toContain("Exported 599 current users and 2 removed users");

    const csv = await cli(["export", "--current", "--include-deleted", "--format", "csv"]);
    const [header, ...rows] = csv.stdout.trim().split("\n");
    expect(header).toBe([...DEFAULT_SELECT, "@removed"].join(","));
    expect(rows).toHaveLength(USERS + 1);
    expect(rows.find((r) => r.startsWith(`${id(4)},`))).toMatch(/"\{""reason"":""deleted"",""removedAt"":""[^"]+""\}"$/);
  });

  it("a restored user comes back; runs shows each run's mode and reason", async () => {
    world.tenant.changes.restoreUser(3);
    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Mirror updated incrementally: 0 added, 0 updated, 1 restored, 0 removed/);
    const current = lines((await cli(["export", "--current"])).stdout);
    expectSameUsers(current, currentDirectory());
    expect(current.some((u) => u.id === id(3))).toBe(true);

    const table = await cli(["runs"]);
    const rows = table.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^RUN\s+MODE\s+STATUS\s+TOOK\s+USERS\s+NOTE$/);
    expect(rows[1]).toMatch(/\sincremental\s+succeeded\s+[\d.]+ s\s+1\s+1 restored$/);
    expect(rows[2]).toMatch(/\sincremental\s+succeeded\s+[\d.]+ s\s+5\s+1 added, 2 updated, 2 removed$/);
    expect(rows[3]).toMatch(/\sfull\s+succeeded\s.*\sfirst round$/);
    expect(rows[4]).toMatch(/\ssnapshot\s+succeeded\s/);
    const wide = (await cli(["runs", "--wide"])).stdout.trim().split("\n");
    expect(wide[0]).toMatch(/^RUN\s+MODE\s+REASON\s+STATUS\s+TRIGGER/);
    expect(wide[1]).toMatch(/\sincremental\s+deltaLink\s+succeeded\s+cli\s.*\s1 restored$/);
    expect(wide[3]).toMatch(/\sfull\s+firstRound\s+succeeded\s+cli\s/);
  });

  it("export --changes prints one incremental run's change set", async () => {
    const incremental = (await mirrorRuns()).filter((r) => r.kind === "mirror" && r.mode === "incremental");
    expect(incremental).toHaveLength(2);
    const older = incremental[1]!;
    const result = await cli(["export", "--changes", older.runId]);
    expect(result.code, result.stderr).toBe(0);
    const changes = lines(result.stdout);
    const byId = Object.fromEntries(changes.map((c) => [c.id as string, c.reason ? `${String(c.change)}:${String(c.reason)}` : c.change]));
    expect(byId).toEqual({
      [added[0]!]: "added",
      [id(1)]: "updated",
      [id(2)]: "updated",
      [id(3)]: "removed:changed",
      [id(4)]: "removed:deleted",
    });
    const rename = changes.find((c) => c.id === id(2))!;
    expect((rename.user as GraphUser).userPrincipalName).toBe(`renamed.two@${world.tenant.tenantDomain}`);
    expect(rename.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(result.stderr).toContain(`Exported the change set of mirror run ${older.runId} (incremental round, succeeded): 1 added, 2 updated, 2 removed.`);

    const unknown = await cli(["export", "--changes", "20200101T000000000Z-abcdef"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^entra-user-sync export failed: There is no mirror run 20200101T000000000Z-abcdef/);
    const conflicting = await cli(["export", "--latest", "--current"]);
    expect(conflicting.code).toBe(2);
    const stray = await cli(["export", "--latest", "--include-deleted"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("--include-deleted goes with --current");
    const notAnId = await cli(["export", "--changes", "latest"]);
    expect(notAnId.code).toBe(2);
    expect(notAnId.stderr).toContain("expected a run or snapshot id");
  });

  it("run --full forces a snapshot and a full round in one /users pass; the snapshot and the mirror agree", async () => {
    world.tenant.changes.changeUser(5, { displayName: "Changed Before Full" });
    const result = await cli(["run", "--full"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^User sync succeeded: 600 users in 1 page,/);
    expect(result.stdout).toMatch(/\nMirror full round \(forced with --full\) in the snapshot's pass: 600 users written from 1 page, 0 not seen and marked missing/);
    const [newest] = await mirrorRuns();
    expect(newest).toMatchObject({ kind: "mirror", mode: "full", reason: "forced", status: "succeeded" });

    const snapshot = lines((await cli(["export", "--latest"])).stdout);
    const current = lines((await cli(["export", "--current"])).stdout);
    const expected = currentDirectory();
    expectSameUsers(snapshot, expected);
    expectSameUsers(current, expected);
    expect(current.find((u) => u.id === id(5))?.displayName).toBe("Changed Before Full");
    expectNoSecrets(result.stdout + result.stderr, [world.azurite.connectionString]);
  });
});
