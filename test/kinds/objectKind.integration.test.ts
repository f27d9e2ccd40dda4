/**
 * The seam of issue 28, item 3: a second object kind needs a descriptor, not a copy of any stage.
 * A test-only kind ("widgets", with its own entity encoding, change detection and table names) is
 * driven on Azurite through the stages the users go through: the snapshot run with the mirror's
 * one-pass full round riding on it, an incremental mirror round and its change log, a second
 * snapshot and the diff, and the `export` and `diff` commands. Each stage uses the kind's parts and
 * writes only the kind's tables.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { diffCommand } from "../../src/cli/diffCommand.js";
import { exportCommand } from "../../src/cli/exportCommand.js";
import type { DeltaItem, DeltaPage } from "../../src/graph/userDeltaClient.js";
import type { GraphObject, ObjectKind } from "../../src/kinds/objectKind.js";
import { storeTableNames } from "../../src/kinds/tableNames.js";
import { USERS } from "../../src/kinds/users.js";
import { runMirrorSync } from "../../src/mirror/mirrorSync.js";
import { UserMirrorClient } from "../../src/mirror/userMirrorClient.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { silentLogger } from "../../src/shared/logger.js";
import { isFenceRow } from "../../src/tables/partitionFence.js";
import { SnapshotStoreClient, type SyncRunRecord, type WriterLease } from "../../src/snapshots/snapshotStoreClient.js";
import { OnePassMirrorRound } from "../../src/sync/onePassRound.js";
import type { UserPageSource } from "../../src/sync/snapshotPorts.js";
import { runSnapshot } from "../../src/sync/snapshotRun.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile();

/** What the widgets' canonical form was asked to do (the one-pass round must use it, not the users'). */
const canonicalCalls: string[] = [];

/**
 * A kind nothing in src/ knows. Its encoding is one JSON column (`body`), not the users' column per
 * property, so an entity written by the users' encoding would show; a widget over size 1000 cannot
 * be stored. Its change detection ignores the case of `label`.
 */
const WIDGETS: ObjectKind = {
  name: "widgets",
  noun: "widget",
  graph: { collectionPath: "/v1.0/widgets", deltaPath: "/v1.0/widgets/delta", permission: "Widget.Read.All" },
  properties: {
    catalogue: ["id", "label", "size", "revision"],
    defaultSelect: ["id", "label", "size", "revision"],
    selectSetting: "WIDGET_SELECT",
    deltaSelect: (select) => select.filter((name) => name !== "revision"),
    selectProblems: () => [],
  },
  key: "id",
  canonical(widget, select) {
    canonicalCalls.push(widget.id);
    return Object.fromEntries(select.map((name) => [name, widget[name] ?? null])) as GraphObject;
  },
  sameValues: (a, b) => String(a.label).toLowerCase() === String(b.label).toLowerCase() && a.size === b.size,
  entity: {
    encode(widget, partitionKey) {
      if (typeof widget.size === "number" && widget.size > 1000) {
        throw new UserSyncError("user_not_storable", `Widget ${widget.id} is too large.`, { details: { userId: widget.id } });
      }
      return { partitionKey, rowKey: widget.id, body: JSON.stringify(widget) };
    },
    decode: (entity) => JSON.parse(entity.body as string) as GraphObject,
  },
  tables: { snapshots: "WidgetSnapshots", mirror: "WidgetMirror", changes: "WidgetMirrorChanges" },
  relationships: [
    {
      name: "parts",
      deltaAnnotation: "parts@delta",
      reverseName: "partOf",
      cardinality: "many",
      targetTypes: ["#test.widget"],
      tables: { forward: "WidgetParts", reverse: "WidgetPartOf" },
      spansPages: true,
    },
  ],
};

const SNAPSHOT_SELECT = ["id", "label", "size", "revision"];
const MIRROR_SELECT = WIDGETS.properties.deltaSelect(SNAPSHOT_SELECT);
const widget = (n: number, label = `Widget ${n}`, size = n * 10, revision = 1): GraphObject => ({ id: `w${String(n).padStart(3, "0")}`, label, size, revision });

/** A `/widgets` reader: the pages given, one after another (what a kind's Graph reader hands the snapshot run). */
function pagesOf(pages: GraphObject[][]): UserPageSource {
  return {
    async *listUserPages() {
      for (const [index, objects] of pages.entries()) {
        yield { pageNumber: index + 1, users: objects, ...(index + 1 < pages.length ? { nextLink: `https://graph.invalid/v1.0/widgets?page=${index + 2}` } : {}) };
      }
    },
  };
}

let store: SnapshotStoreClient;
let mirror: UserMirrorClient;
let firstSnapshot: string;
let secondSnapshot: string;
let incrementalRunId: string;

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  return Array.fromAsync(items);
}

/** The entities of a table as stored, without fence rows. */
async function rawEntities(tableName: string): Promise<Array<Record<string, unknown>>> {
  const table = TableClient.fromConnectionString(azurite.instance.connectionString, tableName, { allowInsecureConnection: true });
  const entities = await all(table.listEntities<Record<string, unknown>>());
  return entities.filter((e) => !isFenceRow(e));
}

async function tableExists(tableName: string): Promise<boolean> {
  const table = TableClient.fromConnectionString(azurite.instance.connectionString, tableName, { allowInsecureConnection: true });
  try {
    await table.listEntities().byPage({ maxPageSize: 1 }).next();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

async function underLease<T>(work: (lease: WriterLease) => Promise<T>): Promise<T> {
  const lease = await store.acquireLease({ trigger: "cli" });
  try {
    return await work(lease);
  } finally {
    await store.releaseLease(lease);
  }
}

/** Runs a command in this process with the storage settings of the test's Azurite; returns what it printed. */
async function printed(command: () => Promise<void>): Promise<{ stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (err.push(String(chunk)), true));
  const saved = process.env.SNAPSHOT_STORAGE;
  process.env.SNAPSHOT_STORAGE = azurite.instance.connectionString;
  try {
    await command();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    if (saved === undefined) delete process.env.SNAPSHOT_STORAGE;
    else process.env.SNAPSHOT_STORAGE = saved;
  }
  return { stdout: out.join(""), stderr: err.join("") };
}

beforeAll(async () => {
  // The default prefix, as the commands use it (this file's Azurite is its own).
  store = new SnapshotStoreClient({ storage: azurite.tableStorage, kind: WIDGETS });
  mirror = new UserMirrorClient({ storage: azurite.tableStorage, kind: WIDGETS });
  await store.createTablesIfNotExist();
  await mirror.createTablesIfNotExist();
});

afterAll(() => {
  vi.restoreAllMocks();
});

describe("a second object kind through the generic stages", () => {
  it("derives every table name from the kind's suffixes, its relationships' edge tables included", () => {
    expect([store.snapshotsTableName, store.runsTableName, mirror.mirrorTableName, mirror.changesTableName]).toEqual([
      "entraUserWidgetSnapshots",
      "entraUserRuns",
      "entraUserWidgetMirror",
      "entraUserWidgetMirrorChanges",
    ]);
    expect(storeTableNames("p", [USERS, WIDGETS])).toEqual(["pSnapshots", "pWidgetSnapshots", "pRuns", "pMirror", "pMirrorChanges", "pWidgetMirror", "pWidgetMirrorChanges", "pWidgetParts", "pWidgetPartOf"]);
  });

  it("writes a snapshot with the one-pass mirror round riding on it, in the kind's encoding and tables", async () => {
    const pages = [[widget(1), widget(2), widget(3)], [widget(4), widget(5, "Huge", 5000), widget(6)]];
    const result = await underLease(async (lease) => {
      const onePass = new OnePassMirrorRound(
        { delta: { select: MIRROR_SELECT, latestDeltaLink: async () => "https://graph.invalid/v1.0/widgets/delta?$deltatoken=one" }, mirror, logger: silentLogger, lease },
        { reason: "firstRound", trigger: "cli" },
      );
      return runSnapshot<SyncRunRecord, WriterLease>({ source: pagesOf(pages), sink: store, select: SNAPSHOT_SELECT, logger: silentLogger, companion: onePass }, { trigger: "cli", lease });
    });
    expect(result.outcome).toBe("completed");
    expect(result.stats.skipped).toEqual([{ id: "w005", reason: "Widget w005 is too large." }]);
    firstSnapshot = result.run.snapshotId;
    expect((await store.getLatestSnapshot())?.snapshotId).toBe(firstSnapshot);

    // The snapshot: the kind's encoding (one `body` column, no `_meta`), read back by the kind's decoding.
    const expected = [1, 2, 3, 4, 6].map((n) => widget(n));
    const read = await all(store.listSnapshotObjects(firstSnapshot));
    expect(read.sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected);
    const stored = await rawEntities("entraUserWidgetSnapshots");
    expect(stored).toHaveLength(5);
    for (const entity of stored) {
      expect(entity).toHaveProperty("body");
      expect(entity).not.toHaveProperty("_meta");
    }
    // The users' tables were never touched.
    expect(await tableExists("entraUserSnapshots")).toBe(false);
    expect(await tableExists("entraUserMirror")).toBe(false);

    // The mirror's full round: the kind's canonical form over the mirror's $select, then the sweep and the saved delta link.
    expect(canonicalCalls.sort()).toEqual(["w001", "w002", "w003", "w004", "w005", "w006"]);
    const present = await all(mirror.listUsers());
    expect(present.map((m) => m.user).sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected.map(({ revision: _, ...rest }) => rest));
    expect((await mirror.getDeltaState())?.state).toMatchObject({ deltaLink: "https://graph.invalid/v1.0/widgets/delta?$deltatoken=one", select: MIRROR_SELECT });
    for (const entity of await rawEntities("entraUserWidgetMirror")) {
      if (String(entity.partitionKey).startsWith("u-")) expect(entity).toHaveProperty("body");
    }
  });

  it("applies an incremental round with the kind's change detection, and logs the changes in the kind's encoding", async () => {
    const items: DeltaItem[] = [
      // Only the label's case differs: the widgets' sameValues (not the users') says nothing changed.
      { kind: "user", user: { id: "w001", label: "WIDGET 1", size: 10 } },
      { kind: "user", user: { id: "w002", label: "Renamed", size: 20 } },
      { kind: "user", user: { id: "w007", label: "Widget 7", size: 70 } },
      { kind: "removed", id: "w003", reason: "changed" },
    ];
    const seen: Array<string | undefined> = [];
    const record = await underLease((lease) =>
      runMirrorSync(
        {
          delta: {
            select: MIRROR_SELECT,
            async *listDeltaPages(options) {
              seen.push(options?.startLink);
              yield { pageNumber: 1, items, deltaLink: "https://graph.invalid/v1.0/widgets/delta?$deltatoken=two" } satisfies DeltaPage;
            },
          },
          mirror,
          logger: silentLogger,
          lease,
        },
        { trigger: "cli" },
      ),
    );
    expect(seen).toEqual(["https://graph.invalid/v1.0/widgets/delta?$deltatoken=one"]);
    expect(record).toMatchObject({ status: "succeeded", mode: "incremental", changes: { added: 1, updated: 1, restored: 0, removed: 1, unchanged: 1 } });
    incrementalRunId = record.runId;
    const changes = await all(mirror.listChanges(record.runId));
    expect(changes.map((c) => [c.id, c.change, c.reason, c.user])).toEqual([
      ["w002", "updated", undefined, { id: "w002", label: "Renamed", size: 20 }],
      ["w003", "removed", "changed", { id: "w003", label: "Widget 3", size: 30 }],
      ["w007", "added", undefined, { id: "w007", label: "Widget 7", size: 70 }],
    ]);
    for (const entity of await rawEntities("entraUserWidgetMirrorChanges")) expect(entity).toHaveProperty("body");
    const states = new Map((await all(mirror.listUsers({ includeRemoved: true }))).map((m) => [m.user.id, m.state]));
    expect(Object.fromEntries(states)).toEqual({ w001: "present", w002: "present", w003: "softDeleted", w004: "present", w006: "present", w007: "present" });
  });

  it("diffs two snapshots of the kind", async () => {
    const result = await underLease((lease) =>
      runSnapshot<SyncRunRecord, WriterLease>(
        { source: pagesOf([[widget(1, "Widget 1", 10, 2), widget(2, "Renamed"), widget(4)], [widget(6), widget(7)]]), sink: store, select: SNAPSHOT_SELECT, logger: silentLogger },
        { trigger: "cli", lease },
      ),
    );
    secondSnapshot = result.run.snapshotId;
    const changes = await all(store.diffSnapshots(firstSnapshot, secondSnapshot));
    const byId = Object.fromEntries(changes.map((c) => [c.id, c]));
    expect(Object.keys(byId).sort()).toEqual(["w001", "w002", "w003", "w007"]);
    expect(byId.w001).toEqual({ change: "changed", id: "w001", properties: { revision: { from: 1, to: 2 } } });
    expect(byId.w002).toEqual({ change: "changed", id: "w002", properties: { label: { from: "Widget 2", to: "Renamed" } } });
    expect(byId.w003).toMatchObject({ change: "removed", user: widget(3) });
    expect(byId.w007).toMatchObject({ change: "added", user: widget(7) });
  });

  it("is exported and diffed by the commands, worded with the kind's noun", async () => {
    const diff = await printed(() => diffCommand({ format: "table", kind: WIDGETS }));
    expect(diff.stdout).toContain(`Compared snapshot ${firstSnapshot} with ${secondSnapshot}: 1 added, 1 removed, 2 changed.`);
    expect(diff.stdout).toMatch(/CHANGE +WIDGETS\n/);
    expect(diff.stdout).toMatch(/PROPERTY +WIDGETS CHANGED\n/);

    const snapshot = await printed(() => exportCommand({ latest: true, format: "jsonl", kind: WIDGETS }));
    expect(snapshot.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphObject).map((w) => w.id).sort()).toEqual(["w001", "w002", "w004", "w006", "w007"]);
    expect(snapshot.stderr).toBe(`Exported 5 widgets from snapshot ${secondSnapshot}.\n`);

    const current = await printed(() => exportCommand({ current: true, includeDeleted: true, format: "jsonl", kind: WIDGETS }));
    expect(current.stderr).toMatch(/^Exported 5 current widgets and 1 removed widget from the live mirror/);
    expect(current.stderr).toContain("warning: 1 widget skipped by the mirror since its last full round");

    const changes = await printed(() => exportCommand({ changes: incrementalRunId, format: "jsonl", kind: WIDGETS }));
    const lines = changes.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => Object.keys(line))).toEqual([
      ["change", "at", "id", "widget"],
      ["change", "reason", "at", "id", "widget"],
      ["change", "at", "id", "widget"],
    ]);
    expect(lines[0]!.widget).toEqual({ id: "w002", label: "Renamed", size: 20 });
  });
});
