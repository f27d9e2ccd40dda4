/**
 * The analytics lane through the real clients (the simulated tenant, Tables and Blobs on Azurite,
 * the compiled CLI): a run writes its promoted snapshot as Parquet as the round's pages arrive,
 * without reading the snapshot back; DuckDB reads it back equal to `export --latest`, user by user;
 * the manifest and `_SUCCESS` come last; a run killed mid-round or mid-lane is finished by the next
 * run (the snapshot read back), byte for byte what `export --format parquet` writes; a retried set
 * has the same names and bytes; a run that lost its lease writes nothing; a lane failure leaves the
 * snapshot promoted, shows in `runs`, and is retried by the next run.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { composeUserSync } from "../../src/app/syncService.js";
import { readExportLane } from "../../src/configuration/exportSettings.js";
import type { GraphUser } from "../../src/graph/types.js";
import { changeLaneColumns, LANE_TYPE_SQL, userLaneColumns } from "../../src/lane/laneColumns.js";
import { SnapshotLane } from "../../src/lane/snapshotLane.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import type { SnapshotStoreClient } from "../../src/snapshots/snapshotStoreClient.js";
import type { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import type { UserSyncService } from "../../src/sync/userSyncService.js";
import { assertCliBuilt, runCli, startCli } from "../support/cli.js";
import { downloadContainer, expectedCell, listBlobNames, readBackCell, readParquetWithDuckDb, writeWhileLeaseLapses } from "../support/laneReader.js";
import { capturingLogger, expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { startTableProxy, type TableProxy } from "../support/tableProxy.js";

const USERS = 1_200;
const SELECT = "id,userPrincipalName,displayName,accountEnabled,createdDateTime,employeeHireDate,businessPhones,proxyAddresses,mail,department,employeeOrgData,identities,onPremisesSyncEnabled,showInAddressList";
const CONTAINER = "lane-tests";
let world: SyncEnvironment;
let proxy: TableProxy;
let service: UserSyncService;
let store: SnapshotStoreClient;
let mirror: UserMirrorClient;
let env: Record<string, string>;
let blobs: BlobServiceClient;
const log = capturingLogger();

/** The lane's connection string, its BlobEndpoint pointed at the recording proxy. */
function proxiedConnectionString(): string {
  return world.azurite.connectionString.replace(/BlobEndpoint=[^;]+;/, `BlobEndpoint=${proxy.tableEndpoint};`);
}

const putsUnder = (prefix: string) =>
  proxy.seen.filter((r) => r.method === "PUT" && decodeURIComponent(r.path).includes(`/${CONTAINER}/${prefix}`)).map((r) => decodeURIComponent(r.path.split("?")[0]!).split(`/${CONTAINER}/`)[1]!);

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 30 }, { blob: true });
  world.useInProcess();
  proxy = await startTableProxy({ tableEndpoint: world.azurite.blobEndpoint!, connectionString: world.azurite.connectionString });
  blobs = BlobServiceClient.fromConnectionString(world.azurite.connectionString);
  await blobs.getContainerClient(CONTAINER).create();
  // Values a reader must get back exactly: non-ASCII text, an emoji, an empty list, NULLs.
  world.tenant.changes.changeUser(3, { displayName: "東京 Zoë Ørsted 🚀", businessPhones: [], mail: null, department: "Ventes & Après-vente" });
  env = { ...world.env, USER_SYNC_SELECT: SELECT, USER_SYNC_EXPORT_STORAGE: proxiedConnectionString(), USER_SYNC_EXPORT_CONTAINER: CONTAINER };
  ({ service, clients: { store, mirror } } = composeUserSync(env));
});
afterAll(async () => {
  await proxy?.close();
  await world?.close();
});

const container = (): ContainerClient => blobs.getContainerClient(CONTAINER);

describe("the analytics lane", () => {
  let prefix = "";

  it("a run writes its promoted snapshot as Parquet as the pages arrive (no read of the snapshot back), read back by DuckDB equal to export --latest, user by user", async () => {
    const readBack = vi.spyOn(store, "listSnapshotUsers");
    const result = await service.runDue(log.logger, { trigger: "cli" });
    const reads = readBack.mock.calls.length;
    readBack.mockRestore();
    expect(result.snapshot?.outcome).toBe("completed");
    // The lane's snapshot source is this store: the set came from the round's pages, not a read of the snapshot table.
    expect(reads).toBe(0);
    expect(log.lines.some((line) => line.includes("is read back from the snapshot"))).toBe(false);
    expect(result.lane?.failed).toEqual([]);
    const snapshots = result.lane!.written.filter((w) => w.kind === "snapshot");
    expect(snapshots).toHaveLength(1);
    const latest = (await store.getLatestSnapshot())!;
    const run = (await store.getRun(latest.runId))!;
    prefix = snapshots[0]!.prefix;
    expect(prefix).toBe(`tenant=${world.env.GRAPH_TENANT_ID!.toLowerCase()}/object=users/snapshot_time=${run.startedAt.toISOString().replace(/[-:]/g, "")}/`);
    expect(run.lane).toMatchObject({ status: "written", attempts: 1, rows: USERS, files: 1, prefix });
    expect(await listBlobNames(container(), prefix)).toEqual([`${prefix}_SUCCESS`, `${prefix}_manifest.json`, `${prefix}part-00000.parquet`]);

    const exported = await runCli(["export", "--latest", "--format", "jsonl"], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(exported.code, exported.stderr).toBe(0);
    const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(users).toHaveLength(USERS);

    const folder = await downloadContainer(container(), prefix);
    const columns = userLaneColumns(run.select);
    const read = await readParquetWithDuckDb(`${folder}/**/*.parquet`, columns);
    // Every column, in USER_SYNC_SELECT order then the stamps, with its documented type (then the Hive partitions).
    expect(read.types.slice(0, columns.length)).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expect(read.types.slice(columns.length).map(([name]) => name).sort()).toEqual(["object", "snapshot_time", "tenant"]);
    expect(read.rows).toHaveLength(USERS);
    const stamps = { _snapshotTime: run.startedAt.toISOString(), _tenantId: world.env.GRAPH_TENANT_ID!, _runId: run.runId };
    for (let i = 0; i < USERS; i++) {
      const user: Record<string, unknown> = { ...users[i]!, ...stamps };
      const row = read.rows[i]!;
      for (const column of columns) expect(readBackCell(column, row[column.name]), `${String(user.id)} ${column.name}`).toEqual(expectedCell(column, user[column.name]));
    }
    // The values that are easy to get wrong are there, as they should be.
    const special = read.rows.find((row) => row.displayName === "東京 Zoë Ørsted 🚀");
    expect(special).toMatchObject({ businessPhones: [], mail: null, department: "Ventes & Après-vente" });
    expect(read.rows.some((row) => row.accountEnabled === false)).toBe(true);
    expect(read.rows.some((row) => row.onPremisesSyncEnabled === null)).toBe(true);
    expect(read.rows.some((row) => Array.isArray(row.proxyAddresses) && row.proxyAddresses.length > 1)).toBe(true);
  });

  it("writes the manifest, then _SUCCESS, after every part, and the manifest lists the parts with their row counts", async () => {
    const puts = putsUnder(prefix);
    expect(puts.slice(-2)).toEqual([`${prefix}_manifest.json`, `${prefix}_SUCCESS`]);
    expect(puts.slice(0, -2).every((name) => name.startsWith(`${prefix}part-`))).toBe(true);
    const manifest = JSON.parse((await container().getBlockBlobClient(`${prefix}_manifest.json`).downloadToBuffer()).toString("utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ formatVersion: 1, kind: "snapshot", object: "users", rows: USERS, files: [{ name: "part-00000.parquet", rows: USERS }] });
  });

  it("export --latest --format parquet writes the same rows, columns and types without Blob Storage (the streamed part is in page order, the export in storage order)", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "lane-cli-")), "users.parquet");
    const exported = await runCli(["export", "--latest", "--format", "parquet", "--out", out], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe("");
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    const columns = userLaneColumns(run.select);
    const folder = await downloadContainer(container(), prefix);
    const lane = await readParquetWithDuckDb(`${folder}/**/*.parquet`, columns);
    const local = await readParquetWithDuckDb(out, columns);
    // Both sorted by id: every row, every column, every type.
    expect(local.types).toEqual(lane.types.slice(0, columns.length));
    expect(local.rows).toHaveLength(USERS);
    expect(local.rows).toEqual(lane.rows);
    // Without --out: refused before anything is read (a binary format never goes to the terminal).
    const refused = await runCli(["export", "--latest", "--format", "parquet"], world.cliEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--out");
  });

  it("export --current --format parquet writes the live mirror in the lane's shape, equal to export --current user by user", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "lane-cli-")), "current.parquet");
    const written = await runCli(["export", "--current", "--format", "parquet", "--out", out], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(written.code, written.stderr).toBe(0);
    const exported = await runCli(["export", "--current", "--format", "jsonl"], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(exported.code, exported.stderr).toBe(0);
    const users = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>).sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
    const state = (await mirror.getDeltaState())!.state;
    const columns = userLaneColumns(state.select);
    const read = await readParquetWithDuckDb(out, columns);
    expect(read.types).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    expect(read.rows).toHaveLength(users.length);
    const stamps = { _snapshotTime: state.savedAt.toISOString(), _tenantId: world.env.GRAPH_TENANT_ID!, _runId: state.runId };
    for (let i = 0; i < users.length; i++) {
      const user: Record<string, unknown> = { ...users[i]!, ...stamps };
      for (const column of columns) expect(readBackCell(column, read.rows[i]![column.name]), `${String(user.id)} ${column.name}`).toEqual(expectedCell(column, user[column.name]));
    }
  });

  it("the next run does not write the set again", async () => {
    const before = proxy.seen.length;
    const result = await service.runDue(log.logger, { trigger: "cli" });
    expect(result.lane?.failed).toEqual([]);
    expect(result.lane?.written.filter((w) => !w.alreadyComplete)).toEqual([]);
    expect(proxy.seen.slice(before).some((r) => r.method === "PUT")).toBe(false);
  });

  it("a mirror run's change set lands under changes/, read back equal to export --changes, and export --changes --format parquet writes the same file", async () => {
    world.tenant.changes.changeUser(7, { displayName: "Changé 変更", department: null });
    const result = await service.runDue(log.logger, { trigger: "cli" });
    expect(result.mirror).toMatchObject({ mode: "incremental", status: "succeeded", changes: { updated: 1 } });
    const set = result.lane!.written.find((w) => w.kind === "changes" && w.runId === result.mirror!.runId)!;
    expect(set).toMatchObject({ alreadyComplete: false, rows: 1, files: 1 });
    expect(set.prefix).toBe(`changes/tenant=${world.env.GRAPH_TENANT_ID!.toLowerCase()}/object=users/run_time=${result.mirror!.startedAt.toISOString().replace(/[-:]/g, "")}/`);
    expect(putsUnder(set.prefix).slice(-2)).toEqual([`${set.prefix}_manifest.json`, `${set.prefix}_SUCCESS`]);
    const exported = await runCli(["export", "--changes", result.mirror!.runId, "--format", "jsonl"], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(exported.code, exported.stderr).toBe(0);
    const [change] = exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const folder = await downloadContainer(container(), set.prefix);
    const columns = changeLaneColumns();
    const read = await readParquetWithDuckDb(`${folder}/**/*.parquet`, columns);
    expect(read.types.slice(0, columns.length)).toEqual(columns.map((c) => [c.name, LANE_TYPE_SQL[c.type]]));
    const expected: Record<string, unknown> = { ...change, _snapshotTime: result.mirror!.startedAt.toISOString(), _tenantId: world.env.GRAPH_TENANT_ID!, _runId: result.mirror!.runId };
    for (const column of columns) expect(readBackCell(column, read.rows[0]![column.name]), column.name).toEqual(expectedCell(column, expected[column.name]));
    expect((read.rows[0]!.user as string).includes("Changé 変更")).toBe(true);
    const out = join(await mkdtemp(join(tmpdir(), "lane-cli-")), "changes.parquet");
    const local = await runCli(["export", "--changes", result.mirror!.runId, "--format", "parquet", "--out", out], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(local.code, local.stderr).toBe(0);
    expect((await readFile(out)).equals(await container().getBlockBlobClient(`${set.prefix}part-00000.parquet`).downloadToBuffer())).toBe(true);
  });

  it("a run killed (SIGKILL) in the middle of the round: the resumed run reads the snapshot back, and the set equals the snapshot", async () => {
    await waitForFreeLease();
    const cliEnv = world.cliEnv({ ...env, USER_SYNC_SELECT: SELECT });
    const before = (await store.getLatestSnapshot())!;
    // The first page is read, written and streamed; the second is held: the child dies between pages.
    const hold = world.tenant.faults.hold("graph", (request) => /\/users\/?$/.test(request.url.pathname) && request.url.searchParams.has("$skiptoken"));
    const killed = startCli(["run", "--full", "--no-progress"], cliEnv);
    try {
      const until = Date.now() + 60_000;
      let checkpointed = false;
      while (!checkpointed) {
        if (Date.now() > until) throw new Error("the child never checkpointed its first page");
        for await (const run of store.listUnfinishedRuns()) if (run.stats.pages >= 1) checkpointed = true;
        if (!checkpointed) await sleep(100);
      }
      killed.child.kill("SIGKILL");
      expect((await killed.exited).signal).toBe("SIGKILL");
    } finally {
      hold.release();
    }
    expect((await store.getLatestSnapshot())!.runId).toBe(before.runId);
    const resumed = await runCli(["run", "--no-progress"], cliEnv);
    expect(resumed.code, resumed.stderr).toBe(0);
    const latest = (await store.getLatestSnapshot())!;
    expect(latest.runId).not.toBe(before.runId);
    const run = (await store.getRun(latest.runId))!;
    expect(run.stats.counters.resumes).toBe(1);
    const setPrefix = `tenant=${world.env.GRAPH_TENANT_ID!.toLowerCase()}/object=users/snapshot_time=${run.startedAt.toISOString().replace(/[-:]/g, "")}/`;
    expect(await listBlobNames(container(), setPrefix)).toEqual([`${setPrefix}_SUCCESS`, `${setPrefix}_manifest.json`, `${setPrefix}part-00000.parquet`]);
    expect(run.lane).toMatchObject({ status: "written", attempts: 1, rows: USERS });
    // The read-back path writes the snapshot in storage order: the very file export --format parquet writes.
    const out = join(await mkdtemp(join(tmpdir(), "lane-cli-")), "users.parquet");
    const exported = await runCli(["export", "--snapshot", latest.snapshotId, "--format", "parquet", "--out", out], cliEnv);
    expect(exported.code, exported.stderr).toBe(0);
    expect((await readFile(out)).equals(await container().getBlockBlobClient(`${setPrefix}part-00000.parquet`).downloadToBuffer())).toBe(true);
  });

  it("a run killed (SIGKILL) in the middle of the lane: the next run writes the set, and its part is the file export --format parquet writes", async () => {
    await waitForFreeLease();
    const cliEnv = world.cliEnv({ ...env, USER_SYNC_SELECT: SELECT });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let blockSeen!: () => void;
    const blockArrived = new Promise<void>((resolve) => (blockSeen = resolve));
    const known = new Set(await listBlobNames(container()));
    proxy.decide = (request) => {
      const path = decodeURIComponent(request.path);
      if (request.method === "PUT" && path.includes("comp=block") && path.includes("/snapshot_time=") && ![...known].some((name) => path.includes(name.split("part-")[0]!))) {
        blockSeen();
        return held;
      }
      return "pass";
    };
    const killed = startCli(["run", "--full", "--no-progress"], cliEnv);
    try {
      await Promise.race([blockArrived, killed.exited.then((r) => Promise.reject(new Error(`the run ended first: ${r.stderr}`)))]);
      killed.child.kill("SIGKILL");
      expect((await killed.exited).signal).toBe("SIGKILL");
    } finally {
      proxy.decide = () => "pass";
      release();
    }
    const latest = (await store.getLatestSnapshot())!;
    const run = (await store.getRun(latest.runId))!;
    const setPrefix = `tenant=${world.env.GRAPH_TENANT_ID!.toLowerCase()}/object=users/snapshot_time=${run.startedAt.toISOString().replace(/[-:]/g, "")}/`;
    expect(run.lane).toBeUndefined();
    expect(await listBlobNames(container(), setPrefix)).toEqual([]);

    const resumed = await runCli(["run", "--no-progress"], cliEnv);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await listBlobNames(container(), setPrefix)).toEqual([`${setPrefix}_SUCCESS`, `${setPrefix}_manifest.json`, `${setPrefix}part-00000.parquet`]);
    expect((await store.getRun(latest.runId))!.lane).toMatchObject({ status: "written", attempts: 1, rows: USERS });
    const out = join(await mkdtemp(join(tmpdir(), "lane-cli-")), "users.parquet");
    const exported = await runCli(["export", "--snapshot", latest.snapshotId, "--format", "parquet", "--out", out], cliEnv);
    expect(exported.code, exported.stderr).toBe(0);
    expect((await readFile(out)).equals(await container().getBlockBlobClient(`${setPrefix}part-00000.parquet`).downloadToBuffer())).toBe(true);
  });

  it("a set written again (a retried or resumed run) has the same names and the same bytes, row groups and parts included", async () => {
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    const other = blobs.getContainerClient("lane-retry");
    await other.create();
    const settings = readExportLane({ USER_SYNC_EXPORT_STORAGE: world.azurite.connectionString, USER_SYNC_EXPORT_CONTAINER: "lane-retry" }).lane!;
    const lane = new SnapshotLane({ container: other, settings, tenantId: world.env.GRAPH_TENANT_ID!, store, rowsPerGroup: 100, groupsPerPart: 5 });
    const lease = await store.acquireLease({ trigger: "cli" });
    try {
      const first = await lane.writeSnapshot(run, { lease, logger: log.logger });
      expect(first.manifest.files.map((f) => [f.name, f.rows])).toEqual([
        ["part-00000.parquet", 500],
        ["part-00001.parquet", 500],
        ["part-00002.parquet", 200],
      ]);
      const names = await listBlobNames(other);
      const bytes = await Promise.all(names.map(async (name) => other.getBlockBlobClient(name).downloadToBuffer()));
      // An attempt that died after its parts: no _SUCCESS, no manifest, a part missing.
      for (const name of ["_SUCCESS", "_manifest.json", "part-00001.parquet"]) await other.getBlockBlobClient(`${lane.prefixOf(run)}${name}`).delete();
      const again = await lane.writeSnapshot(run, { lease, logger: log.logger });
      expect(again.alreadyComplete).toBe(false);
      expect(await listBlobNames(other)).toEqual(names);
      const bytesAgain = await Promise.all(names.map(async (name) => other.getBlockBlobClient(name).downloadToBuffer()));
      for (let i = 0; i < names.length; i++) expect(bytesAgain[i]!.equals(bytes[i]!), names[i]).toBe(true);
      // Ten row groups of 100 rows and one of 200... as DuckDB sees them: every row once.
      const folder = await downloadContainer(other);
      const read = await readParquetWithDuckDb(`${folder}/**/*.parquet`, userLaneColumns(run.select));
      expect(new Set(read.rows.map((r) => r.id)).size).toBe(USERS);
    } finally {
      await store.releaseLease(lease);
    }
  });

  it("a run that lost its lease (frozen past it) writes nothing more: no part is committed, no manifest, no _SUCCESS", async () => {
    const run = (await store.getRun((await store.getLatestSnapshot())!.runId))!;
    const fenced = blobs.getContainerClient("lane-fenced");
    await fenced.create();
    const settings = readExportLane({ USER_SYNC_EXPORT_STORAGE: proxiedConnectionString(), USER_SYNC_EXPORT_CONTAINER: "lane-fenced" }).lane!;
    const proxied = BlobServiceClient.fromConnectionString(proxiedConnectionString()).getContainerClient("lane-fenced");
    const lane = new SnapshotLane({ container: proxied, settings, tenantId: world.env.GRAPH_TENANT_ID!, store, rowsPerGroup: 100, groupsPerPart: 5 });
    // A short lease that nobody renews: it lapses while the lane's first block is held in flight.
    const lease = await store.acquireLease({ trigger: "cli", leaseDurationInMs: 5_000 });
    const { error, puts } = await writeWhileLeaseLapses(proxy, "lane-fenced", lease, () => lane.writeSnapshot(run, { lease, logger: log.logger }));
    expect(lease.lost, "the lease lapsed").toBeDefined();
    expect(isUserSyncError(error, "lease_lost"), String(error)).toBe(true);
    // Only the block that was already on its way when the lease lapsed.
    expect(puts).toHaveLength(1);
    expect(puts[0]!.path).toContain("comp=block");
    expect(await listBlobNames(fenced)).toEqual([]);
  });

  it("a lane failure does not fail the sync: the snapshot stays promoted, runs shows the failure, and the next run writes it", async () => {
    const { service: missing, clients: { store: missingStore } } = composeUserSync({ ...env, USER_SYNC_EXPORT_CONTAINER: "lane-missing" });
    await waitForFreeLease();
    const result = await missing.runDue(log.logger, { trigger: "cli", full: true });
    expect(result.snapshot?.outcome).toBe("completed");
    const latest = (await missingStore.getLatestSnapshot())!;
    expect(latest.runId).toBe(result.snapshot!.run.runId);
    expect(result.lane?.written.map((w) => w.runId)).not.toContain(latest.runId);
    expect(result.lane?.failed.map((f) => f.runId)).toContain(latest.runId);
    expect(result.lane?.failed.find((f) => f.runId === latest.runId)?.error).toMatch(/USER_SYNC_EXPORT_CONTAINER/);
    const run = (await missingStore.getRun(latest.runId))!;
    expect(run.lane).toMatchObject({ status: "failed", attempts: 1 });
    expect(log.lines.some((line) => line.startsWith("warn Analytics lane:") && line.includes("lane-missing"))).toBe(true);

    const runs = await runCli(["runs"], world.cliEnv({ USER_SYNC_SELECT: SELECT }));
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/lane failed \(attempt 1/);
    expectNoSecrets(runs.stdout + runs.stderr + log.lines.join("\n"));

    await blobs.getContainerClient("lane-missing").create();
    const next = await missing.runDue(log.logger, { trigger: "cli" });
    expect(next.snapshot).toBeUndefined();
    expect(next.lane?.written.map((w) => w.runId)).toContain(latest.runId);
    expect((await missingStore.getRun(latest.runId))!.lane).toMatchObject({ status: "written", attempts: 2, rows: USERS });
    expect(await listBlobNames(blobs.getContainerClient("lane-missing"), `${next.lane!.written.find((w) => w.runId === latest.runId)!.prefix}_SUCCESS`)).toHaveLength(1);
  });
});

describe("bad lane settings", () => {
  it("fail the command line with exit 2 before any request, naming the setting and the fix", async () => {
    world.tenant.requests.reset();
    const seen = proxy.seen.length;
    const result = await runCli(["run"], world.cliEnv({ USER_SYNC_SELECT: SELECT, USER_SYNC_EXPORT_STORAGE: proxiedConnectionString(), USER_SYNC_EXPORT_CONTAINER: "Not_A_Container" }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("USER_SYNC_EXPORT_CONTAINER");
    expect(result.stderr).toContain("lower-case letters");
    for (const service of ["token", "metadata", "graph", "keyVault", "managedIdentity"] as const) expect(world.tenant.requests.count(service), service).toBe(0);
    expect(proxy.seen.length).toBe(seen);
    expectNoSecrets(result.stdout + result.stderr);
  });
});

async function waitForFreeLease(): Promise<void> {
  const until = Date.now() + 30_000;
  while ((await store.getLease()) !== undefined) {
    if (Date.now() > until) throw new Error("the writer lease stayed taken");
    await sleep(250);
  }
}
