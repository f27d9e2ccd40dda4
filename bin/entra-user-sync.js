#!/usr/bin/env node
// The `entra-user-sync` command (package.json `bin`): a launcher committed as plain JavaScript, so
// that the command exists from the first minute in a clone, before any build (npx links the
// command when it first runs it and never again: a command pointing into a dist/ that did not exist
// yet stayed missing for good). It checks the Node.js version, builds dist/ when it is missing or
// older than the sources (a clone; an installed package has no sources), then runs the compiled
// command line in this process, so its exit codes and Ctrl+C handling are the command's own.
// Written for any Node.js, so that an old one gets the message rather than a syntax error.
import process from "node:process";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, "dist", "src", "cli", "main.js");
const MINIMUM = [22, 19, 0];

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function supported(version) {
  const actual = version.split(".").map(Number);
  for (let index = 0; index < MINIMUM.length; index++) {
    const part = actual[index] || 0;
    if (part !== MINIMUM[index]) return part > MINIMUM[index];
  }
  return true;
}

if (!supported(process.versions.node)) {
  fail(
    `entra-user-sync needs Node.js ${MINIMUM.join(".")} or later; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      "The project brings its own Node.js 22: run `npm install` in the clone, then `npx entra-user-sync <command>`\n" +
      "(npx puts the project's Node.js first on the PATH). Elsewhere, install Node.js 22 or later (https://nodejs.org).",
  );
}

/** The newest modification time among the files the build reads, or 0 when there are no sources. */
function newestSource() {
  let newest = 0;
  const visit = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) visit(child);
      else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(child).mtimeMs);
    }
  };
  for (const directory of ["src", "tools"]) if (existsSync(join(root, directory))) visit(join(root, directory));
  if (newest > 0) for (const file of ["tsconfig.json", "package.json"]) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  return newest;
}

function build(reason) {
  let compiler;
  try {
    compiler = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");
  } catch {
    fail(`entra-user-sync: ${reason}, and TypeScript is not installed to build it: run \`npm install\`, then \`npm run build\`.`);
  }
  process.stderr.write(`entra-user-sync: ${reason}; building it first (npm run build)…\n`);
  // The compiler's output goes to stderr, so that the command's stdout stays its own.
  const result = spawnSync(process.execPath, [compiler, "-p", join(root, "tsconfig.json")], { cwd: root, stdio: ["ignore", 2, 2] });
  if (result.status !== 0) {
    fail(`entra-user-sync: the build failed (above); fix it, or run \`npm run build\` in ${relative(process.cwd(), root) || "."} to see it again.`);
  }
}

if (!existsSync(compiled)) build("the command line is not built yet (dist/ is missing)");
else if (newestSource() > statSync(compiled).mtimeMs) build("the sources changed since the last build");

await import(pathToFileURL(compiled).href);
