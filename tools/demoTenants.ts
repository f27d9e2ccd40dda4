/**
 * `npm run demo -- --tenants <n>`: multi-tenant mode on this machine. Azurite (tables and queues,
 * in memory) and a simulated cloud of `n` customer tenants; the real command line onboards them
 * (`tenants consent-url`, `tenants add`), `worker --once` syncs them in parallel through the tenant
 * queue, and each tenant's export is checked against its own directory.
 */
import { randomUUID } from "node:crypto";
import { DEFAULT_SELECT } from "../src/configuration/settings.js";
import { startAzurite } from "./azurite.js";
import { cliRun, count, heading, note } from "./demoConsole.js";
import { startSimulatedTenant } from "./simulated-tenant/index.js";

const NAMES = ["Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware", "Adatum", "Proseware", "Wingtip", "Coho"];

export interface TenantsDemoOptions {
  tenants: number;
  usersPerTenant: number;
}


/** Runs the story; resolves with the process's exit code. */
export async function runTenantsDemo(options: TenantsDemoOptions): Promise<number> {
  const tenantIds = Array.from({ length: options.tenants }, () => randomUUID());
  heading(`Starting Azurite (tables and queues, in memory) and a simulated cloud of ${options.tenants} customer tenants of ${count(options.usersPerTenant)} users`);
  const azurite = await startAzurite({ queue: true });
  // A little Graph latency per page, so that the parallel runs are visible.
  const cloud = await startSimulatedTenant({ userCount: 1, customerTenants: tenantIds.map((tenantId) => ({ tenantId, userCount: options.usersPerTenant, graphLatencyInMs: 150 })) });
  let exitCode = 0;
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...cloud.settingsEnv(),
      SNAPSHOT_STORAGE: azurite.connectionString,
      USER_SYNC_QUEUE: azurite.connectionString,
      USER_SYNC_TENANT_MODE: "multi",
      USER_SYNC_FULL_SCHEDULE: "0 0 0 29 2 *",
      NODE_EXTRA_CA_CERTS: cloud.caCertificatePath,
    };
    delete env.GRAPH_TENANT_ID;
    const must = async (args: string[], capture = false) => {
      const result = await cliRun(args, env, { captureStdout: capture });
      if (result.code !== 0) throw new Error(`entra-user-sync ${args.join(" ")} exited with code ${result.code}`);
      return result;
    };

    heading(`1. Onboarding: the customer's administrator consents, then entra-user-sync tenants add`);
    note("The URL to send the first customer's administrator (the app registration is multi-tenant):");
    await must(["tenants", "consent-url", tenantIds[0]!]);
    for (const [i, tenantId] of tenantIds.entries()) await must(["tenants", "add", tenantId, "--name", NAMES[i % NAMES.length]!], true);
    await must(["tenants", "list"]);

    const concurrency = Math.min(4, options.tenants);
    heading(`2. entra-user-sync worker --once --concurrency ${concurrency}`);
    note("It queues one message per tenant on the tenant queue, then syncs up to four tenants at once, each in its own tables (log lines name their tenant).");
    const started = Date.now();
    await must(["worker", "--once", "--concurrency", String(concurrency)]);
    console.log(`  ${count(options.tenants * options.usersPerTenant)} users of ${options.tenants} tenants in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await must(["tenants", "list"]);

    heading("3. Each tenant's data: entra-user-sync export --latest --tenant <tenantId>");
    for (const tenantId of tenantIds) {
      const exported = await must(["export", "--latest", "--tenant", tenantId], true);
      const lines = exported.stdout.split("\n").filter((l) => l !== "");
      const expected = new Map<string, string>();
      for (const user of cloud.customers.get(tenantId)!.directory.users(DEFAULT_SELECT)) expected.set(user.id, JSON.stringify(user));
      const same = lines.length === expected.size && lines.every((line) => expected.get((JSON.parse(line) as { id: string }).id) === JSON.stringify(JSON.parse(line)));
      console.log(`  ${tenantId}  ${count(lines.length).padStart(7)} users  ${same ? "= its own directory" : "MISMATCH"}`);
      if (!same) exitCode = 1;
    }
    note("\nOnboarding, offboarding, isolation and limits: docs/tenants.md.");
  } catch (error) {
    console.error(`demo failed: ${(error as Error).message}`);
    exitCode = 1;
  } finally {
    await cloud.close();
    await azurite.close();
  }
  return exitCode;
}
