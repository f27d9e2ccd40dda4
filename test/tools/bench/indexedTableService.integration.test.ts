/**
 * The benchmark's indexed table service answers the product as Azurite does, for everything a
 * groups round uses: the compiled CLI runs a full round (snapshot and mirrors, USER_SYNC_GROUPS=true)
 * and, after membership changes, an incremental round against the simulated tenant, once on
 * Azurite and once on the indexed service (the same directory, seeded alike); every export of the
 * snapshot and of the mirror (users, managers' chains, groups, direct and nested memberships) is
 * then the same, line for line, on both.
 */
import { describe, expect, it } from "vitest";
import { startAzurite } from "../../../tools/azurite.js";
import { startIndexedTableService } from "../../../tools/bench/indexedTableService.js";
import { changeMemberships } from "../../../tools/bench/groupsRoundBench.js";
import { scenarioLayout } from "../../../tools/bench/groupsScenario.js";
import { startSimulatedTenant } from "../../../tools/simulated-tenant/index.js";
import { assertCliBuilt, runCli } from "../../support/cli.js";

const SCENARIO = { users: 300, groups: 30, edges: 1_500, depth: 3, changes: 20 };

const EXPORTS = [
  ["export", "--latest"],
  ["export", "--latest", "--with-manager-chain"],
  ["export", "--latest", "--groups"],
  ["export", "--latest", "--memberships"],
  ["export", "--latest", "--memberships", "--transitive"],
  ["export", "--current"],
  ["export", "--current", "--groups"],
  ["export", "--current", "--memberships"],
  ["export", "--current", "--memberships", "--transitive"],
];

async function exportsOn(kind: "azurite" | "indexed"): Promise<Map<string, string[]>> {
  const store = kind === "indexed" ? await startIndexedTableService() : await startAzurite();
  const tenant = await startSimulatedTenant({ userCount: SCENARIO.users, seed: 4, graphLatencyInMs: 0, groups: { count: SCENARIO.groups, layout: scenarioLayout(SCENARIO) } });
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...tenant.settingsEnv(),
      SNAPSHOT_STORAGE: store.connectionString,
      NODE_EXTRA_CA_CERTS: tenant.caCertificatePath,
      USER_SYNC_GROUPS: "true",
      // Never due: the second run is the mirror's incremental round.
      USER_SYNC_FULL_SCHEDULE: "0 0 0 29 2 *",
    };
    const ok = async (args: string[]) => {
      const run = await runCli(args, env);
      expect(run.code, `${kind}: ${args.join(" ")}: ${run.stderr}`).toBe(0);
      return run.stdout;
    };
    await ok(["run", "--no-progress"]);
    expect(changeMemberships(tenant, SCENARIO)).toBe(SCENARIO.changes);
    await ok(["run", "--no-progress"]);
    const out = new Map<string, string[]>();
    for (const args of EXPORTS) out.set(args.join(" "), (await ok(args)).split("\n").filter((line) => line !== ""));
    return out;
  } finally {
    await tenant.close();
    await store.close();
  }
}

describe("the indexed table service against Azurite, through the compiled CLI", () => {
  it("gives the same exports of the snapshot and of the mirror after a full and an incremental groups round", async () => {
    assertCliBuilt();
    const azurite = await exportsOn("azurite");
    const indexed = await exportsOn("indexed");
    for (const args of EXPORTS) {
      const name = args.join(" ");
      expect(azurite.get(name)!.length, name).toBeGreaterThan(0);
      expect(indexed.get(name), name).toEqual(azurite.get(name));
    }
    // What the comparison covers: users, a nested closure larger than the direct edges, and the mirror's incremental round.
    expect(azurite.get("export --latest")).toHaveLength(SCENARIO.users);
    expect(azurite.get("export --latest --memberships")).toHaveLength(SCENARIO.edges);
    expect(azurite.get("export --latest --memberships --transitive")!.length).toBeGreaterThan(SCENARIO.edges);
    expect(azurite.get("export --current --memberships")).not.toEqual(azurite.get("export --latest --memberships"));
  }, 300_000);
});
