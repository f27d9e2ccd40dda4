/**
 * One error-factory shape in every area: each area's errors are a table in its `*Errors.ts` module
 * (code, message and details keyed by what went wrong) with one `create…Error` factory. In the areas
 * listed here nothing else constructs a UserSyncError.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createGraphError, GraphProblems } from "../../src/graph/graphErrors.js";
import { createMirrorError, MirrorProblems } from "../../src/mirror/mirrorErrors.js";
import { isUserSyncError } from "../../src/shared/errors.js";

const SRC = join(import.meta.dirname, "..", "..", "src");
const AREAS_WITH_ONE_FACTORY = ["graph", "mirror"];
/** Error modules that translate another library's errors rather than name failures of their own. */
const TRANSLATORS: Record<string, string> = {
  "tables/storageErrors.ts": "turns any failure of the table service into storage_request_failed, with the fix for its status and code",
};

function errorModules(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .map((name) => name.split("\\").join("/"))
    .filter((name) => name.endsWith("Errors.ts"))
    .sort();
}

describe("error factories", () => {
  it.each(AREAS_WITH_ONE_FACTORY)("src/%s/ constructs a UserSyncError only in its *Errors.ts module", (area) => {
    const inline: string[] = [];
    for (const file of readdirSync(join(SRC, area))) {
      if (!file.endsWith(".ts") || file.endsWith("Errors.ts")) continue;
      readFileSync(join(SRC, area, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/new UserSyncError\(/.test(line)) inline.push(`src/${area}/${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(inline).toEqual([]);
  });

  it("has one shape in every area: a table of code and message keyed by what went wrong, and a create…Error factory", async () => {
    const modules = errorModules();
    expect(modules.length).toBeGreaterThanOrEqual(9);
    for (const file of modules) {
      if (file in TRANSLATORS) continue;
      const exports = (await import(join(SRC, file))) as Record<string, unknown>;
      const factories = Object.keys(exports).filter((name) => /^create\w*Error$/.test(name) && typeof exports[name] === "function");
      expect(factories.length, `${file} exports a create…Error factory`).toBeGreaterThanOrEqual(1);
      const tables = Object.values(exports).filter(
        (value): value is Record<string, { code: unknown; message: unknown }> =>
          typeof value === "object" && value !== null && Object.values(value).length > 0 && Object.values(value).every((entry) => typeof (entry as { code?: unknown }).code === "string" && typeof (entry as { message?: unknown }).message === "function"),
      );
      expect(tables.length, `${file} exports one table of { code, message } keyed by what went wrong`).toBe(1);
    }
  });

  it("gives each Graph and mirror problem its code and a message that names the fix's setting or command", () => {
    const graph = createGraphError("linkElsewhere", { what: "next link", protocol: "https:", host: "evil.example", graphOrigin: "https://graph.microsoft.com" });
    expect(isUserSyncError(graph, GraphProblems.linkElsewhere.code)).toBe(true);
    expect(graph.message).toContain("set GRAPH_ENDPOINT (or GRAPH_CLOUD)");
    expect(graph.details).toEqual({ host: "evil.example" });
    const unreachable = createGraphError("unreachable", { graphOrigin: "https://graph.microsoft.com", timedOut: true, timeout: "60 s", reason: "", gaveUp: "after 6 retries" }, { cause: new Error("timeout"), details: { retries: 6 } });
    expect(unreachable.message).toBe(
      "Microsoft Graph at https://graph.microsoft.com gave no complete answer within 60 s (GRAPH_REQUEST_TIMEOUT_SECONDS), after 6 retries. Check the network path to Graph and GRAPH_ENDPOINT / GRAPH_CLOUD, or raise GRAPH_REQUEST_TIMEOUT_SECONDS.",
    );
    expect(unreachable.cause).toBeInstanceOf(Error);
    expect(unreachable.details).toEqual({ retries: 6 });
    const mirror = createMirrorError("runNotFound", { runId: "20261121T023300123Z-a1b2c3" });
    expect(isUserSyncError(mirror, MirrorProblems.runNotFound.code)).toBe(true);
    expect(mirror.message).toContain("entra-user-sync runs");
  });
});
