/**
 * docs/analytics.md's DuckDB recipes run as written, on a lane a real run wrote (Azurite's blob
 * service, the simulated tenant), in a copy of the container: "enabled users per department"
 * equals what `export --latest` says, and "who left last week" names the user deleted since.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { DuckDBInstance } from "@duckdb/node-api";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserSyncService } from "../../src/app/syncService.js";
import type { GraphUser } from "../../src/graph/types.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { downloadContainer } from "../support/laneReader.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 600;
const CONTAINER = "recipes";
let world: SyncEnvironment;
const log = capturingLogger();

/** The ```sql blocks of a section of docs/analytics.md, as written. */
function sqlBlocks(heading: string): string[] {
  const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "analytics.md"), "utf8");
  const start = doc.indexOf(`\n${heading}\n`);
  const section = doc.slice(start, doc.indexOf("\n### ", start + heading.length + 2));
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

async function runInFolder(folder: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const cwd = process.cwd();
  // The recipes' paths are relative to a copy of the container.
  process.chdir(folder);
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    process.chdir(cwd);
    connection.closeSync();
    instance.closeSync();
  }
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, seed: 301 }, { blob: true });
  world.useInProcess();
  await BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(CONTAINER).create();
});
afterAll(async () => world?.close());

describe("docs/analytics.md, DuckDB", () => {
  it("both recipes run as written and answer their questions", async () => {
    const env = { ...world.env, USER_SYNC_EXPORT_CONTAINER: CONTAINER };
    const service = createUserSyncService(env);
    await service.runDue(log.logger, { trigger: "cli" });
    const leaver = world.tenant.changes.userIdAt(11);
    world.tenant.changes.softDeleteUser(11);
    const second = await service.runDue(log.logger, { trigger: "cli" });
    expect(second.mirror?.changes.removed).toBe(1);
    expect(second.lane?.failed).toEqual([]);

    const folder = await downloadContainer(BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(CONTAINER));
    const [perDepartment, leavers, ...more] = sqlBlocks("### DuckDB");
    expect(more).toEqual([]);

    const exported = await runCli(["export", "--latest", "--format", "jsonl"], world.cliEnv());
    expect(exported.code, exported.stderr).toBe(0);
    const expected = new Map<string, number>();
    for (const user of exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser)) {
      if (user.accountEnabled !== true) continue;
      const department = typeof user.department === "string" ? user.department : "(none)";
      expected.set(department, (expected.get(department) ?? 0) + 1);
    }
    const rows = await runInFolder(folder, perDepartment!);
    expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([world.env.GRAPH_TENANT_ID]));
    expect(new Map(rows.map((r) => [String(r.department), Number(r.enabled_users)]))).toEqual(expected);

    const left = await runInFolder(folder, leavers!);
    expect(left.map((r) => r.id)).toEqual([leaver]);
    expect(left[0]).toMatchObject({ tenant_id: world.env.GRAPH_TENANT_ID });
    expect(String(left[0]!.user_principal_name)).toContain("@");
  });
});
