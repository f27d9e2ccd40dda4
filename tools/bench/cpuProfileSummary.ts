/**
 * Where a process's CPU time went, from a V8 CPU profile (`node --cpu-prof`, `npm run bench --
 * --cpu-prof <dir>`): self time per function and per area (the product's own code by folder, each
 * npm package, Node's internals, garbage collection, idle), the largest first.
 *
 *   node dist/tools/bench/cpuProfileSummary.js <file.cpuprofile> [--top 30]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time per area, e.g. "src/tables", "@azure/data-tables", "node:internal", "(garbage collector)". */
  areas: Array<{ area: string; ms: number; share: number }>;
  functions: Array<{ name: string; area: string; ms: number; share: number }>;
}

/** The area a frame belongs to: our folders, a package, Node itself, or V8's own entries. */
export function areaOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return packageMatch[1]!;
  if (url.startsWith("node:")) return "node:internal";
  const own = /\/dist\/(src\/[^/]+|tools\/[^/]+)/.exec(url);
  if (own) return own[1]!;
  return "(other)";
}

export function summarizeProfile(profile: CpuProfile, top = 30): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const file = frame.url.replace(/^.*\/(dist|node_modules)\//, "").replace(/^file:\/\//, "");
    const name = `${frame.functionName || "(anonymous)"} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
    const entry = functions.get(name) ?? { area, us: 0 };
    entry.us += us;
    functions.set(name, entry);
  }
  const share = (us: number) => (totalUs > 0 ? us / totalUs : 0);
  return {
    totalMs: totalUs / 1000,
    areas: [...areas].map(([area, us]) => ({ area, ms: us / 1000, share: share(us) })).sort((a, b) => b.ms - a.ms),
    functions: [...functions]
      .map(([name, f]) => ({ name, area: f.area, ms: f.us / 1000, share: share(f.us) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)} %`;
  return [
    `Profiled ${(summary.totalMs / 1000).toFixed(2)} s (idle included: see "(idle)")`,
    "",
    "Self time by area:",
    ...summary.areas.map((a) => `${pct(a.share)}  ${(a.ms / 1000).toFixed(2).padStart(7)} s  ${a.area}`),
    "",
    "Self time by function:",
    ...summary.functions.map((f) => `${pct(f.share)}  ${(f.ms / 1000).toFixed(2).padStart(7)} s  ${f.name}`),
    "",
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "30" } }, allowPositionals: true });
  if (positionals.length !== 1) {
    console.error("usage: node dist/tools/bench/cpuProfileSummary.js <file.cpuprofile> [--top 30]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as CpuProfile;
  process.stdout.write(formatProfileSummary(summarizeProfile(profile, Number(values.top))));
}
