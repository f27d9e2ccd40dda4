/** The commit a benchmark measured (the build compiles the working tree). */
import { execFileSync } from "node:child_process";

/** The commit measured, and whether src/ had uncommitted changes. */
export function productRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--", "src") === "" ? commit : `${commit} + uncommitted changes in src/`;
  } catch {
    return "unknown (not a git checkout)";
  }
}
