/**
 * Property names every JavaScript object inherits (`__proto__`, `constructor`, `toString`,
 * `valueOf`, `hasOwnProperty`…), end to end: the simulated Graph returns them on a user, `run`
 * (the compiled CLI) writes the snapshot through the real store into Azurite, and `export` and
 * `diff` print them back exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../src/configuration/settings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const USERS = 40;
let world: SyncEnvironment;

const cli = (args: string[]) => runCli(args, { PATH: process.env.PATH, HOME: process.env.HOME, ...world.env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath });

/** Parsed, so that `__proto__` is an own property (a literal would set the prototype). */
const added = (constructorValue: string) =>
  JSON.parse(
    `{"constructor":"${constructorValue}","__proto__":{"polluted":true},"toString":"ts","valueOf":7,"hasOwnProperty":false,"isPrototypeOf":null,"__defineGetter__":["g"]}`,
  ) as Record<string, unknown>;

/** The first user as Graph sent it: the selected properties, then the added ones. */
function expectedFirstUser(extra: Record<string, unknown>): string {
  const user = world.tenant.directory.userAt(0, DEFAULT_SELECT);
  const parts = [...Object.entries(user), ...Object.entries(extra)].map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  return `{${parts.join(",")}}`;
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 31 });
  world.tenant.faults.graph.script([{ addProperties: added("Constructor Co") }]);
  const run = await cli(["run"]);
  expect(run.code, run.stderr).toBe(0);
  expect(world.tenant.faults.graph.pending).toBe(0);
});
afterAll(async () => world?.close());

describe("inherited property names through the real store", () => {
  it("export --latest prints the user exactly as Graph sent it", async () => {
    const result = await cli(["export", "--latest"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(USERS);
    const id = world.tenant.directory.userAt(0).id;
    const line = lines.find((l) => (JSON.parse(l) as GraphUser).id === id);
    expect(line).toBe(expectedFirstUser(added("Constructor Co")));
    const parsed = JSON.parse(line!) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...DEFAULT_SELECT, "constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__"]);
  });

  it("export --latest --format csv still exports the snapshot", async () => {
    const result = await cli(["export", "--latest", "--format", "csv"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")[0]).toBe(DEFAULT_SELECT.join(","));
    expect(result.stderr).toContain(`Exported ${USERS} users`);
  });

  it("diff shows a changed constructor and __proto__ as changed properties", async () => {
    const changed = added("Rebuilt");
    (Object.getOwnPropertyDescriptor(changed, "__proto__")!.value as Record<string, unknown>).polluted = false;
    world.tenant.faults.graph.script([{ addProperties: changed }]);
    const run = await cli(["run", "--full"]);
    expect(run.code, run.stderr).toBe(0);
    const diff = await cli(["diff", "--format", "jsonl"]);
    expect(diff.code, diff.stderr).toBe(0);
    const id = world.tenant.directory.userAt(0).id;
    expect(diff.stdout.trimEnd().split("\n")).toEqual([
      JSON.stringify({ change: "changed", id, properties: JSON.parse('{"constructor":{"from":"Constructor Co","to":"Rebuilt"},"__proto__":{"from":{"polluted":true},"to":{"polluted":false}}}') }),
    ]);
  });
});
