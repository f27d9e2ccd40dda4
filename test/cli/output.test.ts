import { describe, expect, it } from "vitest";
import { fitTable, formatTable, wrapWords } from "../../src/cli/output.js";

const rows = [
  ["RUN", "MODE", "STATUS", "TOOK", "USERS", "NOTE"],
  ["20261207T031500000Z-abc123", "incremental", "succeeded", "1.2 s", "3", "2 added, 1 updated"],
  ["20261207T030000000Z-def456", "snapshot", "failed", "0.4 s", "0", "Microsoft Graph refused to list users (Authorization_RequestDenied)"],
];

describe("tables for a terminal", () => {
  it("formatTable escapes control and bidi characters and keeps each cell on one line", () => {
    expect(formatTable([["A", "B"], ["x\u001b[2J", "y\nz\u202e"]])).toBe("A           B\nx\\u001B[2J  y\\u000Az\\u202E\n");
  });

  it("fitTable leaves a table that fits as it is", () => {
    const fitted = fitTable(rows, 200, [3, 4, 1]);
    expect(fitted.text).toBe(formatTable(rows));
    expect(fitted.columns).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it.each([100, 80, 60, 40, 30, 20])("fitTable at %i columns: no line longer, columns dropped in order, a cut ends in …", (width) => {
    const fitted = fitTable(rows, width, [3, 4, 1]);
    const lines = fitted.text.trimEnd().split("\n");
    expect(lines).toHaveLength(rows.length);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(width);
    expect(fitted.columns[0]).toBe(0);
    const header = lines[0]!.split(/\s+/);
    expect(header).toEqual(fitted.columns.map((column) => rows[0]![column]).slice(0, header.length));
    if (fitted.text.includes("…")) expect(lines.some((line) => line.endsWith("…"))).toBe(true);
  });

  it("fitTable at 40 columns keeps RUN and STATUS whole", () => {
    const fitted = fitTable(rows, 40, [3, 4, 1]);
    expect(fitted.columns).toEqual([0, 2]);
    expect(fitted.text).toContain("20261207T030000000Z-def456  failed");
  });

  it("wrapWords breaks between words only, and cuts a word longer than a line with …", () => {
    expect(wrapWords("MODE full or incremental: a round of the live mirror", 20)).toEqual(["MODE full or", "incremental: a round", "of the live mirror"]);
    expect(wrapWords("a verylongwordindeed b", 8)).toEqual(["a", "verylon…", "b"]);
  });
});
