/**
 * The Node.js version the project needs, checked by every entry point before anything else loads
 * (the command line, the functions, the demo, sandbox and benchmark scripts). This module imports
 * nothing, so that it runs, and says what to do, on any Node.js.
 */

/** The lowest supported Node.js version; `engines` in package.json says the same (a test holds them together). */
export const MINIMUM_NODE_VERSION = "22.19.0";

/** Whether `version` ("22.19.0", "v20.20.2") is at least MINIMUM_NODE_VERSION. */
export function isSupportedNode(version: string): boolean {
  const actual = version.replace(/^v/, "").split(".").map(Number);
  const minimum = MINIMUM_NODE_VERSION.split(".").map(Number);
  for (let index = 0; index < minimum.length; index++) {
    const part = actual[index] ?? 0;
    if (part !== minimum[index]) return part > minimum[index]!;
  }
  return true;
}

/** What an entry point says on an unsupported Node.js: the version it needs, and how to get it. */
export function unsupportedNodeMessage(version: string, execPath: string, script = "<file>"): string {
  return [
    `entra-user-sync needs Node.js ${MINIMUM_NODE_VERSION} or later; this is Node.js ${version.replace(/^v/, "")} (${execPath}).`,
    "The project brings its own Node.js 22: run `npm install` in the clone, then `npx entra-user-sync <command>`",
    `or \`npm run <script>\` (npx and npm scripts run on it), or \`npx node ${script} …\` for this file.`,
    "Elsewhere, install Node.js 22 or later (https://nodejs.org).",
    "",
  ].join("\n");
}
