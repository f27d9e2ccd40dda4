import { describe, expect, it } from "vitest";
import { jsonLine, visibleLine, visibleText } from "../../src/shared/safeText.js";

describe("safe text", () => {
  it("shows C0, DEL, C1 and bidi characters as visible \\u escapes, and keeps everything else", () => {
    expect(visibleText("a\u001b]0;title\u0007b\u0000c\u007fd\u009b2J\u202eexe\u2066\u200f\te\rf")).toBe(
      "a\\u001B]0;title\\u0007b\\u0000c\\u007Fd\\u009B2J\\u202Eexe\\u2066\\u200F\\u0009e\\u000Df",
    );
    expect(visibleText("Zoë Ångström, 🎉 \u05e9\u05dc\u05d5\u05dd")).toBe("Zoë Ångström, 🎉 \u05e9\u05dc\u05d5\u05dd");
  });

  it("visibleText keeps lines; visibleLine makes one line", () => {
    expect(visibleText("one\ntwo")).toBe("one\ntwo");
    expect(visibleLine("one\ntwo\u2028three")).toBe("one\\u000Atwo\\u2028three");
  });

  it("jsonLine is valid JSON of the same value, without a raw C1, DEL or bidi character", () => {
    const value = { a: "\u009b\u0085\u007f\u202e\u2029\u001b", b: ["\u200e"], c: 1 };
    const line = jsonLine(value);
    expect(line.endsWith("\n")).toBe(true);
    // eslint-disable-next-line no-control-regex
    expect(line.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200e\u202e\u2029]/);
    expect(JSON.parse(line)).toEqual(value);
  });
});
