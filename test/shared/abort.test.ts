import { getEventListeners } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abortable, abortReason, isAbortError, linkedAbortController } from "../../src/shared/abort.js";

const SRC = join(import.meta.dirname, "..", "..", "src");

/** Each line of src/ (but src/shared/abort.ts) that matches `pattern`, as `file:line: text`. */
function linesOfSrc(pattern: RegExp): string[] {
  const found: string[] = [];
  for (const name of readdirSync(SRC, { recursive: true, encoding: "utf8" })) {
    const file = name.split("\\").join("/");
    if (!file.endsWith(".ts") || file === "shared/abort.ts") continue;
    readFileSync(join(SRC, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (pattern.test(line)) found.push(`src/${file}:${i + 1}: ${line.trim()}`);
      });
  }
  return found;
}

describe("OperationOptions, the one options type with abortSignal", () => {
  it("is the only declaration of an optional abortSignal in an options type: every <Method>Options extends it", () => {
    // A member `abortSignal?: AbortSignal` (in an interface or an inline type); positional parameters are not options bags.
    expect(linesOfSrc(/abortSignal\?: AbortSignal(\s*\|\s*undefined)?\s*[;}]/)).toEqual([]);
  });

  it("takes the caller's signal as it is: no conditional spread of abortSignal", () => {
    expect(linesOfSrc(/\?\s*\{\s*abortSignal\b[^}]*\}\s*:\s*\{\s*\}/)).toEqual([]);
  });
});

describe("linkedAbortController", () => {
  it("aborts with its parent, carrying the parent's reason", () => {
    const parent = new AbortController();
    const child = linkedAbortController(parent.signal);
    expect(child.signal.aborted).toBe(false);
    const reason = new Error("stop");
    parent.abort(reason);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(reason);
  });

  it("starts aborted when the parent already is", () => {
    const parent = new AbortController();
    parent.abort(new Error("already"));
    const child = linkedAbortController(parent.signal);
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as Error).message).toBe("already");
  });

  it("aborts on its own without touching the parent", () => {
    const parent = new AbortController();
    const child = linkedAbortController(parent.signal);
    child.abort(new Error("mine"));
    expect(child.signal.aborted).toBe(true);
    expect(parent.signal.aborted).toBe(false);
  });

  it("leaves no listener on the parent once disposed, and no longer follows it", () => {
    const parent = new AbortController();
    const children = Array.from({ length: 5 }, () => linkedAbortController(parent.signal));
    expect(getEventListeners(parent.signal, "abort").length).toBe(5);
    for (const child of children) child.dispose();
    expect(getEventListeners(parent.signal, "abort").length).toBe(0);
    parent.abort();
    expect(children.some((child) => child.signal.aborted)).toBe(false);
  });

  it("works without a parent", () => {
    const child = linkedAbortController(undefined);
    child.dispose();
    child.abort();
    expect(child.signal.aborted).toBe(true);
  });
});

describe("abortable", () => {
  it("rejects with the signal's reason while the work goes on, and passes the work's result otherwise", async () => {
    const stop = new AbortController();
    let finish!: (value: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const waiting = abortable(work, stop.signal);
    stop.abort(new Error("no longer waiting"));
    await expect(waiting).rejects.toThrow("no longer waiting");
    finish("done");
    await expect(abortable(work, new AbortController().signal)).resolves.toBe("done");
  });

  it("gives an AbortError when the reason is not an Error", () => {
    const stop = new AbortController();
    stop.abort("just a string");
    const error = abortReason(stop.signal);
    expect(isAbortError(error)).toBe(true);
    expect(isAbortError(new Error("other"))).toBe(false);
  });
});
