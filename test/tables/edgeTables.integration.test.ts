/**
 * The edge tables on Azurite: both directions are one partition read, a snapshot's and the mirror's
 * edges are apart, an edge that left is kept as such and skipped, the sweep deletes what a full
 * round did not see, and every write is fenced: once a later lease holder wrote to a partition, a
 * late write of the earlier holder fails with `lease_lost` and changes nothing.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { composeGroupStores } from "../../src/app/groupStores.js";
import { isUserSyncError } from "../../src/shared/errors.js";
import type { LosableLeaseGuard } from "../../src/tables/leaseGuard.js";
import { EdgeTables, MIRROR_EDGE_SCOPE } from "../../src/tables/edgeTables.js";
import { createTableClient } from "../../src/tables/tableClient.js";
import { azuriteForTestFile } from "../support/azuriteStorage.js";

const azurite = azuriteForTestFile();

/** A lease guard that is held until marked lost. */
function guard(): LosableLeaseGuard & { lost?: Error } {
  const controller = new AbortController();
  const g: LosableLeaseGuard & { lost?: Error } = {
    owner: randomUUID(),
    signal: controller.signal,
    assertHeld() {
      if (g.lost) throw g.lost;
    },
    markLost(error: Error) {
      g.lost ??= error;
      controller.abort(error);
    },
  };
  return g;
}

async function newTables(): Promise<EdgeTables> {
  const prefix = `e${randomUUID().replace(/-/g, "").slice(0, 10)}`;
  const edges = composeGroupStores(azurite.tableStorage, undefined, prefix).edges;
  await edges.createTablesIfNotExist();
  return edges;
}

const G = "aaaaaaaa-0000-0000-0000-000000000001";
const H = "aaaaaaaa-0000-0000-0000-000000000002";
const U = "bbbbbbbb-0000-0000-0000-000000000001";
const V = "bbbbbbbb-0000-0000-0000-000000000002";
const SNAPSHOT = "20261207T061500000Z-abcdef";

describe("edge tables", () => {
  it("read both directions in one partition each, keep a snapshot's edges apart from the mirror's, and skip edges that left", async () => {
    const edges = await newTables();
    const lease = guard();
    await edges.writeEdges(SNAPSHOT, [
      { sourceId: G, targetId: U, targetType: "user" },
      { sourceId: G, targetId: H, targetType: "group" },
      { sourceId: H, targetId: U, targetType: "user" },
    ], { lease });
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: G, targetId: V, targetType: "device" }], { lease });
    expect(await Array.fromAsync(edges.listTargets(SNAPSHOT, G))).toEqual([
      { sourceId: G, targetId: H, targetType: "group" },
      { sourceId: G, targetId: U, targetType: "user" },
    ]);
    expect(await Array.fromAsync(edges.listSources(SNAPSHOT, U))).toEqual([
      { sourceId: G, targetId: U, targetType: "user" },
      { sourceId: H, targetId: U, targetType: "user" },
    ]);
    expect(await Array.fromAsync(edges.listEdges(SNAPSHOT))).toHaveLength(3);
    expect(await Array.fromAsync(edges.listEdges(MIRROR_EDGE_SCOPE))).toEqual([{ sourceId: G, targetId: V, targetType: "device" }]);

    await edges.writeEdges(SNAPSHOT, [{ sourceId: G, targetId: U, targetType: "user", removed: true }], { lease });
    expect(await Array.fromAsync(edges.listTargets(SNAPSHOT, G))).toEqual([{ sourceId: G, targetId: H, targetType: "group" }]);
    expect(await Array.fromAsync(edges.listSources(SNAPSHOT, U))).toEqual([{ sourceId: H, targetId: U, targetType: "user" }]);
  });

  it("sweep deletes, in both directions, the rows a full round did not mark, and returns the present ones as left", async () => {
    const edges = await newTables();
    const lease = guard();
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [
      { sourceId: G, targetId: U, targetType: "user" },
      { sourceId: G, targetId: V, targetType: "user", removed: true },
    ], { lease, round: "old" });
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: H, targetId: U, targetType: "user" }], { lease, round: "new" });
    expect(await edges.sweep(MIRROR_EDGE_SCOPE, "new", { lease })).toEqual([{ sourceId: G, targetId: U, targetType: "user" }]);
    expect(await Array.fromAsync(edges.listEdges(MIRROR_EDGE_SCOPE))).toEqual([{ sourceId: H, targetId: U, targetType: "user" }]);
    expect(await Array.fromAsync(edges.listSources(MIRROR_EDGE_SCOPE, U))).toEqual([{ sourceId: H, targetId: U, targetType: "user" }]);
    expect(await Array.fromAsync(edges.listSources(MIRROR_EDGE_SCOPE, V))).toEqual([]);
  });

  it("fences every write: after a later holder wrote to the partition, the earlier holder's write fails with lease_lost and changes nothing", async () => {
    const edges = await newTables();
    const first = guard();
    const second = guard();
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: G, targetId: U, targetType: "user" }], { lease: first });
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: G, targetId: V, targetType: "user" }], { lease: second });
    const late = await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: G, targetId: U, targetType: "user", removed: true }], { lease: first }).catch((error: unknown) => error);
    expect(isUserSyncError(late, "lease_lost"), String(late)).toBe(true);
    expect(first.lost).toBeDefined();
    expect((await Array.fromAsync(edges.listTargets(MIRROR_EDGE_SCOPE, G))).map((e) => e.targetId)).toEqual([U, V]);
  });

  it("deleteScope removes a snapshot's rows and fence rows in both directions, and leaves the mirror's", async () => {
    const edges = await newTables();
    const lease = guard();
    await edges.writeEdges(SNAPSHOT, [{ sourceId: G, targetId: U, targetType: "user" }], { lease });
    await edges.writeEdges(MIRROR_EDGE_SCOPE, [{ sourceId: G, targetId: U, targetType: "user" }], { lease });
    expect(await edges.deleteScope(SNAPSHOT, { lease })).toBe(4);
    expect(await Array.fromAsync(edges.listEdges(SNAPSHOT))).toEqual([]);
    expect(await Array.fromAsync(edges.listSources(SNAPSHOT, U))).toEqual([]);
    const raw = createTableClient({ storage: azurite.tableStorage, tableName: edges.tableNames.reverse, owner: "test" });
    expect(await Array.fromAsync(raw.listEntities())).toHaveLength(2); // the mirror's row and its fence row
    expect(await Array.fromAsync(edges.listEdges(MIRROR_EDGE_SCOPE))).toHaveLength(1);
  });
});
