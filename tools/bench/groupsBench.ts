/**
 * The groups benchmark's nested-membership part (issue 29, item 9): the transitive closure of a
 * generated directory (groupsScenario.ts; by default the issue's 100,000 users, 10,000 groups and
 * 1,000,000 direct edges nested to depth 5), computed and written as `export --memberships
 * --transitive` writes it (JSON Lines, to a sink that only counts), in this process. Reports the
 * time to read the edges, the time of the walk and the lines, the memberships, and the process's
 * peak RSS (maxRSS: the whole process, Node itself included) against the issue's 512 MiB.
 *
 *   npm run bench:groups                                   # the issue's size (run it once: the machine may be shared)
 *   node dist/tools/bench/groupsBench.js --users 2000 --groups 200 --edges 20000   # a smoke run
 *   node dist/tools/bench/groupsBench.js --json            # one JSON object
 *
 * The edges are streamed from the generator (as a store's partition reads would be), never held as
 * objects; the Graph requests and table writes of a groups round are not part of this measurement.
 */
import "../../src/shared/requireSupportedNode.js";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeTransitiveMemberships } from "../../src/cli/groupExportFormats.js";
import type { GroupDataSource, MembershipEdge } from "../../src/kinds/membershipPorts.js";
import { ISSUE_GROUPS_SCENARIO, scenarioEdges, type GroupsScenario } from "./groupsScenario.js";

export const PEAK_RSS_CEILING_BYTES = 512 * 1024 * 1024;

export interface GroupClosureResult {
  scenario: GroupsScenario;
  directEdges: number;
  nestedMemberships: number;
  groupsWithMembers: number;
  groupsInCycles: number;
  /** Reading the edges into the walk's rows. */
  readSeconds: number;
  /** The walk of every group, and its JSON Lines. */
  closureSeconds: number;
  outputBytes: number;
  /** process.resourceUsage().maxRSS: the whole process's peak. */
  peakRssBytes: number;
}

export async function measureGroupClosure(scenario: GroupsScenario = ISSUE_GROUPS_SCENARIO): Promise<GroupClosureResult> {
  const started = performance.now();
  let readDone = started;
  let directEdges = 0;
  const source: GroupDataSource = {
    label: "the generated directory",
    select: ["id"],
    async *listGroups() {},
    async *listManagers() {},
    assertWhole: async () => undefined,
    async *listMemberships(): AsyncIterableIterator<MembershipEdge> {
      for (const edge of scenarioEdges(scenario)) {
        directEdges += 1;
        yield edge;
      }
      readDone = performance.now();
    },
  };
  let outputBytes = 0;
  const summary = await writeTransitiveMemberships(source, { format: "jsonl", write: async (text) => void (outputBytes += Buffer.byteLength(text)) });
  const ended = performance.now();
  return {
    scenario,
    directEdges,
    nestedMemberships: summary.memberships,
    groupsWithMembers: summary.groups,
    groupsInCycles: summary.inCycle.count,
    readSeconds: (readDone - started) / 1000,
    closureSeconds: (ended - readDone) / 1000,
    outputBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const n = (value: number) => value.toLocaleString("en-US");

export function formatGroupClosure(result: GroupClosureResult): string {
  const { scenario } = result;
  const within = result.peakRssBytes <= PEAK_RSS_CEILING_BYTES;
  return [
    `Nested membership: ${n(scenario.users)} users, ${n(scenario.groups)} groups, ${n(result.directEdges)} direct edges, nested ${scenario.depth} deep`,
    `  read the edges        ${result.readSeconds.toFixed(1)} s`,
    `  walk and write JSONL  ${result.closureSeconds.toFixed(1)} s (${n(result.nestedMemberships)} nested memberships of ${n(result.groupsWithMembers)} groups, ${mib(result.outputBytes)}; ${n(result.groupsInCycles)} groups in a cycle)`,
    `  peak RSS              ${mib(result.peakRssBytes)} (${within ? "within" : "OVER"} the ${mib(PEAK_RSS_CEILING_BYTES)} ceiling)`,
    "",
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { users: { type: "string" }, groups: { type: "string" }, edges: { type: "string" }, depth: { type: "string" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  const whole = (name: keyof GroupsScenario, text: string | undefined): number => {
    if (text === undefined) return ISSUE_GROUPS_SCENARIO[name];
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > 100_000_000) {
      console.error(`groupsBench: --${name} must be a whole number from 1 to 100,000,000, not "${text}".`);
      process.exit(2);
    }
    return value;
  };
  const scenario = { users: whole("users", values.users), groups: whole("groups", values.groups), edges: whole("edges", values.edges), depth: whole("depth", values.depth) };
  const result = await measureGroupClosure(scenario);
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatGroupClosure(result));
}
