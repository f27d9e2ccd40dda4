/**
 * The command line's telemetry, end to end: `entra-user-sync run` sends to the ingestion endpoint of
 * APPLICATIONINSIGHTS_CONNECTION_STRING with an Entra token (the simulated tenant's managed identity),
 * and sends nothing anywhere when the setting is absent. The ingestion endpoint is an HTTPS listener
 * the simulated tenant's CA vouches for, which records what reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ForeignHost } from "../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../support/cli.js";
import { startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";

let world: SyncEnvironment;
let ingestion: ForeignHost;

function cli(args: string[], extra: Record<string, string> = {}) {
  return runCli(args, world.cliEnv({ APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true", ...extra }));
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: 120, seed: 3 });
  ingestion = await world.tenant.faults.startForeignHost();
});
afterAll(async () => world?.close());

describe("entra-user-sync run and Application Insights", () => {
  it("without a connection string, nothing is sent", async () => {
    const result = await cli(["run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(ingestion.requests).toEqual([]);
  });

  it("with one, the run's telemetry goes to its ingestion endpoint, with an Entra token", async () => {
    world.tenant.changes.changeUser(1, { jobTitle: "Telemetry" });
    const result = await cli(["run"], { APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000017;IngestionEndpoint=${ingestion.origin}/` });
    expect(result.code, result.stderr).toBe(0);
    const tracks = ingestion.requests.filter((r) => r.method === "POST" && /\/track$/.test(r.path));
    expect(tracks.length, JSON.stringify(ingestion.requests)).toBeGreaterThan(0);
    expect(tracks.every((r) => r.authorization)).toBe(true);
  });
});
