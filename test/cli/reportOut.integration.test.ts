/**
 * `report --out <file>` in a directory that does not exist (or naming a directory): the compiled
 * command line fails when it reads its arguments (exit 2), naming the path and the fix, before it
 * sends anything to storage: the storage endpoint, a loopback listener here, sees no connection.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, runCli } from "../support/cli.js";

let dir: string;
let storage: Server;
let connections = 0;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  assertCliBuilt();
  dir = await mkdtemp(join(tmpdir(), "report-out-"));
  storage = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => storage.listen(0, "127.0.0.1", resolve));
  const port = (storage.address() as { port: number }).port;
  const key = Buffer.from("not a real key, never used").toString("base64");
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SNAPSHOT_STORAGE: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
  };
});
afterAll(async () => {
  await new Promise((resolve) => storage?.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("report --out", () => {
  it("in a directory that does not exist: exit 2 naming the directory and the fix, nothing sent to storage", async () => {
    const missing = join(dir, "no-such-dir", "deeper");
    const result = await runCli(["report", "--out", join(missing, "report.html")], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`the directory ${missing} does not exist`);
    expect(result.stderr).toContain(`mkdir -p "${missing}"`);
    expect(result.stderr).not.toMatch(/ENOENT|at .*\.js:\d+/);
    expect(connections).toBe(0);
  });

  it("naming a directory: exit 2 asking for a file in it, nothing sent to storage", async () => {
    const result = await runCli(["report", "--out", dir], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${dir} is a directory: name the file to write in it`);
    expect(connections).toBe(0);
  });

  it("in a directory that exists: goes on to read storage (the guard is the directory, not the option)", async () => {
    const result = await runCli(["report", "--out", join(dir, "report.html"), "--days", "1"], { ...env, STORAGE_REQUEST_TIMEOUT_SECONDS: "1" });
    expect(result.code).not.toBe(2);
    expect(connections).toBeGreaterThan(0);
  }, 60_000);
});
