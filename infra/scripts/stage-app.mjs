// Stages the function app's deployment package: the one folder that both `azd deploy` (azure.yaml,
// service hook prepackage, dist) and the pipeline (azure-pipelines.yml, zipped as the app artifact)
// ship, so the two paths deploy the same files. Plain Node, no dependencies: it runs the same way
// under the posix and the Windows azd hooks.
//
//   node infra/scripts/stage-app.mjs [--no-build] [folder]     (folder: dist/package by default)
//
// The folder holds exactly: dist/src (the compiled functions and their code), host.json,
// package.json, package-lock.json, and node_modules with the production dependencies only
// (npm ci --omit=dev --ignore-scripts), so nothing is built on the platform (remoteBuild: false).
// .funcignore at the repository root names the same selection (node_modules as installed) for tools
// that deploy the root; it must not exclude node_modules, or azd refuses remoteBuild: false.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const build = !args.includes("--no-build");
const target = resolve(root, args.find((a) => !a.startsWith("--")) ?? join("dist", "package"));
const FILES = ["host.json", "package.json", "package-lock.json"];

function npm(cwd, ...npmArgs) {
  // npm is npm.cmd on Windows, which only a shell can start.
  const result = spawnSync("npm", npmArgs, { cwd, stdio: "inherit", shell: process.platform === "win32" });
  if (result.status !== 0) {
    console.error(`stage-app: npm ${npmArgs.join(" ")} failed in ${cwd}`);
    process.exit(result.status ?? 1);
  }
}

if (build) npm(root, "run", "build");
if (!existsSync(join(root, "dist", "src", "functions"))) {
  console.error("stage-app: dist/src/functions is missing: run `npm run build` first.");
  process.exit(1);
}

rmSync(target, { recursive: true, force: true });
mkdirSync(join(target, "dist"), { recursive: true });
cpSync(join(root, "dist", "src"), join(target, "dist", "src"), { recursive: true });
for (const file of FILES) cpSync(join(root, file), join(target, file));
npm(target, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline");
// npm writes this bookkeeping file during ci; it is not part of the app.
rmSync(join(target, "node_modules", ".package-lock.json"), { force: true });
// azd zips this folder through its .funcignore, and leaves node_modules out of a folder without one
// (azure-dev, cli/azd/pkg/project/project_utils.go, createDeployableZip). This one ignores nothing:
// the folder is already exactly the package, and the pipeline zips the same folder, this file included.
const ignoreNothing = "# Written by infra/scripts/stage-app.mjs: this folder is already exactly the package.\n";
writeFileSync(join(target, ".funcignore"), ignoreNothing);
console.log(`stage-app: staged the function app in ${target}`);
