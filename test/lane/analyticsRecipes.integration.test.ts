/**
 * docs/analytics.md's DuckDB recipes run as written, on a lane a real run wrote (Azurite's blob
 * service, the simulated tenant), in a copy of the container: "enabled users per department"
 * equals what `export --latest` says, and "who left last week" names the user deleted since.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserSyncService } from "../../src/app/syncService.js";
import type { GraphUser } from "../../src/graph/types.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { downloadContainer, recipeSqlBlocks, runSqlInFolder } from "../support/laneReader.js";
import { capturingLogger, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

const USERS = 600;
const CONTAINER = "recipes";
let world: SyncEnvironment;
const log = capturingLogger();

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
    const [perDepartment, leavers, ...more] = recipeSqlBlocks("### DuckDB");
    expect(more).toEqual([]);

    const exported = await runCli(["export", "--latest", "--format", "jsonl"], world.cliEnv());
    expect(exported.code, exported.stderr).toBe(0);
    const expected = new Map<string, number>();
    for (const user of exported.stdout.trim().split("\n").map((line) => JSON.parse(line) as GraphUser)) {
      if (user.accountEnabled !== true) continue;
      const department = typeof user.department === "string" ? user.department : "(none)";
      expected.set(department, (expected.get(department) ?? 0) + 1);
    }
    const rows = await runSqlInFolder(folder, perDepartment!);
    expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([world.env.GRAPH_TENANT_ID]));
    expect(new Map(rows.map((r) => [String(r.department), Number(r.enabled_users)]))).toEqual(expected);

    const left = await runSqlInFolder(folder, leavers!);
    expect(left.map((r) => r.id)).toEqual([leaver]);
    expect(left[0]).toMatchObject({ tenant_id: world.env.GRAPH_TENANT_ID });
    expect(String(left[0]!.user_principal_name)).toContain("@");
  });
});
