/**
 * Starts the installed Azurite table service (and its queue or blob service when asked) as child processes on loopback, for
 * tests, the demo and local runs. The child watches its IPC channel and exits when this process goes
 * away, so a crashed or killed test worker does not leave an Azurite behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export interface AzuriteInstance {
  /** e.g. http://127.0.0.1:54321/devstoreaccount1 */
  tableEndpoint: string;
  /**
   * Connection string for the well-known Azurite account with an explicit TableEndpoint. Azurite's
   * account key is public, but the value is secret-shaped: never print it.
   */
  connectionString: string;
  /** e.g. http://127.0.0.1:54322/devstoreaccount1, when started with `queue: true`. */
  queueEndpoint?: string;
  /** e.g. http://127.0.0.1:54323/devstoreaccount1, when started with `blob: true`. */
  blobEndpoint?: string;
  /** The Azurite process's id (the benchmark reads its CPU time). */
  pid: number | undefined;
  close(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Folder where Azurite persists its tables. Default: in memory (nothing written to disk). */
  location?: string;
  /** How long to wait for Azurite to accept requests. Default 30 s. */
  startTimeoutInMs?: number;
  /** Also start Azurite's queue service (its endpoint goes into the connection string). Default false. */
  queue?: boolean;
  /** Also start Azurite's blob service (its endpoint goes into the connection string; the analytics lane). Default false. */
  blob?: boolean;
}

/** The development storage account every Azurite accepts (documented publicly by Microsoft). */
const ACCOUNT_NAME = "devstoreaccount1";
const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const HOST = "127.0.0.1";
const STARTED = /successfully (started|listens)/;
const MAX_ATTEMPTS = 4;

/**
 * Runs in the child (CommonJS, `node -e`): exit when the parent's IPC channel closes, then hand the
 * remaining arguments to Azurite's table entry point as if it had been started directly.
 */
const CHILD_BOOTSTRAP = [
  "const stop = () => { process.kill(process.pid, 'SIGINT'); setTimeout(() => process.exit(0), 5000).unref(); };",
  "process.on('disconnect', stop);",
  "process.on('SIGTERM', stop);",
  // Azurite closes its server (flushing a persistent workspace) on SIGINT but leaves timers behind.
  "const log = console.log; console.log = (...a) => { log(...a); if (String(a[0]).includes('successfully closed')) process.exit(0); };",
  "const main = process.argv[1];",
  "process.argv = [process.argv[0], main, ...process.argv.slice(2)];",
  "require(main);",
].join("\n");

function azuriteMain(service: AzuriteService): string {
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve("azurite/package.json");
  const packageJson = JSON.parse(readFileSync(packageJsonPath, "utf8")) as { bin?: Record<string, string> };
  const bin = packageJson.bin?.[`azurite-${service}`];
  if (!bin) throw new Error(`The installed azurite package has no azurite-${service} entry point.`);
  return resolve(dirname(packageJsonPath), bin);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error("Could not find a free port."))));
    });
  });
}

function connectionStringFor(tableEndpoint: string, queueEndpoint?: string, blobEndpoint?: string): string {
  const queue = queueEndpoint === undefined ? "" : `QueueEndpoint=${queueEndpoint};`;
  const blob = blobEndpoint === undefined ? "" : `BlobEndpoint=${blobEndpoint};`;
  return `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};TableEndpoint=${tableEndpoint};${queue}${blob}`;
}

/** Children still running; killed synchronously if this process exits without closing them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

class StartFailure extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.portInUse = portInUse;
  }
}

type AzuriteService = "table" | "queue" | "blob";

async function spawnOnce(port: number, location: string | undefined, timeoutInMs: number, service: AzuriteService = "table"): Promise<ChildProcess> {
  const args = [
    "-e",
    CHILD_BOOTSTRAP,
    azuriteMain(service),
    `--${service}Host`,
    HOST,
    `--${service}Port`,
    String(port),
    "--disableTelemetry",
    "--skipApiVersionCheck",
    "--loose",
    "--silent",
  ];
  if (location === undefined) args.push("--inMemoryPersistence");
  else args.push("--location", location);

  const child = spawn(process.execPath, args, {
    // In memory, Azurite still resolves a workspace folder (the cwd): keep it out of the project.
    cwd: location ?? tmpdir(),
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, NODE_OPTIONS: "" },
    windowsHide: true,
  });
  running.add(child);
  installExitHook();
  child.once("exit", () => running.delete(child));

  let stdout = "";
  let stderr = "";
  return new Promise<ChildProcess>((resolveChild, reject) => {
    let settled = false;
    const finish = (error?: StartFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.off("error", onError);
      if (error) {
        child.kill("SIGKILL");
        reject(error);
      } else {
        // Keep draining the pipes so that Azurite never blocks on a full buffer.
        child.stdout?.resume();
        child.stderr?.resume();
        // Do not keep the parent alive for Azurite's sake.
        child.unref();
        (child.stdout as { unref?: () => void } | null)?.unref?.();
        (child.stderr as { unref?: () => void } | null)?.unref?.();
        (child.channel as { unref?: () => void } | null | undefined)?.unref?.();
        resolveChild(child);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      const text = `${stderr}\n${stdout}`.trim().slice(-2000);
      finish(
        new StartFailure(
          `Azurite exited before it accepted requests (code ${code ?? "none"}, signal ${signal ?? "none"}): ${text}`,
          /EADDRINUSE/.test(text),
        ),
      );
    };
    const onError = (error: Error) => finish(new StartFailure(`Could not start Azurite: ${error.message}`, false));
    const timer = setTimeout(
      () => finish(new StartFailure(`Azurite did not start within ${timeoutInMs} ms: ${stderr.slice(-2000)}`, false)),
      timeoutInMs,
    );
    child.once("exit", onExit);
    child.once("error", onError);
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      if (settled) return;
      stdout = (stdout + chunk).slice(-8000);
      if (STARTED.test(stdout)) finish();
    });
    child.stderr?.on("data", (chunk: string) => {
      if (!settled) stderr = (stderr + chunk).slice(-8000);
    });
  });
}

async function waitForRequests(tableEndpoint: string, timeoutInMs: number, path = "/Tables"): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    try {
      // Any HTTP answer (even 403 for an unsigned request) proves the listener serves requests.
      const response = await fetch(`${tableEndpoint}${path}`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Azurite does not answer requests: ${(error as Error).message}`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const tables = await startService(options, "table");
  const others: Array<{ service: AzuriteService; endpoint: string; close(): Promise<void> }> = [];
  try {
    for (const service of (["queue", "blob"] as const).filter((name) => options[name] === true)) {
      // Its own folder: the services would otherwise share one workspace's lock files.
      others.push({ service, ...(await startService({ ...options, ...(options.location ? { location: join(options.location, service) } : {}) }, service)) });
    }
  } catch (error) {
    await Promise.all([tables.close(), ...others.map((other) => other.close())]);
    throw error;
  }
  const queueEndpoint = others.find((other) => other.service === "queue")?.endpoint;
  const blobEndpoint = others.find((other) => other.service === "blob")?.endpoint;
  return {
    tableEndpoint: tables.endpoint,
    ...(queueEndpoint !== undefined ? { queueEndpoint } : {}),
    ...(blobEndpoint !== undefined ? { blobEndpoint } : {}),
    connectionString: connectionStringFor(tables.endpoint, queueEndpoint, blobEndpoint),
    // The table service's (the benchmark reads its CPU time).
    pid: tables.pid,
    close: async () => {
      await Promise.all([tables.close(), ...others.map((other) => other.close())]);
    },
  };
}

async function startService(options: StartAzuriteOptions, service: AzuriteService): Promise<{ endpoint: string; pid: number | undefined; close(): Promise<void> }> {
  const timeoutInMs = options.startTimeoutInMs ?? 30_000;
  const location = options.location === undefined ? undefined : resolve(options.location);
  if (location !== undefined) await mkdir(location, { recursive: true });

  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await spawnOnce(port, location, timeoutInMs, service);
    } catch (error) {
      lastError = error as Error;
      // Another process took the port between our probe and Azurite's listen: try another one.
      if (error instanceof StartFailure && error.portInUse) continue;
      throw error;
    }
    const tableEndpoint = `http://${HOST}:${port}/${ACCOUNT_NAME}`;
    const close = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      // SIGINT lets Azurite close its server and flush a persistent workspace before it exits.
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    };
    try {
      await waitForRequests(tableEndpoint, timeoutInMs, service === "table" ? "/Tables" : "?comp=list");
    } catch (error) {
      await close();
      throw error;
    }
    return { endpoint: tableEndpoint, pid: child.pid, close };
  }
  throw lastError ?? new Error("Could not start Azurite.");
}

/** Default folder for a persistent local Azurite (used by the demo and `func start` instructions). */
export const DEFAULT_AZURITE_LOCATION = join(tmpdir(), "entra-user-sync-azurite");
