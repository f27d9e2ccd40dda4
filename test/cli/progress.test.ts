import { describe, expect, it } from "vitest";
import { progressModeFor } from "../../src/cli/progress.js";
import { truncate } from "../../src/cli/output.js";

describe("progress display mode", () => {
  const terminal = { isTTY: true, columns: 120 };
  it("is a spinner on a terminal with a width", () => {
    expect(progressModeFor(terminal, { TERM: "xterm-256color" }, true)).toBe("spinner");
  });
  it("is off with --no-progress, on a pipe or a file", () => {
    expect(progressModeFor(terminal, {}, false)).toBe("none");
    expect(progressModeFor({ isTTY: false, columns: 120 }, {}, true)).toBe("none");
    expect(progressModeFor({}, {}, true)).toBe("none");
  });
  it("is plain lines on TERM=dumb, a terminal without a size, or one too narrow to redraw a line", () => {
    expect(progressModeFor(terminal, { TERM: "dumb" }, true)).toBe("lines");
    expect(progressModeFor({ isTTY: true, columns: 0 }, {}, true)).toBe("lines");
    expect(progressModeFor({ isTTY: true }, {}, true)).toBe("lines");
    expect(progressModeFor({ isTTY: true, columns: 19 }, {}, true)).toBe("lines");
    expect(progressModeFor({ isTTY: true, columns: 20 }, {}, true)).toBe("spinner");
  });
});

describe("truncate", () => {
  it("cuts to the width with an ellipsis, and leaves short text alone", () => {
    expect(truncate("abcdef", 6)).toBe("abcdef");
    expect(truncate("abcdefg", 6)).toBe("abcde…");
    expect(truncate("abc", 1)).toBe("a");
  });
});
