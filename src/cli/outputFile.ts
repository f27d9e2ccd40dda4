/**
 * A command's `--out <file>`: "-" (standard output) or a file in a directory that exists, checked
 * when the command line is read (exit 2), before anything is read from storage; and the file's
 * write, whose failure names the path and the fix rather than a bare system error.
 */
import { statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { InvalidArgumentError } from "commander";

/** Commander's parser of `--out <file>`: the value as typed, once its directory is known to exist. */
export function outputFileArgument(value: string): string {
  if (value === "-") return value;
  const path = resolve(value);
  const directory = dirname(path);
  const kind = kindOf(directory);
  if (kind === "missing") throw new InvalidArgumentError(`the directory ${directory} does not exist: create it first (mkdir -p "${directory}"), or name a file in an existing directory.`);
  if (kind === "file") throw new InvalidArgumentError(`${directory} is a file, not a directory: name a file in an existing directory.`);
  if (kindOf(path) === "directory") throw new InvalidArgumentError(`${path} is a directory: name the file to write in it, such as ${resolve(path, "report.html")}.`);
  return value;
}

/** Writes `text` to `path`; a failure (the directory removed meanwhile, no permission) names the path and the fix. */
export async function writeOutputFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code ?? "an error";
    throw new Error(`Could not write ${path} (${code}): check that its directory exists and that this user may write there, or pass --out with another file ("-": standard output).`, { cause: error });
  }
}

function kindOf(path: string): "missing" | "file" | "directory" {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch {
    return "missing";
  }
}
