/**
 * Groups and memberships in the analytics lane (USER_SYNC_GROUPS=true) through the real clients:
 * the simulated tenant's groups, Tables and Blobs on Azurite, the compiled CLI. A snapshot run
 * writes `object=groups` and `object=memberships` beside `object=users`, each read back by DuckDB
 * equal to `export --latest --groups` / `--memberships` row by row, every column and type; the
 * users' `_SUCCESS` is the snapshot's last file; `export --format parquet` writes the same files; the
 * groups' mirror's change sets land under `changes/`, equal to `export --changes`; a run that lost
 * its lease writes nothing of the groups; a groups set that fails leaves the snapshot unsealed and is
 * written by the next attempt; docs/analytics.md's groups recipe runs as written.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { composeUserSync } from "../../src/app/syncService.js";
import { readExportLane } from "../../src/configuration/exportSettings.js";
import { loadStorageSettings } from "../../src/configuration/settings.js";
import { LANE_GROUP_SELECT, writeSnapshotGroupSets, type LaneGroupSource } from "../../src/lane/groupLane.js";
import { SnapshotLane, type LaneSnapshotSource } from "../../src/lane/snapshotLane.js";
import type { LaneRunState } from "../../src/snapshots/runRecords.js";
import { changeLaneColumns, groupLaneColumns, LANE_TYPE_SQL, membershipChangeLaneColumns, membershipLaneColumns, type LaneColumn } from "../../src/lane/laneColumns.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import type { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import type { GroupStores } from "../../src/sync/groupsRound.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { downloadContainer, expectedCell, listBlobNames, readBackCell, readParquetWithDuckDb, recipeSqlBlocks, runSqlInFolder, writeWhileLeaseLapses } from "../support/laneReader.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type TableProxy } from "../support/tableProxy.js";

const USERS = 240;
const GROUP_COUNT = 12;
const CONTAINER = "group-lane";
/** Never due during a test: 29 February at midnight UTC. */
const RARE_SCHEDULE = "0 0 0 29 2 *";
let world: SyncEnvironment;
let proxy: TableProxy;
let service: UserSyncService;
let store: SnapshotStoreClient;
let groupStores: GroupStores;
let blobs: BlobServiceClient;
let tenantId: string;
const log = capturingLogger();

const proxiedConnectionString = () => world.azurite.connectionString.replace(/BlobEndpoint=[^;]+;/, `BlobEndpoint=${proxy.tableEndpoint};`);
const container = (): ContainerClient => blobs.getContainerClient(CONTAINER);
const cliEnv = (extra: Record<string, string> = {}) => world.cliEnv({ USER_SYNC_GROUPS: "true", USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, ...extra });
const partitionTime = (time: Date) => time.toISOString().replace(/[-:]/g, "");
/** PUTs under the lane's container, in the order the proxy saw them: blob names. */
const puts = (from = 0) =>
  proxy.seen
    .slice(from)
    .filter((r) => r.method === "PUT" && decodeURIComponent(r.path).includes(`/${CONTAINER}/`))
    .map((r) => decodeURIComponent(r.path.split("?")[0]!).split(`/${CONTAINER}/`)[1]!);

async function jsonLines(args: string[]): Promise<Array<Record<string, unknown>>> {
  const result = await runCli(args, cliEnv());
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every column of every row, in file order then by `key`, equal to the export's line with the stamps, each value read back as the type documents it. */
function expectRowsEqual(read: Array<Record<string, unknown>>, lines: Array<Record<string, unknown>>, columns: readonly LaneColumn[], stamps: Record<string, unknown>, key: (row: Record<string, unknown>) => string): void {
  const sorted = (rows: Array<Record<string, unknown>>) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const got = sorted(read);
  const want = sorted(lines.map((line) => ({ ...line, ...stamps })));
  expect(got).toHaveLength(want.length);
  for (let i = 0; i < want.length; i++) {
    for (const column of columns) expect(readBackCell(column, got[i]![column.name]), `${key(want[i]!)} ${column.name}`).toEqual(expectedCell(column, want[i]![column.name]));
  }
}

const membershipKey = (row: Record<string, unknown>) => `${String(row.groupId)}\u0000${String(row.memberId)}`;

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 303, groups: { count: GROUP_COUNT, largeGroupMembers: 120 } }, { blob: true });
  world.useInProcess();
  tenantId = world.env.GRAPH_TENANT_ID!;
  proxy = await startTableProxy({ tableEndpoint: world.azurite.blobEndpoint!, connectionString: world.azurite.connectionString });
  blobs = BlobServiceClient.fromConnectionString(world.azurite.connectionString);
  await container().create();
  // Values a reader must get back exactly: non-ASCII text and an emoji, a NULL.
  world.tenant.groups.changeGroup(1, { displayName: "Équipe 東京 🚀", description: null });
  const env = { ...world.env, USER_SYNC_GROUPS: "true", USER_SYNC_FULL_SCHEDULE: RARE_SCHEDULE, USER_SYNC_EXPORT_STORAGE: proxiedConnectionString(), USER_SYNC_EXPORT_CONTAINER: CONTAINER };
  ({ service, clients: { store } } = composeUserSync(env));
  groupStores = composeGroupStores(loadStorageSettings(world.env));
}, 120_000);
afterAll(async () => {
  await proxy?.close();
  await world?.close();
});

describe("groups and memberships in the analytics lane", () => {
  let users = "";
  let groupSet = "";
  let memberships = "";

  it("a snapshot run writes the groups' and memberships' sets beside the users', read back by DuckDB equal to export --latest --groups / --memberships", async () => {
    const before = proxy.seen.length;
    const result = await service.runDue(log.logger, { trigger: "cli" });
    expect(result.snapshot?.outcome).toBe("completed");
    expect(result.lane?.failed).toEqual([]);
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    expect(run.groups?.status).toBe("succeeded");
    const at = partitionTime(run.startedAt);
    const lower = tenantId.toLowerCase();
    [users, groupSet, memberships] = ["users", "groups", "memberships"].map((object) => `tenant=${lower}/object=${object}/snapshot_time=${at}/`) as [string, string, string];
    const snapshotSets = result.lane!.written.filter((w) => w.kind === "snapshot");
    expect(snapshotSets.map((w) => [w.object, w.prefix])).toEqual([
      ["users", users],
      ["memberships", memberships],
      ["groups", groupSet],
    ]);
    for (const prefix of [users, groupSet, memberships]) expect(await listBlobNames(container(), prefix)).toEqual([`${prefix}_SUCCESS`, `${prefix}_manifest.json`, `${prefix}part-00000.parquet`]);

    // A reader never sees a partial snapshot: the groups' and memberships' sets are sealed first, the users' _SUCCESS is the snapshot's last file.
    const order = puts(before).filter((name) => name.includes(`/snapshot_time=${at}/`));
    expect(order.at(-1)).toBe(`${users}_SUCCESS`);
    expect(order.at(-2)).toBe(`${users}_manifest.json`);
    for (const prefix of [groupSet, memberships]) expect(order.indexOf(`${prefix}_SUCCESS`)).toBeLessThan(order.indexOf(`${users}_manifest.json`));
    expect(order.indexOf(`${memberships}_SUCCESS`)).toBeGreaterThan(order.indexOf(`${memberships}_manifest.json`));

    const stamps = { _snapshotTime: run.startedAt.toISOString(), _tenantId: tenantId, _runId: run.runId };
    const groupColumns = groupLaneColumns(LANE_GROUP_SELECT);
    const exportedGroups = await jsonLines(["export", "--latest", "--groups"]);
    expect(exportedGroups).toHaveLength(GROUP_COUNT);
    const readGroups = await readParquetWithDuckDb(`${await downloadContainer(container(), groupSet)}/**/*.parquet`, groupColumns);
    // Every column in the groups' $select order then the stamps, with its documented type (then the Hive partitions).
    expect(readGroups.types.slice(0, groupColumns.length)).toEqual(groupColumns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expect(readGroups.types.find(([name]) => name === "groupTypes")?.[1]).toBe("VARCHAR[]");
    expect(readGroups.types.find(([name]) => name === "createdDateTime")?.[1]).toBe("TIMESTAMP WITH TIME ZONE");
    expect(readGroups.types.find(([name]) => name === "securityEnabled")?.[1]).toBe("BOOLEAN");
    expectRowsEqual(readGroups.rows, exportedGroups, groupColumns, stamps, (row) => String(row.id));
    expect(readGroups.rows.find((row) => row.displayName === "Équipe 東京 🚀")).toMatchObject({ description: null });

    const memberColumns = membershipLaneColumns();
    const exportedMemberships = await jsonLines(["export", "--latest", "--memberships"]);
    const readMemberships = await readParquetWithDuckDb(`${await downloadContainer(container(), memberships)}/**/*.parquet`, memberColumns, "groupId");
    expect(readMemberships.types.slice(0, memberColumns.length)).toEqual(memberColumns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expect(new Set(readMemberships.rows.map((r) => r.memberType))).toEqual(new Set(exportedMemberships.map((e) => e.memberType)));
    expectRowsEqual(readMemberships.rows, exportedMemberships, memberColumns, stamps, membershipKey);
    const manifest = JSON.parse((await container().getBlockBlobClient(`${memberships}_manifest.json`).downloadToBuffer()).toString("utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ kind: "snapshot", object: "memberships", runId: run.runId, rows: exportedMemberships.length, files: [{ name: "part-00000.parquet", rows: exportedMemberships.length }] });
  });

  it("export --latest --groups / --memberships --format parquet writes the lane's very files; --transitive adds an INTEGER depth, equal to the jsonl export", async () => {
    const folder = await mkdtemp(join(tmpdir(), "group-lane-"));
    for (const [flag, prefix] of [["--groups", groupSet], ["--memberships", memberships]] as const) {
      const out = join(folder, `${flag.slice(2)}.parquet`);
      const written = await runCli(["export", "--latest", flag, "--format", "parquet", "--out", out], cliEnv());
      expect(written.code, written.stderr).toBe(0);
      expect(written.stdout).toBe("");
      expect((await readFile(out)).equals(await container().getBlockBlobClient(`${prefix}part-00000.parquet`).downloadToBuffer()), flag).toBe(true);
    }
    const out = join(folder, "nested.parquet");
    const nested = await runCli(["export", "--latest", "--memberships", "--transitive", "--format", "parquet", "--out", out], cliEnv());
    expect(nested.code, nested.stderr).toBe(0);
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    const columns = membershipLaneColumns({ transitive: true });
    const read = await readParquetWithDuckDb(out, columns, "groupId");
    expect(read.types).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expect(LANE_TYPE_SQL.integer).toBe("INTEGER");
    const lines = await jsonLines(["export", "--latest", "--memberships", "--transitive"]);
    expect(lines.some((line) => Number(line.depth) > 1)).toBe(true);
    expectRowsEqual(read.rows, lines, columns, { _snapshotTime: run.startedAt.toISOString(), _tenantId: tenantId, _runId: run.runId }, membershipKey);
  });

  it("export --current --groups --format parquet: the groups' mirror in the lane's shape, equal to export --current --groups", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "group-lane-")), "current.parquet");
    const written = await runCli(["export", "--current", "--groups", "--format", "parquet", "--out", out], cliEnv());
    expect(written.code, written.stderr).toBe(0);
    const state = (await groupStores.mirror.getDeltaState())!.state;
    const columns = groupLaneColumns(LANE_GROUP_SELECT);
    const read = await readParquetWithDuckDb(out, columns);
    expect(read.types).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expectRowsEqual(read.rows, await jsonLines(["export", "--current", "--groups"]), columns, { _snapshotTime: state.savedAt.toISOString(), _tenantId: tenantId, _runId: state.runId }, (row) => String(row.id));
  });

  it("the groups' mirror's change sets land under changes/ in the same run, equal to export --changes, and export --changes --groups|--memberships --format parquet writes the same files", async () => {
    const members3 = new Set([...world.tenant.groups.currentMembers(3)].map((m) => m.id));
    const joiner = [...Array(USERS).keys()].reverse().find((i) => !members3.has(world.tenant.changes.userIdAt(i)))!;
    expect(world.tenant.groups.addMember(3, { user: joiner })).toBe(true);
    const leaving = [...world.tenant.groups.currentMembers(3)].find((m) => m.type === "user" && m.id !== world.tenant.changes.userIdAt(joiner))!;
    world.tenant.groups.removeMember(3, leaving);
    world.tenant.groups.changeGroup(2, { displayName: "Renamed — 変更" });

    const result = await service.runDue(log.logger, { trigger: "cli" });
    expect(result.snapshot).toBeUndefined();
    const groupsRun = result.groupsMirror!;
    expect(groupsRun).toMatchObject({ mode: "incremental", status: "succeeded", changes: { updated: 1 } });
    expect(result.lane?.failed).toEqual([]);
    const lower = tenantId.toLowerCase();
    const at = partitionTime(groupsRun.startedAt);
    const sets = result.lane!.written.filter((w) => w.kind === "changes" && w.runId === groupsRun.runId);
    expect(sets.map((w) => [w.object, w.prefix, w.alreadyComplete])).toEqual([
      ["groups", `changes/tenant=${lower}/object=groups/run_time=${at}/`, false],
      ["memberships", `changes/tenant=${lower}/object=memberships/run_time=${at}/`, false],
    ]);
    const stamps = { _snapshotTime: groupsRun.startedAt.toISOString(), _tenantId: tenantId, _runId: groupsRun.runId };
    const exported = (await jsonLines(["export", "--changes", groupsRun.runId])).map((line) => ({ ...line, ...(line.membership as object | undefined) }));
    const groupChanges = exported.filter((line) => line.group !== undefined);
    const membershipChanges = exported.filter((line) => line.membership !== undefined);
    expect(groupChanges.map((c) => c.change)).toEqual(["updated"]);
    expect(membershipChanges.map((c) => c.change).sort()).toEqual(["joined", "left"]);
    const folder = await mkdtemp(join(tmpdir(), "group-lane-"));
    for (const [object, columns, lines, key] of [
      ["groups", changeLaneColumns("group"), groupChanges, (row: Record<string, unknown>) => String(row.id)],
      ["memberships", membershipChangeLaneColumns(), membershipChanges, membershipKey],
    ] as const) {
      const prefix = sets.find((w) => w.object === object)!.prefix;
      expect(await listBlobNames(container(), prefix)).toEqual([`${prefix}_SUCCESS`, `${prefix}_manifest.json`, `${prefix}part-00000.parquet`]);
      const read = await readParquetWithDuckDb(`${await downloadContainer(container(), prefix)}/**/*.parquet`, columns, "at");
      expect(read.types.slice(0, columns.length)).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
      expectRowsEqual(read.rows, [...lines], columns, stamps, key);
      const out = join(folder, `${object}.parquet`);
      const local = await runCli(["export", "--changes", groupsRun.runId, `--${object}`, "--format", "parquet", "--out", out], cliEnv());
      expect(local.code, local.stderr).toBe(0);
      expect((await readFile(out)).equals(await container().getBlockBlobClient(`${prefix}part-00000.parquet`).downloadToBuffer()), object).toBe(true);
    }
    const renamed = await readParquetWithDuckDb(`${await downloadContainer(container(), sets[0]!.prefix)}/**/*.parquet`, changeLaneColumns("group"));
    expect(String(renamed.rows[0]!.group)).toContain("Renamed — 変更");

    // The next run writes nothing again.
    const before = proxy.seen.length;
    const next = await service.runDue(log.logger, { trigger: "cli" });
    expect(next.lane?.written.filter((w) => !w.alreadyComplete)).toEqual([]);
    expect(puts(before)).toEqual([]);
  });

  it("combinations that make no sense are refused with exit 2, naming the fix", async () => {
    const runId = (await store.getLatestSnapshot())!.runId;
    const cases: Array<[string[], RegExp]> = [
      [["--changes", runId, "--groups"], /drop --groups\/--memberships, or add --format parquet --out <file>/],
      [["--changes", runId, "--memberships", "--transitive", "--format", "parquet", "--out", "x.parquet"], /--transitive goes with a snapshot or --current/],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli(["export", ...args], cliEnv());
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(expected);
    }
    const groupsRun = (await Array.fromAsync(groupStores.mirror.listRuns({ maxResults: 1, status: "succeeded" })))[0]!;
    const noSet = await runCli(["export", "--changes", groupsRun.runId, "--format", "parquet", "--out", "x.parquet"], cliEnv());
    expect(noSet.code).toBe(2);
    expect(noSet.stderr).toMatch(/a run of the groups' mirror.*add --groups or --memberships/);
  });

  it("docs/analytics.md's groups recipe runs as written: each user's direct groups, equal to what export says", async () => {
    const [sql, ...more] = recipeSqlBlocks("### DuckDB: groups per user");
    expect(more).toEqual([]);
    const rows = await runSqlInFolder(await downloadContainer(container()), sql!);
    const names = new Map((await jsonLines(["export", "--latest", "--groups"])).map((g) => [String(g.id), String(g.displayName)]));
    const expected = new Map<string, string[]>();
    for (const user of await jsonLines(["export", "--latest"])) expected.set(String(user.id), []);
    for (const m of await jsonLines(["export", "--latest", "--memberships"])) if (m.memberType === "user") expected.get(String(m.memberId))?.push(names.get(String(m.groupId))!);
    expect(rows).toHaveLength(expected.size);
    expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([tenantId]));
    expect(new Map(rows.map((r) => [String(r.user_id), (r.group_names as string[]).slice().sort()]))).toEqual(new Map([...expected].map(([id, list]) => [id, list.sort()])));
    expect(rows.some((r) => Number(r.groups) > 1)).toBe(true);
  });

  it("a groups' set that fails leaves the snapshot unsealed (no users' _SUCCESS), is recorded as the lane's failure, and the next attempt writes the three sets", async () => {
    const run = { ...(await store.getRun((await store.getLatestSnapshot())!.runId))! };
    delete run.lane;
    const name = "group-lane-retry";
    const retry = blobs.getContainerClient(name);
    await retry.create();
    const settings = readExportLane({ USER_SYNC_EXPORT_STORAGE: world.azurite.connectionString, USER_SYNC_EXPORT_CONTAINER: name }).lane!;
    const recorded: LaneRunState[] = [];
    const source: LaneSnapshotSource = {
      listRuns: async function* () {
        yield run;
      },
      listSnapshotUsers: (snapshotId, options) => store.listSnapshotUsers(snapshotId, options),
      recordLane: async (_runId, state) => void recorded.push(state),
    };
    let failGroups = true;
    const groups: LaneGroupSource = {
      snapshots: {
        listSnapshotObjectsById: (snapshotId, options) =>
          failGroups
            ? (async function* () {
                yield* [];
                throw new Error("the groups' table did not answer");
              })()
            : groupStores.snapshots.listSnapshotObjectsById(snapshotId, options),
      },
      edges: groupStores.edges,
      mirror: { listRuns: async function* () {}, listChanges: (runId, options) => groupStores.mirror.listChanges(runId, options) },
      memberships: groupStores.memberships,
    };
    const lane = new SnapshotLane({ container: retry, settings, tenantId, store: source, groups });
    const lease = await store.acquireLease({ trigger: "cli" });
    try {
      const first = await lane.catchUp({ lease, logger: log.logger });
      expect(first.written).toEqual([]);
      expect(first.failed).toEqual([expect.objectContaining({ kind: "snapshot", runId: run.runId, error: expect.stringContaining("the groups' table did not answer") })]);
      expect(recorded).toEqual([expect.objectContaining({ status: "failed", attempts: 1 })]);
      // The memberships' set was sealed before the groups' failed; neither the groups' nor the users' set is: the snapshot is not complete.
      const sealed = (await listBlobNames(retry)).filter((blob) => blob.endsWith("_SUCCESS"));
      expect(sealed).toEqual([`${memberships}_SUCCESS`]);

      failGroups = false;
      const second = await lane.catchUp({ lease, logger: log.logger });
      expect(second.failed).toEqual([]);
      expect(second.written.map((w) => [w.object, w.prefix, w.alreadyComplete])).toEqual([
        ["users", users, false],
        ["memberships", memberships, true],
        ["groups", groupSet, false],
      ]);
      for (const prefix of [users, groupSet, memberships]) expect(await listBlobNames(retry, prefix)).toEqual([`${prefix}_SUCCESS`, `${prefix}_manifest.json`, `${prefix}part-00000.parquet`]);
      // The same names and bytes as the run's own sets.
      for (const prefix of [groupSet, memberships]) {
        const part = `${prefix}part-00000.parquet`;
        expect((await retry.getBlockBlobClient(part).downloadToBuffer()).equals(await container().getBlockBlobClient(part).downloadToBuffer()), part).toBe(true);
      }
    } finally {
      await store.releaseLease(lease);
    }
  });

  it("a run that lost its lease (frozen past it) writes nothing of the groups: no part committed, no manifest, no _SUCCESS", async () => {
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    const fencedName = "group-lane-fenced";
    await blobs.getContainerClient(fencedName).create();
    const settings = readExportLane({ USER_SYNC_EXPORT_STORAGE: proxiedConnectionString(), USER_SYNC_EXPORT_CONTAINER: fencedName }).lane!;
    const proxied = BlobServiceClient.fromConnectionString(proxiedConnectionString()).getContainerClient(fencedName);
    const lease = await store.acquireLease({ trigger: "cli", leaseDurationInMs: 5_000 });
    const context = { container: proxied, settings, tenantId, lease, rowsPerGroup: 10, groupsPerPart: 5, abortSignal: lease.signal };
    const { error, puts: fencedPuts } = await writeWhileLeaseLapses(proxy, fencedName, lease, () => writeSnapshotGroupSets(run, context, groupStores));
    expect(lease.lost, "the lease lapsed").toBeDefined();
    expect(isUserSyncError(error, "lease_lost"), String(error)).toBe(true);
    // Only the block that was already on its way when the lease lapsed.
    expect(fencedPuts).toHaveLength(1);
    expect(fencedPuts[0]!.path).toContain("comp=block");
    expect(await listBlobNames(blobs.getContainerClient(fencedName))).toEqual([]);
  });
});
