import { mkdtempSync, writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** What `@azure/functions` handed to the host for one function. */
export interface CapturedRegistration {
  metadata: {
    name: string;
    bindings: Record<string, { type: string; direction: string; schedule?: string; runOnStartup?: boolean; useMonitor?: boolean }>;
    [key: string]: unknown;
  };
  callback: (...args: unknown[]) => unknown;
}

interface CapturedHost {
  registrations: CapturedRegistration[];
  programmingModel: unknown;
}

declare global {
  var __entraUserSyncFunctionsHost: CapturedHost | undefined;
}

/**
 * Stands in for `@azure/functions-core`, the module the Functions host injects into the Node worker.
 * `@azure/functions` loads it lazily with require(); a module hook answers that require with a small
 * recorder, so a test sees exactly what the real package would register with the host.
 */
export function installFunctionsHostStandIn(): CapturedHost {
  if (globalThis.__entraUserSyncFunctionsHost) return globalThis.__entraUserSyncFunctionsHost;
  const host: CapturedHost = { registrations: [], programmingModel: undefined };
  globalThis.__entraUserSyncFunctionsHost = host;
  const directory = mkdtempSync(join(tmpdir(), "functions-core-"));
  const file = join(directory, "functions-core.cjs");
  writeFileSync(
    file,
    [
      "const host = globalThis.__entraUserSyncFunctionsHost;",
      "module.exports = {",
      "  version: 'test-stand-in',",
      "  setProgrammingModel(model) { host.programmingModel = model; },",
      "  getProgrammingModel() { return host.programmingModel; },",
      "  registerFunction(metadata, callback) { host.registrations.push({ metadata, callback }); return { dispose() {} }; },",
      "  registerHook() { return { dispose() {} }; },",
      "  log() {},",
      "};",
    ].join("\n"),
  );
  const url = pathToFileURL(file).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === "@azure/functions-core") return { url, format: "commonjs", shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
  return host;
}
