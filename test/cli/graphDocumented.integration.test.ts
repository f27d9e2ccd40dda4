/**
 * Issue 18 on the command line, as an operator meets it: the compiled CLI against Azurite and the
 * simulated tenant. USER_SYNC_SELECT with a property Graph cannot list fails before any request;
 * with signInActivity, the snapshot reads it and the mirror does not, and `runs` says so; a token
 * Graph refuses as SyncStateInvalid leads to a full round whose reason `runs` shows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const USERS = 300;
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
const SELECT = "id,displayName,jobTitle,signInActivity";
let world: SyncEnvironment;

function cli(args: string[], extra: Record<string, string> = {}) {
  return runCli(args, world.cliEnv({ USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_SELECT: SELECT, ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 41, grantAuditLogReadAll: true });
});
afterAll(async () => world?.close());

describe("USER_SYNC_SELECT and Graph's own rules, on the command line", () => {
  it("refuses a property /users cannot list before any request, saying why", async () => {
    world.tenant.requests.reset();
    const result = await cli(["run"], { USER_SYNC_SELECT: "id,displayName,skills" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/USER_SYNC_SELECT "skills" cannot be synchronized: Graph returns it only for a single user.*501/s);
    expect(world.tenant.requests.count("graph")).toBe(0);
    expect(world.tenant.requests.count("token")).toBe(0);
  });

  it("reads signInActivity in the snapshot only, and runs says so", async () => {
    const run = await cli(["run"]);
    expect(run.code, run.stderr).toBe(0);
    // The snapshot asked for 500 a page with signInActivity; the mirror never sent it to delta.
    const graphPaths = world.tenant.requests.entries().filter((e) => e.service === "graph").map((e) => decodeURIComponent(e.path));
    expect(graphPaths.some((p) => p.startsWith("/v1.0/users?") && p.includes("signInActivity") && p.includes("$top=500"))).toBe(true);
    expect(graphPaths.filter((p) => p.startsWith("/v1.0/users/delta?$select")).every((p) => !p.includes("signInActivity"))).toBe(true);

    const snapshot = await cli(["export", "--latest"]);
    const users = snapshot.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(users).toHaveLength(USERS);
    expect(users.every((u) => Object.keys(u).join(",") === SELECT)).toBe(true);
    const current = await cli(["export", "--current"]);
    expect(current.stdout.trimEnd().split("\n").every((l) => Object.keys(JSON.parse(l) as object).join(",") === "id,displayName,jobTitle")).toBe(true);

    const runs = await cli(["runs"]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/snapshot\s+succeeded.*signInActivity: snapshots only/);
  });

  it("runs a full round when Graph answers the saved token with 400 SyncStateInvalid, in one pass with a snapshot, and runs shows why", async () => {
    world.tenant.changes.changeUser(5, { jobTitle: "After SyncStateInvalid" });
    world.tenant.changes.expireDeltaTokens("SyncStateInvalid");
    const run = await cli(["run"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Mirror full round .*in the snapshot's pass/);
    // The snapshot run started for the round, and the mirror's round (which started as the incremental one).
    const runs = await cli(["runs", "--limit", "2"]);
    expect(runs.stdout).toMatch(/snapshot\s+succeeded/);
    expect(runs.stdout).toMatch(/full\s+succeeded.*Graph: sync state invalid/);
    const json = await cli(["runs", "--json", "--limit", "2"]);
    const listed = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(listed.find((r) => r.kind === "mirror")).toMatchObject({ kind: "mirror", mode: "full", reason: "tokenInvalid", status: "succeeded" });
    const current = await cli(["export", "--current"]);
    const five = current.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).find((u) => u.id === world.tenant.changes.userIdAt(5));
    expect(five?.jobTitle).toBe("After SyncStateInvalid");
  });
});
