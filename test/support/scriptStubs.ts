/**
 * Runs the delivery scripts (infra/scripts, the pipeline's inline scripts, the azd hooks) against
 * stub `az` and `azd` commands on the PATH, which record every call and answer like the real CLIs
 * (the parts the scripts read). No Azure, no network.
 */
import { execFile, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

/** Stub `az` and `azd` (bash scripts beside this file). */
const STUBS = join(import.meta.dirname, "..", "infra", "stubs");

export interface Sandbox {
  dir: string;
  log: string;
  env: NodeJS.ProcessEnv;
  calls(): string[];
}

/** A temporary folder with stub `az` and `azd` first on the PATH. */
export function sandbox(env: Record<string, string> = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "delivery-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const name of ["az", "azd"]) {
    copyFileSync(join(STUBS, name), join(bin, name));
    chmodSync(join(bin, name), 0o755);
  }
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  return {
    dir,
    log,
    env: { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, HOME: process.env.HOME ?? dir, STUB_LOG: log, ...env },
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutInMs?: number }): Run {
  const result = spawnSync(command, args, { cwd: options.cwd ?? ROOT, env: options.env, encoding: "utf8", timeout: options.timeoutInMs ?? 60_000 });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * PowerShell 7 for the Windows variant of the azd hook: from the PATH, else the .NET global tool
 * restored from NuGet into the project's cache (the ordinary .NET client, once per machine).
 */
export function powershell(): string {
  const onPath = spawnSync("pwsh", ["-NoProfile", "-Command", "$PSVersionTable.PSVersion.Major"], { encoding: "utf8" });
  if (!onPath.error && onPath.status === 0) return "pwsh";
  const toolPath = join(homedir(), ".cache", "entra-user-sync", "pwsh");
  const binary = join(toolPath, "pwsh");
  if (!existsSync(binary)) {
    const install = spawnSync("dotnet", ["tool", "install", "PowerShell", "--version", "7.6.9", "--tool-path", toolPath], { encoding: "utf8", timeout: 300_000 });
    if (install.error || install.status !== 0) {
      throw new Error(`PowerShell 7 is needed to test the Windows azd hook: install it (dotnet tool install --global PowerShell) or put pwsh on the PATH.\n${install.stderr ?? install.error?.message}`);
    }
  }
  return binary;
}

/** run(), without blocking the event loop: for scripts that call a server in this process. */
export function runAsync(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutInMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: options.cwd ?? ROOT, env: options.env, encoding: "utf8", timeout: options.timeoutInMs ?? 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

export interface GraphStub {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/**
 * The four Microsoft Graph reads of the grant check, on loopback, answering as the stub `az rest`
 * does for the same STUB_* settings: 403 for everything with STUB_GRAPH_FAIL, the application only
 * with STUB_APP_ID, STUB_GRANT_COUNT User.Read.All grants on it.
 */
export async function graphStub(env: NodeJS.ProcessEnv): Promise<GraphStub> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const url = decodeURIComponent(request.url ?? "");
    requests.push(`${request.headers.authorization ?? ""} ${url}`);
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (env.STUB_GRAPH_FAIL) return send(403, { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } });
    if (url.includes("/applications(uniqueName=")) return env.STUB_APP_ID ? send(200, { appId: env.STUB_APP_ID }) : send(404, { error: { code: "Request_ResourceNotFound" } });
    if (url.includes("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')")) return send(200, { id: "graph-service-principal" });
    if (url.includes("/servicePrincipals(appId=")) return send(200, { id: "app-service-principal" });
    if (url.endsWith("/servicePrincipals/app-service-principal/appRoleAssignments")) {
      const grant = { resourceId: "graph-service-principal", appRoleId: "df021288-bdef-4463-88db-98f22de89214" };
      const other = { resourceId: "graph-service-principal", appRoleId: "00000000-0000-0000-0000-000000000001" };
      return send(200, { value: [other, ...Array.from({ length: Number(env.STUB_GRANT_COUNT ?? 0) }, () => grant)] });
    }
    send(400, { error: { code: "BadRequest", message: `unexpected ${url}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
