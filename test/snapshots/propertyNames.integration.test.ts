/**
 * Property names every JavaScript object inherits (`__proto__`, `constructor`, `toString`,
 * `valueOf`, `hasOwnProperty`…), end to end through the real store: a snapshot holding them is
 * written into Azurite with the store's own writer (Graph's answer is reduced to the selected
 * properties before it is stored, so these names reach the store only as stored data), and
 * `export` and `diff` (the compiled CLI) print them back exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../src/configuration/settings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { composeStorage } from "../../src/app/compose.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const USERS = 40;
let world: SyncEnvironment;

const cli = (args: string[]) => runCli(args, world.cliEnv());

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

/** Writes a complete snapshot of the directory whose first user also carries `extra`, through the real store. */
async function writeSnapshot(extra: Record<string, unknown>): Promise<void> {
  const { store } = composeStorage(loadStorageSettings({ SNAPSHOT_STORAGE: world.azurite.connectionString }));
  await store.createTablesIfNotExist();
  const users: GraphUser[] = [];
  for (let i = 0; i < USERS; i++) {
    const user = world.tenant.directory.userAt(i, DEFAULT_SELECT) as Record<string, unknown>;
    if (i === 0) for (const [key, value] of Object.entries(extra)) Object.defineProperty(user, key, { value, enumerable: true, writable: true, configurable: true });
    users.push(user as GraphUser);
  }
  const run = await store.startRun({ trigger: "cli", select: DEFAULT_SELECT });
  const written = await store.upsertUsers(run.snapshotId, users);
  await store.completeRun(run, { pages: 1, usersRead: USERS, entitiesWritten: written.entitiesWritten, transactions: written.transactions });
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 31 });
  await writeSnapshot(added("Constructor Co"));
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
    // A second snapshot, a millisecond later at least (ids sort by time).
    await new Promise((resolve) => setTimeout(resolve, 5));
    await writeSnapshot(changed);
    const diff = await cli(["diff", "--format", "jsonl"]);
    expect(diff.code, diff.stderr).toBe(0);
    const id = world.tenant.directory.userAt(0).id;
    expect(diff.stdout.trimEnd().split("\n")).toEqual([
      JSON.stringify({ change: "changed", id, properties: JSON.parse('{"constructor":{"from":"Constructor Co","to":"Rebuilt"},"__proto__":{"from":{"polluted":true},"to":{"polluted":false}}}') }),
    ]);
  });
});
