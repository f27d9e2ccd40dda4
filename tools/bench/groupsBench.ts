/**
 * `npm run bench:groups` (issue 29, item 9). By default the groups round itself, through the
 * compiled CLI against Azurite and the simulated tenant (groupsRoundBench.ts): Graph requests of a
 * full and an incremental round, peak RSS of the sync and of the nested closure's export, time
 * against the read ceiling. With `--in-process`, the nested-membership part alone, below.
 *
 *   npm run bench:groups                                                         # the issue's size (long: run it once)
 *   npm run bench:groups -- --users 10000 --groups 1000 --edges 100000           # a tenth of it
 *   node dist/tools/bench/groupsBench.js --users 200 --groups 20 --edges 1000 --json   # a smoke run, one JSON object
 *
 * The in-process part: the transitive closure of a
 * generated directory (groupsScenario.ts; by default the issue's 100,000 users, 10,000 groups and
 * 1,000,000 direct edges nested to depth 5), computed and written as `export --memberships
 * --transitive` writes it (JSON Lines, to a sink that only counts), in this process. Reports the
 * time to read the edges, the time of the walk and the lines, the memberships, and the process's
 * peak RSS (maxRSS: the whole process, Node itself included) against the issue's 512 MiB.
 *
 *   node dist/tools/bench/groupsBench.js --in-process --users 2000 --groups 200 --edges 20000
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
import { benchGroupsRound, formatGroupsRound } from "./groupsRoundBench.js";

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

const USAGE = `Usage: npm run bench:groups -- [options]

The groups round through the compiled CLI (Graph requests, peak RSS of the sync and of the nested
closure's export, time against the read ceiling), or with --in-process the nested closure alone.

  --users <n>              users in the simulated tenant (default ${ISSUE_GROUPS_SCENARIO.users.toLocaleString("en-US")})
  --groups <n>             groups (default ${ISSUE_GROUPS_SCENARIO.groups.toLocaleString("en-US")})
  --edges <n>              direct member links (default ${ISSUE_GROUPS_SCENARIO.edges.toLocaleString("en-US")})
  --depth <n>              nesting depth (default ${ISSUE_GROUPS_SCENARIO.depth})
  --changes <n>            membership changes before the incremental round (default 100)
  --latency <ms>           Graph latency per page (default 0)
  --seed <n>               the tenant's seed (default 1)
  --store azurite|indexed  the Table service: Azurite (default) or the benchmark-only indexed one
  --azurite-storage memory|disk   where Azurite keeps its data (default memory)
  --in-process             the nested closure alone, in this process
  --json                   one JSON object instead of the report
  -h, --help               this text
`;

const OPTIONS = {
  users: { type: "string" },
  groups: { type: "string" },
  edges: { type: "string" },
  depth: { type: "string" },
  changes: { type: "string" },
  latency: { type: "string" },
  seed: { type: "string" },
  "azurite-storage": { type: "string" },
  store: { type: "string" },
  "in-process": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The command line's options; an unknown or malformed one ends the process with the usage (exit 2). */
function commandLine() {
  try {
    return parseArgs({ options: OPTIONS, strict: true }).values;
  } catch (error) {
    console.error(`groupsBench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const values = commandLine();
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const whole = (name: string, text: string | undefined, fallback: number, min = 1): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > 100_000_000) {
      console.error(`groupsBench: --${name} must be a whole number from ${min} to 100,000,000, not "${text}".`);
      process.exit(2);
    }
    return value;
  };
  const scenario: GroupsScenario = {
    users: whole("users", values.users, ISSUE_GROUPS_SCENARIO.users),
    groups: whole("groups", values.groups, ISSUE_GROUPS_SCENARIO.groups),
    edges: whole("edges", values.edges, ISSUE_GROUPS_SCENARIO.edges),
    depth: whole("depth", values.depth, ISSUE_GROUPS_SCENARIO.depth),
  };
  const storage = values["azurite-storage"] ?? "memory";
  if (storage !== "memory" && storage !== "disk") {
    console.error(`groupsBench: --azurite-storage must be memory or disk, not "${storage}".`);
    process.exit(2);
  }
  const store = values.store ?? "azurite";
  if (store !== "azurite" && store !== "indexed") {
    console.error(`groupsBench: --store must be azurite or indexed, not "${store}".`);
    process.exit(2);
  }
  if (values["in-process"]) {
    const result = await measureGroupClosure(scenario);
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatGroupClosure(result));
  } else {
    const options = { ...scenario, changes: whole("changes", values.changes, 100), latencyInMs: whole("latency", values.latency, 0, 0), seed: whole("seed", values.seed, 1), azuriteStorage: storage, store } as const;
    const started = performance.now();
    const progress = (line: string) => console.error(`${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s  ${line}`);
    const result = await benchGroupsRound(options, progress);
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatGroupsRound(result));
    process.exit(result.targets.every((t) => t.met) ? 0 : 1);
  }
}
