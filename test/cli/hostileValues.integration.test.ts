/**
 * Directory values built to attack the operator's screen and spreadsheet (in multi-tenant mode a
 * customer's administrator controls them), synced from the simulated tenant into Azurite and read
 * back through the compiled command line: escape sequences (window title, clear screen, colours),
 * a C1 control (U+009B, a one-character CSI), a bidi override (U+202E), NUL, spreadsheet formulas
 * and a very long line. No raw control or bidi character reaches stdout or stderr; JSON keeps every
 * value exactly (as \u escapes); CSV escapes formulas unless --raw, which writes cells as stored.
 */
import { TableServiceClient, TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const ESCAPES = "\u001b]0;pwned\u0007\u001b[2J\u001b[31mFAKE RED\u001b[0m";
const HOSTILE = {
  displayName: `Mallory ${ESCAPES}`,
  givenName: "Nul\u0000Byte\rOverwrite",
  surname: "gpj.\u202eexe",
  jobTitle: '=HYPERLINK("http://attacker.example","Click")',
  department: "+1+cmd|' /C calc'!A0",
  companyName: "@SUM(1+1)",
  officeLocation: "-2+3",
  city: "\u009b31mC1 red",
  employeeId: "x".repeat(20_000),
};
const FORMULAS = ["jobTitle", "department", "companyName", "officeLocation"] as const;
const SELECT = ["id", "displayName", "givenName", "surname", "jobTitle", "department", "companyName", "officeLocation", "city", "employeeId"];
/** A raw character that a terminal acts on, or that reorders what it shows (newline and the CSV's own CR LF aside). */
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let world: SyncEnvironment;
let hostileId: string;

function cli(args: string[]) {
  return runCli(args, world.cliEnv({ USER_SYNC_SELECT: SELECT.join(",") }));
}

async function expectSafe(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const result = await cli(args);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).not.toMatch(RAW_UNSAFE);
  expect(result.stderr).not.toMatch(RAW_UNSAFE);
  return result;
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 20, seed: 41 });
  hostileId = world.tenant.changes.userIdAt(3);
  world.tenant.changes.changeUser(3, HOSTILE);
  const first = await cli(["run"]);
  expect(first.code, first.stderr).toBe(0);
  // A second snapshot in which the hostile values changed again, for diff.
  world.tenant.changes.changeUser(3, { jobTitle: `=1+1 ${ESCAPES}`, city: "\u202eC1\u009b" });
  const second = await cli(["run", "--full"]);
  expect(second.code, second.stderr).toBe(0);
});
afterAll(async () => world?.close());

describe("hostile directory values on the command line", () => {
  it("export --format jsonl: valid JSON with C1 and bidi as \\u escapes, and every value exactly as the directory has it", async () => {
    const { stdout } = await expectSafe(["export", "--snapshot", await firstSnapshot()]);
    expect(stdout).toContain("\\u009B31mC1 red");
    expect(stdout).toContain("gpj.\\u202Eexe");
    const user = stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as GraphUser).find((u) => u.id === hostileId)!;
    expect(user).toMatchObject(HOSTILE);
  });

  it("export --format csv: a header, formulas prefixed with ', control and bidi characters as visible escapes", async () => {
    const { stdout } = await expectSafe(["export", "--snapshot", await firstSnapshot(), "--format", "csv"]);
    const [header, ...rows] = stdout.split("\n");
    expect(header).toBe(SELECT.join(","));
    const row = rows.find((line) => line.startsWith(hostileId))!;
    expect(row).toContain("Mallory \\u001B]0;pwned\\u0007\\u001B[2J\\u001B[31mFAKE RED\\u001B[0m");
    expect(row).toContain("Nul\\u0000Byte\\u000DOverwrite");
    expect(row).toContain("gpj.\\u202Eexe");
    expect(row).toContain("\\u009B31mC1 red");
    expect(row).toContain(`"'=HYPERLINK(""http://attacker.example"",""Click"")"`);
    expect(row).toContain(`,'+1+cmd|' /C calc'!A0,`);
    expect(row).toContain(",'@SUM(1+1),'-2+3,");
    expect(row).toContain("x".repeat(20_000));
    for (const name of FORMULAS) expect(row).not.toMatch(new RegExp(`,"?${HOSTILE[name].slice(0, 3).replace(/[+]/g, "\\+")}`));
  });

  it("export --format csv --raw writes every cell exactly as stored; --raw without csv is refused before any request (exit 2)", async () => {
    const result = await cli(["export", "--snapshot", await firstSnapshot(), "--format", "csv", "--raw"]);
    expect(result.code, result.stderr).toBe(0);
    const row = result.stdout.split("\n").find((line) => line.startsWith(hostileId))!;
    expect(row).toContain(`Mallory ${ESCAPES}`);
    expect(row).toContain(",@SUM(1+1),-2+3,\u009b31mC1 red,");
    expect(row).toContain('"=HYPERLINK(""http://attacker.example"",""Click"")"');
    const refused = await runCli(["export", "--latest", "--raw"], { PATH: process.env.PATH });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--raw goes with --format csv");
  });

  it("export --changes and --current (csv and jsonl) are safe as well", async () => {
    world.tenant.changes.changeUser(3, { officeLocation: "\u202eC1\u009b" });
    const incremental = await cli(["run"]);
    expect(incremental.code, incremental.stderr).toBe(0);
    const mirrorRun = await latestMirrorRun();
    await expectSafe(["export", "--changes", mirrorRun, "--format", "csv"]);
    const changes = await expectSafe(["export", "--changes", mirrorRun]);
    expect(changes.stdout).toContain("\\u202EC1\\u009B");
    await expectSafe(["export", "--current", "--format", "csv"]);
    await expectSafe(["export", "--current"]);
  });

  it("diff (table and jsonl) shows the changed values safely, and jsonl keeps them exactly", async () => {
    await expectSafe(["diff"]);
    const { stdout } = await expectSafe(["diff", "--format", "jsonl"]);
    const change = stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { id: string; properties: Record<string, { from: unknown; to: unknown }> }).find((c) => c.id === hostileId)!;
    expect(change.properties.jobTitle).toEqual({ from: HOSTILE.jobTitle, to: `=1+1 ${ESCAPES}` });
    expect(change.properties.city).toEqual({ from: HOSTILE.city, to: "\u202eC1\u009b" });
  });

  it("runs (table, --wide, --json) shows a run's error that quotes a hostile value as visible escapes", async () => {
    // A run whose error quotes a directory value (as Graph's own error messages can).
    const runs = await runsTable();
    const entity = (await Array.fromAsync(runs.listEntities())).find((e) => typeof e.status === "string")!;
    await runs.updateEntity({ partitionKey: entity.partitionKey!, rowKey: entity.rowKey!, status: "failed", error: `Graph said: ${ESCAPES} ${HOSTILE.surname} ${HOSTILE.city}` }, "Merge");
    const table = await expectSafe(["runs"]);
    expect(table.stdout).toContain("Graph said: \\u001B]0;pwned");
    const wide = await expectSafe(["runs", "--wide"]);
    expect(wide.stdout).toContain("\\u202Eexe \\u009B31mC1 red");
    const json = await expectSafe(["runs", "--json"]);
    const errors = json.stdout.trimEnd().split("\n").map((line) => (JSON.parse(line) as { error?: string }).error);
    expect(errors).toContain(`Graph said: ${ESCAPES} ${HOSTILE.surname} ${HOSTILE.city}`);
  });
});

describe("an empty change set", () => {
  it("export --changes --format csv still prints its header", async () => {
    const quiet = await cli(["run"]);
    expect(quiet.code, quiet.stderr).toBe(0);
    const result = await cli(["export", "--changes", await latestMirrorRun(), "--format", "csv"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("change,reason,at,id,user\n");
    expect(result.stderr).toContain("no changes");
  });
});

async function firstSnapshot(): Promise<string> {
  const result = await cli(["runs", "--json"]);
  const snapshots = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { kind: string; snapshotId?: string; status: string }).filter((r) => r.kind === "snapshot" && r.status === "succeeded");
  return snapshots.at(-1)!.snapshotId!;
}

async function latestMirrorRun(): Promise<string> {
  const result = await cli(["runs", "--json"]);
  return result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { kind: string; runId: string }).find((r) => r.kind === "mirror")!.runId;
}

/** The snapshot runs' table in Azurite (the one whose name ends in "runs", not the mirror's). */
async function runsTable(): Promise<TableClient> {
  const service = TableServiceClient.fromConnectionString(world.azurite.connectionString, { allowInsecureConnection: true });
  const names: string[] = [];
  for await (const table of service.listTables()) names.push(table.name!);
  const name = names.find((n) => /runs$/i.test(n) && !/mirror/i.test(n));
  expect(name, names.join(", ")).toBeDefined();
  return TableClient.fromConnectionString(world.azurite.connectionString, name!, { allowInsecureConnection: true });
}
