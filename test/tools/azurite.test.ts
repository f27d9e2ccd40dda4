import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TableClient, TableServiceClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startAzurite } from "../../tools/azurite.js";

const LAUNCHER = fileURLToPath(new URL("../../tools/azurite.ts", import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startAzurite", () => {
  it("starts an in-memory table service on loopback that the SDK can use, and stops it on close", async () => {
    const azurite = await startAzurite();
    try {
      expect(azurite.tableEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      // Compared as a boolean so that a failure never prints the (secret-shaped) connection string.
      expect(azurite.connectionString.includes(`TableEndpoint=${azurite.tableEndpoint};`)).toBe(true);
      const table = TableClient.fromConnectionString(azurite.connectionString, "launcherCheck", { allowInsecureConnection: true });
      await table.createTable();
      await table.upsertEntity({ partitionKey: "p", rowKey: "r", value: "ok" });
      const entity = await table.getEntity<{ value: string }>("p", "r");
      expect(entity.value).toBe("ok");
    } finally {
      await azurite.close();
    }
    await expect(fetch(`${azurite.tableEndpoint}/Tables`)).rejects.toThrow();
  });

  it("gives each instance its own port and data", async () => {
    const [a, b] = await Promise.all([startAzurite(), startAzurite()]);
    try {
      expect(a.tableEndpoint).not.toBe(b.tableEndpoint);
      const service = TableServiceClient.fromConnectionString(a.connectionString, { allowInsecureConnection: true });
      await service.createTable("onlyInA");
      const names: string[] = [];
      for await (const t of TableServiceClient.fromConnectionString(b.connectionString, { allowInsecureConnection: true }).listTables()) {
        names.push(t.name ?? "");
      }
      expect(names).not.toContain("onlyInA");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("persists to a location across restarts", async () => {
    const location = await mkdtemp(join(tmpdir(), "azurite-launcher-"));
    try {
      const first = await startAzurite({ location });
      try {
        const table = TableClient.fromConnectionString(first.connectionString, "persisted", { allowInsecureConnection: true });
        await table.createTable();
        await table.upsertEntity({ partitionKey: "p", rowKey: "r", value: 42 });
      } finally {
        await first.close();
      }
      const second = await startAzurite({ location });
      try {
        const table = TableClient.fromConnectionString(second.connectionString, "persisted", { allowInsecureConnection: true });
        const entity = await table.getEntity<{ value: number }>("p", "r");
        expect(entity.value).toBe(42);
      } finally {
        await second.close();
      }
    } finally {
      await rm(location, { recursive: true, force: true });
    }
  });

  it("stops Azurite when the process that started it is killed", async () => {
    // A parent that starts Azurite, reports the child's endpoint, then waits to be killed.
    const script = `
      import { startAzurite } from ${JSON.stringify(LAUNCHER)};
      const azurite = await startAzurite();
      console.log(azurite.tableEndpoint);
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const endpoint = await new Promise<string>((resolve, reject) => {
      let out = "";
      parent.stdout!.setEncoding("utf8");
      parent.stdout!.on("data", (chunk: string) => {
        out += chunk;
        const line = out.split("\n").find((l) => l.startsWith("http://"));
        if (line) resolve(line.trim());
      });
      parent.once("exit", (code) => reject(new Error(`parent exited early with ${code}`)));
    });
    const answered = await fetch(`${endpoint}/Tables`);
    expect(answered.status).toBeGreaterThan(0);
    parent.kill("SIGKILL");
    await new Promise((r) => parent.once("exit", r));
    // The orphaned Azurite notices its IPC channel closing and exits; poll until the port is closed.
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      try {
        await fetch(`${endpoint}/Tables`, { signal: AbortSignal.timeout(1000) });
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        stopped = true;
      }
    }
    expect(stopped).toBe(true);
    expect(parent.pid !== undefined && isAlive(parent.pid)).toBe(false);
  });
});
