/**
 * Defaults only in src/configuration/defaults.ts: no other file of src/ declares a DEFAULT_ constant
 * or a *_DEFAULTS table (test/infra/settings-drift.test.ts ties the README, docs and Bicep to it).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS, DEFAULT_GRAPH_RETRY, DEFAULT_LEASE_DURATION_IN_MS, DEFAULT_RESUME_WITHIN_IN_MS, GRAPH_REQUEST_DEFAULTS, RUN_CONTROL_DEFAULTS } from "../../src/configuration/defaults.js";

const SRC = join(import.meta.dirname, "..", "..", "src");

describe("defaults", () => {
  it("are declared only in src/configuration/defaults.ts", () => {
    const elsewhere: string[] = [];
    for (const name of readdirSync(SRC, { recursive: true, encoding: "utf8" })) {
      const file = name.split("\\").join("/");
      if (!file.endsWith(".ts") || file === "configuration/defaults.ts") continue;
      readFileSync(join(SRC, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/\bconst\s+(DEFAULT_[A-Z0-9_]+|[A-Z0-9_]+_DEFAULTS)\b/.test(line)) elsewhere.push(`src/${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(elsewhere).toEqual([]);
  });

  it("of the parts that stand for a setting are the setting's default, in the part's unit", () => {
    expect(DEFAULT_GRAPH_RETRY.maxRetries).toBe(GRAPH_REQUEST_DEFAULTS.maxRetries);
    expect(DEFAULT_GRAPH_RETRY.maxRetryWaitInMs).toBe(GRAPH_REQUEST_DEFAULTS.maxRetryWaitSeconds * 1000);
    expect(DEFAULT_GRAPH_REQUEST_TIMEOUT_IN_MS).toBe(60_000);
    expect(DEFAULT_LEASE_DURATION_IN_MS).toBe(RUN_CONTROL_DEFAULTS.leaseSeconds * 1000);
    expect(DEFAULT_RESUME_WITHIN_IN_MS).toBe(60 * 60_000);
  });
});
