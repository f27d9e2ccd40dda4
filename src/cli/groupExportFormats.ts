/**
 * The lines of `export --groups` and `export --memberships [--transitive]` (issue 29, item 6), in
 * the users' formats (exportFormats.ts): JSON Lines, or CSV with its header row, quoting and
 * formula guard. A membership is `{"groupId","memberId","memberType"}`, with `"depth"` when
 * nested; CSV has those columns, in that order. Output goes to a sink in batches of about 500
 * lines (the command's is standard output, with back-pressure), so nothing waits for the whole export.
 */
import { MembershipGraph, type GroupClosure } from "../kinds/membershipClosure.js";
import type { GroupDataSource } from "../kinds/membershipPorts.js";
import type { GraphUser } from "../graph/types.js";
import { createUserLineWriter, type ExportFormat } from "./exportFormats.js";

/** A line's values: the users' writer takes any object's properties by column (a membership has no `id`). */
type Row = GraphUser;

export const MEMBERSHIP_COLUMNS = ["groupId", "memberId", "memberType"] as const;
export const TRANSITIVE_MEMBERSHIP_COLUMNS = [...MEMBERSHIP_COLUMNS, "depth"] as const;

export interface GroupExportOptions {
  format: ExportFormat;
  /** CSV: cells exactly as stored (UserLineWriterOptions.raw). */
  raw?: boolean;
  /** Where the text goes; awaited, for back-pressure. */
  write(text: string): Promise<void>;
}

/** Lines are handed to the sink in batches of this many. */
const BATCH_LINES = 500;

/** A buffer of lines written in batches. */
function batcher(write: (text: string) => Promise<void>) {
  let lines: string[] = [];
  return {
    async add(text: string): Promise<void> {
      lines.push(text);
      if (lines.length >= BATCH_LINES) await this.flush();
    },
    async flush(): Promise<void> {
      if (lines.length === 0) return;
      const text = lines.join("");
      lines = [];
      await write(text);
    },
  };
}

/** The groups, one per line; CSV's columns are the properties the groups were read with (`source.select`). */
export async function writeGroups(source: GroupDataSource, options: GroupExportOptions): Promise<number> {
  const writer = createUserLineWriter(options.format, { columns: source.select, raw: options.raw === true });
  const out = batcher(options.write);
  let count = 0;
  for await (const group of source.listGroups()) {
    await out.add(writer.linesFor(group));
    count += 1;
  }
  await out.add(writer.end());
  await out.flush();
  return count;
}

/** The direct memberships, one per line, as the source hands them out (no depth). */
export async function writeMemberships(source: GroupDataSource, options: GroupExportOptions): Promise<number> {
  const writer = createUserLineWriter(options.format, { columns: MEMBERSHIP_COLUMNS, raw: options.raw === true });
  const out = batcher(options.write);
  let count = 0;
  for await (const edge of source.listMemberships()) {
    await out.add(writer.linesFor({ groupId: edge.groupId, memberId: edge.memberId, memberType: edge.memberType } as unknown as Row));
    count += 1;
  }
  await out.add(writer.end());
  await out.flush();
  return count;
}

/** One group's nested memberships (a closure of MembershipGraph), by depth: `groupId, memberId, memberType, depth`. */
export function* nestedMembershipsOf(closure: GroupClosure): Generator<{ groupId: string; memberId: string; memberType: string; depth: number }> {
  for (let i = 0; i < closure.size; i += 1) yield { groupId: closure.groupId, memberId: closure.memberId(i), memberType: closure.memberType(i), depth: closure.depth(i) };
}

export interface TransitiveExportSummary {
  memberships: number;
  /** Groups with at least one member. */
  groups: number;
  /** Groups whose walk came back to themselves (a cycle of nested groups), in id order, at most `cycleSample`. */
  inCycle: { count: number; first: string[] };
}

/**
 * The nested memberships (MembershipGraph): every member of each group, reachable through nested
 * groups, once, with its shortest depth; groups in ascending id order, each group's members by
 * depth. The direct edges are read first (held as integers), then each group's lines are written,
 * in batches, before the next group's walk: a group with a million nested members is never one string.
 */
export async function writeTransitiveMemberships(source: GroupDataSource, options: GroupExportOptions & { cycleSample?: number }): Promise<TransitiveExportSummary> {
  const graph = await MembershipGraph.fromEdges(source.listMemberships());
  const writer = createUserLineWriter(options.format, { columns: TRANSITIVE_MEMBERSHIP_COLUMNS, raw: options.raw === true });
  const summary: TransitiveExportSummary = { memberships: 0, groups: 0, inCycle: { count: 0, first: [] } };
  const sample = options.cycleSample ?? 5;
  const out = batcher(options.write);
  for (const closure of graph.closures()) {
    for (const line of nestedMembershipsOf(closure)) await out.add(writer.linesFor(line as unknown as Row));
    summary.memberships += closure.size;
    summary.groups += 1;
    if (closure.inCycle) {
      summary.inCycle.count += 1;
      if (summary.inCycle.first.length < sample) summary.inCycle.first.push(closure.groupId);
    }
  }
  await out.add(writer.end());
  await out.flush();
  return summary;
}
