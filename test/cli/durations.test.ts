/**
 * Durations on the command line, through the compiled CLI: `run --max-minutes` and the duration
 * settings are range-checked before anything else happens (no timer can overflow and fire at once),
 * with a message naming the flag or the setting and the allowed range.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DURATION_SETTINGS } from "../../src/configuration/settings.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const MAX = DURATION_SETTINGS.USER_SYNC_MAX_RUN_MINUTES.max;
/** Settings that pass validation but lead nowhere: nothing must get as far as a request. */
const UNREACHABLE = {
  GRAPH_TENANT_ID: "11111111-2222-3333-4444-555555555555",
  GRAPH_CLIENT_ID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
  KEY_VAULT_URL: "https://unreachable-entra-user-sync.vault.azure.net",
  KEY_VAULT_CERTIFICATE_NAME: "graph-client",
  SNAPSHOT_STORAGE: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1",
};

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });

beforeAll(() => assertCliBuilt());

describe("durations on the command line", () => {
  it.each(["35792", String(MAX + 1), "0", "-5", "1.5", "ten", "1e3"])("run --max-minutes %s is refused with exit code 2, naming the flag and its range", async (value) => {
    const result = await cli(["run", "--max-minutes", value], UNREACHABLE);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`option '--max-minutes <n>' argument '${value}' is invalid.`);
    expect(result.stderr).toContain(`--max-minutes takes a whole number of minutes from 1 to ${MAX} (7 days)`);
    expect(result.stdout).toBe("");
  });

  it("run --max-minutes at the top of its range gets past the flag (to the settings' own checks)", async () => {
    const result = await cli(["run", "--max-minutes", String(MAX)], { ...UNREACHABLE, USER_SYNC_LEASE_SECONDS: "4" });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain("--max-minutes");
    expect(result.stderr).toContain("USER_SYNC_LEASE_SECONDS must be at least 5, got 4: a whole number of seconds");
  });

  it("USER_SYNC_MAX_RUN_MINUTES=35792 is refused before any request, naming the setting and its range", async () => {
    const result = await cli(["run"], { ...UNREACHABLE, USER_SYNC_MAX_RUN_MINUTES: "35792" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`USER_SYNC_MAX_RUN_MINUTES must be at most ${MAX}, got 35792: a whole number of minutes`);
    expect(result.stderr).toContain(`from 0 to ${MAX} (default 0)`);
    expect(result.stderr).not.toMatch(/paused|reached its maximum run duration/);
  });
});
