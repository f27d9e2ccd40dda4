/**
 * `entra-user-sync diff` as shipped (node dist/src/cli/main.js, built by `npm run build`) against
 * Azurite: the latest two snapshots by default, a summary table or JSONL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphUser } from "../../src/graph/types.js";
import { SnapshotStoreClient, type SyncRunRecord } from "../../src/snapshots/snapshotStoreClient.js";
import { startAzurite, type AzuriteInstance } from "../../tools/azurite.js";
import { expectNoSecrets } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { azuriteTableStorage } from "../support/azuriteStorage.js";

let azurite: AzuriteInstance;
let store: SnapshotStoreClient;
const runs: SyncRunRecord[] = [];

function cli(args: string[]) {
  return runCli(args, { PATH: process.env.PATH ?? "", SNAPSHOT_STORAGE: azurite.connectionString });
}

const id = (i: number) => `${i.toString(16).padStart(8, "0")}-bbbb-4000-8000-000000000000`;
const user = (i: number, extra: Record<string, unknown> = {}): GraphUser => ({ id: id(i), displayName: `User ${i}`, accountEnabled: true, proxyAddresses: [`smtp:u${i}@c.com`], ...extra });

async function snapshot(users: GraphUser[]): Promise<SyncRunRecord> {
  const run = await store.startRun({ trigger: "cli", select: ["id", "displayName", "accountEnabled", "proxyAddresses"] });
  await store.upsertUsers(run.snapshotId, users);
  const done = await store.completeRun(run, { pages: 1, usersRead: users.length, entitiesWritten: users.length, transactions: 1 });
  runs.push(done);
  return done;
}

beforeAll(async () => {
  assertCliBuilt();
  azurite = await startAzurite();
  store = new SnapshotStoreClient({ storage: azuriteTableStorage(azurite) });
  await store.createTablesIfNotExist();
  const base = Array.from({ length: 40 }, (_, i) => user(i));
  await snapshot(base); // oldest: only reachable with --from
  await snapshot(base);
  const next = base.filter((u) => u.id !== id(5) && u.id !== id(6)).map((u) => (u.id === id(7) ? { ...u, displayName: "Renamed", accountEnabled: false } : u.id === id(8) ? { ...u, proxyAddresses: [] } : u));
  next.push(user(100));
  await snapshot(next);
});
afterAll(async () => azurite?.close());

describe("entra-user-sync diff", () => {
  it("compares the latest two snapshots by default and prints a summary table with per-property counts", async () => {
    const { code, stdout, stderr } = await cli(["diff"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`Compared snapshot ${runs[1]!.snapshotId} with ${runs[2]!.snapshotId}: 1 added, 2 removed, 2 changed.`);
    expect(stdout).toMatch(/^added\s+1$/m);
    expect(stdout).toMatch(/^removed\s+2$/m);
    expect(stdout).toMatch(/^changed\s+2$/m);
    expect(stdout).toMatch(/^displayName\s+1$/m);
    expect(stdout).toMatch(/^accountEnabled\s+1$/m);
    expect(stdout).toMatch(/^proxyAddresses\s+1$/m);
    expectNoSecrets(stdout + stderr, [azurite.connectionString]);
  });

  it("writes one JSON object per change with --format jsonl, the summary on stderr", async () => {
    const { code, stdout, stderr } = await cli(["diff", "--format", "jsonl"]);
    expect(code).toBe(0);
    const changes = stdout.trim().split("\n").map((line) => JSON.parse(line) as { change: string; id: string; properties?: unknown; user?: unknown });
    expect(changes.map((c) => `${c.change} ${c.id}`).sort()).toEqual([`added ${id(100)}`, `changed ${id(7)}`, `changed ${id(8)}`, `removed ${id(5)}`, `removed ${id(6)}`].sort());
    expect(changes.find((c) => c.id === id(7))!.properties).toEqual({ displayName: { from: "User 7", to: "Renamed" }, accountEnabled: { from: true, to: false } });
    expect(changes.find((c) => c.id === id(8))!.properties).toEqual({ proxyAddresses: { from: [`smtp:u8@c.com`], to: [] } });
    expect(changes.find((c) => c.id === id(100))!.user).toEqual(user(100));
    expect(stderr).toContain("1 added, 2 removed, 2 changed");
  });

  it("compares named snapshots, and says so when there is nothing to compare with", async () => {
    const same = await cli(["diff", "--from", runs[0]!.snapshotId, "--to", runs[1]!.snapshotId]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("0 added, 0 removed, 0 changed.");
    const first = await cli(["diff", "--to", runs[0]!.snapshotId]);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`no complete snapshot before ${runs[0]!.snapshotId}`);
    expect(first.stderr).toMatch(/^entra-user-sync diff failed: /);
    const bad = await cli(["diff", "--from", "nope", "--to", runs[0]!.snapshotId]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'nope' is invalid. expected a run or snapshot id");
  });
});
