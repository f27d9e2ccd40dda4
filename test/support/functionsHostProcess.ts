/**
 * Plays the Functions host's Node worker against a package folder (one that
 * infra/scripts/stage-app.mjs staged, or the repository, whose layout is the same), in a process of
 * its own on the project's Node 22:
 *
 *   node test/support/functionsHostProcess.ts <plan.json>      (cwd: the package folder)
 *
 * Node runs this file as is (type stripping), so it imports nothing but Node's own modules and the
 * `@azure/functions-core` stand-in (./functionsHost.ts). Everything else is the folder's: each entry
 * point that package.json `main` names is imported by its file URL, and `@azure/functions` and
 * `@azure/storage-queue` are required from the folder's package.json, so a module a staged package
 * does not ship fails here as it fails in Azure.
 *
 * The plan's steps, in order: `timer` invokes every timer trigger once; `queue` drains every queue
 * trigger's queue as the host's listener does (through the binding's connection setting, host.json's
 * message encoding, a message deleted once its invocation succeeds). The result (the Node version,
 * the files loaded, the registrations, each invocation's outcome and log lines) is written to the
 * plan's result file.
 */
import { globSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { InvocationContext as InvocationContextType, InvocationContextInit } from "@azure/functions";
import type { QueueServiceClient as QueueServiceClientType } from "@azure/storage-queue";
import type * as FunctionsHost from "./functionsHost.js";

export interface HostProcessPlan {
  /** The staged package folder. */
  folder: string;
  steps: Array<"timer" | "queue">;
  /** Where the result goes (JSON). */
  resultFile: string;
  /** Packages that must not resolve from the staged folder (dev dependencies). */
  mustNotResolve: string[];
}

export interface HostProcessInvocation {
  functionName: string;
  trigger: "timer" | "queue";
  outcome: "succeeded" | "failed";
  error?: string;
  lines: Array<{ level: string; text: string }>;
}

export interface HostProcessResult {
  nodeVersion: string;
  entryPoints: string[];
  registrations: Array<{ name: string; bindings: Array<Record<string, unknown>> }>;
  invocations: HostProcessInvocation[];
  /** Each of mustNotResolve that did resolve, with where from. */
  resolved: Record<string, string>;
}

const MAX_QUEUE_ROUNDS = 20;

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as HostProcessPlan;
  const functionsHostUrl = new URL("./functionsHost.ts", import.meta.url).href;
  const { installFunctionsHostStandIn } = (await import(functionsHostUrl)) as typeof FunctionsHost;
  const host = installFunctionsHostStandIn();

  const manifest = JSON.parse(readFileSync(join(plan.folder, "package.json"), "utf8")) as { main: string };
  const entryPoints = globSync(manifest.main, { cwd: plan.folder }).sort();
  for (const entry of entryPoints) await import(pathToFileURL(join(plan.folder, entry)).href);

  const staged = createRequire(join(plan.folder, "package.json"));
  const { InvocationContext } = staged("@azure/functions") as { InvocationContext: new (init: InvocationContextInit) => InvocationContextType };
  const resolved: Record<string, string> = {};
  for (const name of plan.mustNotResolve) {
    try {
      resolved[name] = relative(plan.folder, staged.resolve(`${name}/package.json`));
    } catch {
      // not reachable from the package: as in Azure
    }
  }

  const invocations: HostProcessInvocation[] = [];
  const invoke = async (registration: FunctionsHost.CapturedRegistration, trigger: "timer" | "queue", input: unknown, triggerMetadata: Record<string, unknown> = {}): Promise<boolean> => {
    const lines: HostProcessInvocation["lines"] = [];
    const context = new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: registration.metadata.name,
      triggerMetadata,
      logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(" ") }),
    });
    try {
      await registration.callback(input, context);
      invocations.push({ functionName: registration.metadata.name, trigger, outcome: "succeeded", lines });
      return true;
    } catch (error) {
      invocations.push({ functionName: registration.metadata.name, trigger, outcome: "failed", error: error instanceof Error ? error.message : String(error), lines });
      return false;
    }
  };
  const triggered = (type: string) => host.registrations.flatMap((r) => Object.values(r.metadata.bindings).filter((b) => b.type === type).map((binding) => ({ registration: r, binding: binding as Record<string, unknown> })));

  for (const step of plan.steps) {
    if (step === "timer") {
      const timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
      for (const { registration } of triggered("timerTrigger")) await invoke(registration, "timer", timer);
    } else {
      const hostJson = JSON.parse(readFileSync(join(plan.folder, "host.json"), "utf8")) as { extensions?: { queues?: { messageEncoding?: string } } };
      const base64 = (hostJson.extensions?.queues?.messageEncoding ?? "base64") === "base64";
      const { QueueServiceClient } = staged("@azure/storage-queue") as { QueueServiceClient: typeof QueueServiceClientType };
      for (const { registration, binding } of triggered("queueTrigger")) {
        const connection = process.env[String(binding.connection)];
        if (!connection) throw new Error(`The queue trigger's connection setting ${String(binding.connection)} is not set (as a connection string)`);
        const queue = QueueServiceClient.fromConnectionString(connection).getQueueClient(String(binding.queueName));
        for (let round = 0; round < MAX_QUEUE_ROUNDS; round += 1) {
          const { receivedMessageItems: messages } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 });
          if (messages.length === 0) break;
          for (const message of messages) {
            const text = base64 ? Buffer.from(message.messageText, "base64").toString("utf8") : message.messageText;
            let input: unknown = text;
            try {
              input = JSON.parse(text);
            } catch {
              // a plain string message
            }
            if (await invoke(registration, "queue", input, { id: message.messageId, dequeueCount: message.dequeueCount })) await queue.deleteMessage(message.messageId, message.popReceipt);
          }
        }
      }
    }
  }

  // The worker exports while it lives; this short-lived one hands over what is buffered before it exits.
  const telemetry = (await import(pathToFileURL(join(plan.folder, "dist", "src", "telemetry", "telemetrySetup.js")).href)) as { stopTelemetry(timeoutInMs?: number): Promise<void> };
  await telemetry.stopTelemetry(15_000);

  const result: HostProcessResult = {
    nodeVersion: process.version,
    entryPoints,
    registrations: host.registrations.map((r) => ({ name: r.metadata.name, bindings: Object.values(r.metadata.bindings) as Array<Record<string, unknown>> })),
    invocations,
    resolved,
  };
  writeFileSync(plan.resultFile, JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    process.exit(1);
  },
);
