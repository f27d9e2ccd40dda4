/**
 * export --groups / --memberships [--transitive] through the compiled command line: the flags are
 * checked before anything runs, and the command fails with exit 2 and what to do when
 * USER_SYNC_GROUPS is off, without a request to storage (its endpoint here is a port nothing
 * listens on). Exports of stored groups: groupsExportDirectory.integration.test.ts.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";

const NOWHERE = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;";
const SNAPSHOT = "20250310T020000000Z-abcdef";

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(["export", ...args], { PATH: process.env.PATH, HOME: process.env.HOME, SNAPSHOT_STORAGE: NOWHERE, ...env });
}

beforeAll(() => assertCliBuilt());

describe("export --groups and --memberships, diff --groups", () => {
  it.each([
    [[] as string[], {}, /USER_SYNC_GROUPS is missing: groups, memberships and managers are kept only with USER_SYNC_GROUPS=true/],
    [[], { USER_SYNC_GROUPS: "false" }, /USER_SYNC_GROUPS is false: this deployment keeps no groups, memberships or managers\. Set USER_SYNC_GROUPS=true/],
    [[], { USER_SYNC_GROUPS: "yes" }, /USER_SYNC_GROUPS must be true \(.*\) or false \(.*\); got "yes"/],
  ])("fail with exit 2 naming USER_SYNC_GROUPS when it is not true (%j, %j)", async (extra, env, expected) => {
    for (const args of [["--latest", "--groups"], ["--current", "--memberships"], ["--snapshot", SNAPSHOT, "--memberships", "--transitive", "--format", "csv"]]) {
      const result = await cli([...args, ...extra], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stdout).toBe("");
    }
  });

  it("diff --groups fails the same ways", async () => {
    const env = { PATH: process.env.PATH!, HOME: process.env.HOME!, SNAPSHOT_STORAGE: NOWHERE };
    const off = await runCli(["diff", "--groups"], env);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/USER_SYNC_GROUPS is missing/);
    const invalid = await runCli(["diff", "--groups", "--format", "jsonl"], { ...env, USER_SYNC_GROUPS: "yes" });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/USER_SYNC_GROUPS must be true/);
    expect(invalid.stdout).toBe("");
  });

  it.each([
    [["--latest", "--transitive"], /--transitive goes with --memberships/],
    [["--latest", "--groups", "--memberships"], /--groups.*cannot be used with.*--memberships/],
    [["--changes", SNAPSHOT, "--memberships"], /--changes <runId> of a groups' mirror run writes its group and membership changes together.*drop --groups\/--memberships, or add --format parquet/],
    [["--current", "--include-deleted", "--groups"], /--groups.*cannot be used with.*--include-deleted/],
  ])("refuse %j with exit 2 before anything runs", async (args, expected) => {
    const result = await cli(args, { USER_SYNC_GROUPS: "true" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(expected);
  });
});
