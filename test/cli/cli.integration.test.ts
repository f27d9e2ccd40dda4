/**
 * The command line as an operator runs it: the compiled `dist/src/cli/main.js` in its own process,
 * configured only through the environment, against Azurite and the simulated tenant.
 * (`npm test` builds before running the tests.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SELECT } from "../../src/configuration/settings.js";
import { expectNoSecrets, startSyncEnvironment, type SyncEnvironment } from "../support/syncEnvironment.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const USERS = 1_500;
let world: SyncEnvironment;

function cli(args: string[], env: Record<string, string | undefined>) {
  const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return runCli(args, clean);
}

beforeAll(async () => {
  assertCliBuilt();
  world = await startSyncEnvironment({ userCount: USERS, certificateContentType: "application/x-pem-file" });
});
afterAll(async () => world?.close());

const envFor = () => ({ ...world.env, NODE_EXTRA_CA_CERTS: world.tenant.caCertificatePath });

describe("entra-user-sync command line", () => {
  it("run syncs the tenant, prints a summary and exits 0 (PEM certificate)", async () => {
    const result = await cli(["run"], envFor());
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^User sync succeeded: 1,500 users in 2 pages, 1,500 entities in \d+ transactions/);
    // The first run also seeds the live mirror with a full round, from the snapshot's own pages (one pass over /users).
    expect(result.stdout).toMatch(/\nMirror full round \(first round\) in the snapshot's pass: 1,500 users written from 2 pages, 0 not seen/);
    expectNoSecrets(result.stdout + result.stderr, [world.azurite.connectionString]);
  });

  it("runs lists the snapshot run and the mirror's round with their modes, status and counts", async () => {
    const table = await cli(["runs"], envFor());
    expect(table.code).toBe(0);
    const [header, mirrorRow, snapshotRow] = table.stdout.trim().split("\n");
    expect(header).toMatch(/^RUN\s+MODE\s+STATUS\s+TOOK\s+USERS\s+NOTE$/);
    // Newest first: the mirror's round runs after the snapshot.
    expect(mirrorRow).toMatch(/^\S+\s+full\s+succeeded\s+[\d.]+ s\s+1,50\d\s+first round$/);
    expect(snapshotRow).toMatch(/^\S+\s+snapshot\s+succeeded\s+[\d.]+ s\s+1,500$/);
    for (const line of table.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);

    const wide = await cli(["runs", "--wide"], envFor());
    const [wideHeader, wideMirror, wideSnapshot] = wide.stdout.trim().split("\n");
    expect(wideHeader).toMatch(/^RUN\s+MODE\s+REASON\s+STATUS\s+TRIGGER\s+STARTED\s+TOOK\s+PAGES\s+USERS\s+WRITTEN\s+CHANGES\s+ERROR$/);
    expect(wideMirror).toMatch(/\sfull\s+firstRound\s+succeeded\s+cli\s+\S+\s+[\d.]+ s\s+2\s+1,500\s+1,500\s+none/);
    expect(wideSnapshot).toMatch(/\ssnapshot\s+succeeded\s+cli\s+\S+\s+[\d.]+ s\s+2\s+1,500\s+1,500/);

    const json = await cli(["runs", "--json", "--limit", "2"], envFor());
    const runs = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as { kind: string; status: string; mode?: string; stats?: { usersRead: number } });
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ kind: "mirror", status: "succeeded", mode: "full", reason: "firstRound", trigger: "cli" });
    expect(runs[1]).toMatchObject({ kind: "snapshot", status: "succeeded", stats: { usersRead: USERS } });
  });

  it("export --latest prints every user as the JSON object Graph returned", async () => {
    const result = await cli(["export", "--latest"], envFor());
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(USERS);
    const expected = new Map([...world.tenant.directory.users(DEFAULT_SELECT)].map((u) => [u.id, JSON.stringify(u)]));
    for (const line of lines) {
      const id = (JSON.parse(line) as { id: string }).id;
      expect(line).toBe(expected.get(id));
    }
    expect(result.stderr).toContain(`Exported 1,500 users`);
  });

  it("export --format csv prints a header and one row per user", async () => {
    const result = await cli(["export", "--latest", "--format", "csv"], envFor());
    expect(result.code).toBe(0);
    const [header] = result.stdout.split("\n");
    expect(header).toBe(DEFAULT_SELECT.join(","));
    const someone = world.tenant.directory.userAt(7, DEFAULT_SELECT);
    expect(result.stdout).toContain(`\n${someone.id},`);
  });

  it("export needs --latest or --snapshot, and rejects an unknown format, with exit code 2", async () => {
    expect((await cli(["export"], envFor())).code).toBe(2);
    const badFormat = await cli(["export", "--latest", "--format", "xml"], envFor());
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("xml");
  });

  describe("bad settings fail before any network request, naming the setting (exit code 2)", () => {
    const cases: Array<[string, (env: Record<string, string | undefined>) => void, RegExp]> = [
      ["no tenant", (e) => delete e.GRAPH_TENANT_ID, /GRAPH_TENANT_ID is missing/],
      ["a multi-tenant authority", (e) => (e.GRAPH_TENANT_ID = "organizations"), /GRAPH_TENANT_ID "organizations" is a multi-tenant authority/],
      ["the client id only in AZURE_CLIENT_ID", (e) => { e.AZURE_CLIENT_ID = e.GRAPH_CLIENT_ID; delete e.GRAPH_CLIENT_ID; }, /GRAPH_CLIENT_ID is missing/],
      ["an unknown cloud", (e) => (e.GRAPH_CLOUD = "AzureMoon"), /GRAPH_CLOUD must be one of/],
      ["an http Graph endpoint", (e) => (e.GRAPH_ENDPOINT = "http://127.0.0.1:1"), /GRAPH_ENDPOINT must use https/],
      ["a vault URL with a path", (e) => (e.KEY_VAULT_URL = `${e.KEY_VAULT_URL}/certificates`), /KEY_VAULT_URL must be the vault URI without a path/],
      ["a bad certificate name", (e) => (e.KEY_VAULT_CERTIFICATE_NAME = "my cert"), /KEY_VAULT_CERTIFICATE_NAME is not a valid/],
      ["no storage", (e) => delete e.SNAPSHOT_STORAGE, /SNAPSHOT_STORAGE is missing/],
      ["two storage settings", (e) => (e.SNAPSHOT_STORAGE__tableServiceUri = "https://acct.table.core.windows.net"), /are both set; they are exclusive/],
      ["a 5-field schedule", (e) => (e.USER_SYNC_SCHEDULE = "0 * * * *"), /USER_SYNC_SCHEDULE "0 \* \* \* \*" is not a 6-field NCRONTAB/],
      ["a 5-field full schedule", (e) => (e.USER_SYNC_FULL_SCHEDULE = "0 2 * * *"), /USER_SYNC_FULL_SCHEDULE "0 2 \* \* \*" is not a 6-field NCRONTAB/],
      ["a bad property list", (e) => (e.USER_SYNC_SELECT = "id;mail"), /"id;mail" is not a Graph property name/],
    ];
    it.each(cases)("%s", async (_label, mutate, expected) => {
      const env: Record<string, string | undefined> = envFor();
      mutate(env);
      world.tenant.requests.reset();
      const result = await cli(["run"], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stdout).toBe("");
      for (const service of ["token", "metadata", "graph", "keyVault", "managedIdentity"] as const) {
        expect(world.tenant.requests.count(service)).toBe(0);
      }
      expectNoSecrets(result.stderr, [world.azurite.connectionString]);
    });
  });

  it("a run that fails exits 1 with what to fix, and the previous snapshot stays the latest", async () => {
    const listed = (await cli(["runs", "--json", "--limit", "5"], envFor())).stdout.trim().split("\n");
    const before = listed.map((line) => JSON.parse(line) as { kind: string; snapshotId: string }).find((run) => run.kind === "snapshot")!;
    const remove = world.tenant.intercept("keyVault", (request) =>
      request.url.pathname.startsWith("/certificates/") && request.headers.authorization
        ? { status: 403, body: { error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } } } }
        : undefined,
    );
    try {
      const result = await cli(["run"], envFor());
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^User sync failed: /m);
      expect(result.stderr).toContain("Key Vault Certificate User");
      expectNoSecrets(result.stderr, [world.azurite.connectionString]);
    } finally {
      remove();
    }
    const exported = await cli(["export", "--latest"], envFor());
    expect(exported.stderr).toContain(`snapshot ${before.snapshotId}`);
  });
});
