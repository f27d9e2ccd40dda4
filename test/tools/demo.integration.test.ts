/**
 * `npm run demo` (the compiled tools/demo.ts): the story it tells, end to end, and its options.
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runToExit, type ChildResult } from "../support/childRun.js";
import { expectNoSecrets } from "../support/syncEnvironment.js";

const DEMO = join(import.meta.dirname, "..", "..", "dist", "tools", "demo.js");
const demo = (...args: string[]): Promise<ChildResult> => runToExit(process.execPath, [DEMO, ...args]);

beforeAll(() => {
  if (!existsSync(DEMO)) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
});

describe("npm run demo", () => {
  it("tells the story: first full run, directory changes, an incremental run with one Graph request, a diff, the tables", async () => {
    const { code, stdout, stderr } = await demo("--users", "300", "--show", "1");
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/1\. A first full run[\s\S]*User sync succeeded: 300 users in 1 page,[\s\S]*Mirror full round \(first round\)/);
    expect(stdout).toMatch(/2\. The directory changes[\s\S]*added {4}Sandbox User 1[\s\S]*renamed [\s\S]*\(permanently\)/);
    expect(stdout).toMatch(/3\. An incremental run[\s\S]*Mirror updated incrementally: 2 added, 3 updated, 0 restored, 2 removed/);
    expect(stdout).toContain("Graph requests: 1 (the first run needed");
    expect(stdout).toMatch(/removed \(hard delete\) +\S+/);
    expect(stdout).toMatch(/Compared snapshot \S+ with \S+: 2 added, 2 removed, 3 changed\./);
    expect(stdout).toMatch(/entraUserSnapshots +600 entities/);
    expect(stdout).toMatch(/entraUserMirrorChanges +\d+ entities/);
    expect(stdout).toContain("The first snapshot holds all 300 users exactly as Graph returned them.");
    expectNoSecrets(stdout + stderr);
    // The report is in a new folder of this run's own (mode 700) in the temp directory, and the demo says where.
    const report = /The run report: (\S+)/.exec(stdout)?.[1];
    expect(report, stdout).toBeDefined();
    const folder = dirname(report!);
    expect(dirname(folder)).toBe(tmpdir());
    expect(basename(folder)).toMatch(/^entra-user-sync-demo-\w{6}$/);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(report!).isFile()).toBe(true);
    rmSync(folder, { recursive: true });
  });

  it("--tenants: onboards the tenants and syncs them in parallel with worker, each export equal to its own directory", async () => {
    const { code, stdout, stderr } = await demo("--tenants", "3", "--users", "40");
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/\/adminconsent\?client_id=/);
    expect(stdout).toContain("Worker handled 3 messages: 3 succeeded.");
    expect(stdout.match(/ {6}40 users {2}= its own directory/g)).toHaveLength(3);
    expect(stderr).toMatch(/\[tenant [0-9a-f-]{36}\] User sync succeeded: 40 users/);
    expectNoSecrets(stdout + stderr);
    const bad = await demo("--tenants", "0");
    expect(bad.code).toBe(2);
  });

  it("--help prints its usage; a bad option value is a usage error (exit 2), never a stack trace", async () => {
    const help = await demo("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: npm run demo --");
    for (const args of [["--certificate-format", "der"], ["--users", "0"], ["--users", "ten"], ["--show", "-1"], ["--bogus"]]) {
      const bad = await demo(...args);
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.stderr).toMatch(/^demo: /);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
