/**
 * Imported first by every command-line entry point (the CLI, the demo, sandbox and benchmark
 * scripts): on an unsupported Node.js it says which version is needed and how to get it, and exits
 * with code 2 (bad configuration) before any other module of the entry point runs.
 */
import { relative } from "node:path";
import { EXIT_CONFIGURATION } from "./exitCodes.js";
import { isSupportedNode, unsupportedNodeMessage } from "./nodeVersion.js";

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(unsupportedNodeMessage(process.versions.node, process.execPath, script()));
  process.exit(EXIT_CONFIGURATION);
}

/** The script as the operator typed it, relative to the working directory. */
function script(): string | undefined {
  const path = process.argv[1];
  return path === undefined ? undefined : relative(process.cwd(), path) || path;
}
