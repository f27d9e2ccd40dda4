import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { currentRunLogger, withRunLogger, type Logger } from "../../src/shared/logger.js";

function recording(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  return { lines, logger: { info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) } };
}

describe("run loggers", () => {
  it("give a long-lived client the logger of the run it works for, even when runs overlap in one process", async () => {
    const a = recording();
    const b = recording();
    // A long-lived client (think: the certificate cache) that logs after an await.
    const client = async (what: string) => {
      await sleep(10);
      currentRunLogger.warn(what);
    };
    await Promise.all([withRunLogger(a.logger, () => client("for run a")), withRunLogger(b.logger, () => client("for run b"))]);
    expect(a.lines).toEqual(["warn for run a"]);
    expect(b.lines).toEqual(["warn for run b"]);
  });
});
