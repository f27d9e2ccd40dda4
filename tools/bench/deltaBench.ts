/**
 * The mirror's incremental cost: a full round of a simulated tenant, then N changes, then one
 * incremental run; prints the Graph requests and table requests/transactions of each.
 *
 *   npm run build && node dist/tools/bench/deltaBench.js                        # 100 changes, 100,000 users
 *   node dist/tools/bench/deltaBench.js --users 1000000 --changes 1000
 *
 * `measureIncrementalSync` is the function a benchmark harness calls; the script prints its result.
 */
import "../../src/shared/requireSupportedNode.js";
import { parseArgs } from "node:util";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { DEFAULT_SELECT, loadStorageSettings } from "../../src/configuration/settings.js";
import { UserDeltaClient } from "../../src/graph/userDeltaClient.js";
import { runMirrorSync } from "../../src/mirror/mirrorSync.js";
import type { MirrorRunRecord } from "../../src/mirror/userMirrorClient.js";
import { composeStorage } from "../../src/app/compose.js";
import { startAzurite } from "../azurite.js";
import { startSimulatedTenant, trustSimulatedTenantCa } from "../simulated-tenant/index.js";

export interface DeltaBenchOptions {
  userCount: number;
  changeCount: number;
  seed?: number;
}

export interface DeltaRunCost {
  mode: MirrorRunRecord["mode"];
  graphRequests: number;
  itemsRead: number;
  tableRequests: number;
  tableTransactions: number;
  tableEntitiesWritten: number;
  tableEntitiesRead: number;
  elapsedInMs: number;
}

export interface DeltaBenchResult {
  userCount: number;
  changeCount: number;
  full: DeltaRunCost;
  incremental: DeltaRunCost & { changes: MirrorRunRecord["changes"] };
}

/**
 * Starts Azurite and a simulated tenant, seeds the mirror with a full round, makes `changeCount`
 * changes (a mix of updates, renames, adds, soft and hard deletes, restores), runs one incremental
 * round and returns what each round cost.
 */
export async function measureIncrementalSync(options: DeltaBenchOptions): Promise<DeltaBenchResult> {
  const [azurite, tenant] = await Promise.all([startAzurite(), startSimulatedTenant({ userCount: options.userCount, seed: options.seed ?? 1 })]);
  try {
    trustSimulatedTenantCa(tenant.caCertificatePem);
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId: tenant.clientId,
        authority: `${tenant.authorityHost}/${tenant.tenantId}`,
        knownAuthorities: [new URL(tenant.authorityHost).host],
        clientCertificate: { privateKey: tenant.appCertificate.privateKeyPem, thumbprintSha256: tenant.appCertificate.thumbprintSha256Hex },
      },
    });
    const delta = new UserDeltaClient({
      graphEndpoint: tenant.graphEndpoint,
      select: DEFAULT_SELECT,
      tokenProvider: {
        async getToken(o) {
          const result = await msal.acquireTokenByClientCredential({ scopes: [`${tenant.graphResource}/.default`], skipCache: o?.forceRefresh === true });
          return { token: result!.accessToken };
        },
      },
    });
    const { mirror } = composeStorage(loadStorageSettings({ SNAPSHOT_STORAGE: azurite.connectionString }));
    await mirror.createTablesIfNotExist();
    const logger = { info: () => undefined, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

    const measure = async (): Promise<{ run: MirrorRunRecord; cost: DeltaRunCost }> => {
      tenant.requests.reset();
      const started = performance.now();
      const run = await runMirrorSync({ delta, mirror, logger });
      const cost: DeltaRunCost = {
        mode: run.mode,
        graphRequests: tenant.requests.count("graph"),
        itemsRead: run.itemsRead,
        tableRequests: run.counters.tableRequests ?? 0,
        tableTransactions: run.counters.tableTransactions ?? 0,
        tableEntitiesWritten: run.counters.tableEntitiesWritten ?? 0,
        tableEntitiesRead: run.counters.tableEntitiesRead ?? 0,
        elapsedInMs: Math.round(performance.now() - started),
      };
      return { run, cost };
    };

    const full = await measure();
    makeChanges(tenant.changes, options.userCount, options.changeCount, tenant.tenantDomain);
    const incremental = await measure();
    return { userCount: options.userCount, changeCount: options.changeCount, full: full.cost, incremental: { ...incremental.cost, changes: incremental.run.changes } };
  } finally {
    await Promise.all([tenant.close(), azurite.close()]);
  }
}

/** Spreads `count` changes over the directory: updates, renames, adds, soft deletes, hard deletes, restores. */
function makeChanges(changes: import("../simulated-tenant/index.js").DirectoryChanges, userCount: number, count: number, domain: string): void {
  const stride = Math.max(1, Math.floor(userCount / (count + 1)));
  const softDeleted: number[] = [];
  for (let i = 0; i < count; i++) {
    const index = (i * stride + 7) % userCount;
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        changes.changeUser(index, { jobTitle: `Bench Title ${i}`, department: i % 2 === 0 ? null : "Bench" });
        break;
      case 4:
        changes.renameUser(index, `bench.renamed.${i}@${domain}`);
        break;
      case 5:
      case 6:
        changes.addUser({ displayName: `Bench Added ${i}` });
        break;
      case 7:
        changes.softDeleteUser(index);
        softDeleted.push(index);
        break;
      case 8:
        changes.hardDeleteUser(index);
        break;
      default:
        if (softDeleted.length > 0) changes.restoreUser(softDeleted.pop()!);
        else changes.changeUser(index, { displayName: `Bench ${i}` });
    }
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").slice(-2).join("/"));
if (isMain) {
  const { values } = parseArgs({ options: { users: { type: "string", default: "100000" }, changes: { type: "string", default: "100" } } });
  const result = await measureIncrementalSync({ userCount: Number(values.users), changeCount: Number(values.changes) });
  const n = new Intl.NumberFormat("en-US");
  const row = (name: string, c: DeltaRunCost) =>
    `${name.padEnd(12)} ${n.format(c.graphRequests).padStart(8)} ${n.format(c.itemsRead).padStart(9)} ${n.format(c.tableRequests).padStart(9)} ${n.format(c.tableTransactions).padStart(9)} ${n.format(c.tableEntitiesWritten).padStart(9)} ${n.format(c.tableEntitiesRead).padStart(9)} ${(c.elapsedInMs / 1000).toFixed(1).padStart(7)} s`;
  console.log(`Mirror cost, ${n.format(result.userCount)} users, ${n.format(result.changeCount)} changes between runs`);
  console.log(`${"round".padEnd(12)} ${"graph".padStart(8)} ${"items".padStart(9)} ${"tableReq".padStart(9)} ${"batches".padStart(9)} ${"written".padStart(9)} ${"read".padStart(9)} ${"time".padStart(9)}`);
  console.log(row("full", result.full));
  console.log(row("incremental", result.incremental));
  console.log(`incremental change set: ${JSON.stringify(result.incremental.changes)}`);
}
