/**
 * The users' `manager` relationship as edges (USER_SYNC_GROUPS, docs/groups.md, "Managers"): the
 * forward row user → manager (`<prefix>Managers`, "the manager of U" is one partition), the reverse
 * row manager → user (`<prefix>DirectReports`, "the direct reports of M"), in a snapshot's scope
 * or the mirror's. A user has at most one manager: a new one replaces the old edge, a cleared one
 * removes it. Every write goes under the run's writer lease and is fenced (EdgeTables).
 */
import type { ManagerChange } from "../graph/managerLinks.js";
import type { OperationOptions } from "../shared/abort.js";
import { MIRROR_EDGE_SCOPE, type EdgeChange, type EdgeTables, type EdgeWriteOptions, type StoredEdge } from "../tables/edgeTables.js";

/** A user's manager link, as the readers hand it out. */
export interface ManagerLink {
  userId: string;
  managerId: string;
}

/** What an incremental round changed of a user's manager (`from`/`to` absent: none). */
export interface ManagerEdgeChange {
  userId: string;
  from?: string;
  to?: string;
  change: "set" | "cleared" | "changed";
}

/** The only target type of `manager` the product reads (Graph's manager is a user or a contact; the id is what is kept). */
const MANAGER_TYPE = "user";

/** Where an incremental round's manager changes are recorded (MembershipChangeLog, the groups' change-log table). */
export interface ManagerChangeSink {
  writeManagerChanges(runId: string, changes: readonly ManagerEdgeChange[], at: Date, options?: EdgeWriteOptions): Promise<void>;
}

export class ManagerEdges {
  readonly edges: EdgeTables;
  readonly #log: ManagerChangeSink | undefined;

  constructor(edges: EdgeTables, log?: ManagerChangeSink) {
    this.edges = edges;
    this.#log = log;
  }

  /** A snapshot's page (or a full round's, with `round`): the managers of its users, as present edges. */
  async writePage(scope: string, changes: readonly ManagerChange[] | undefined, options: EdgeWriteOptions = {}): Promise<number> {
    const edges: EdgeChange[] = [];
    for (const c of changes ?? []) if (c.managerId !== null) edges.push({ sourceId: c.userId, targetId: c.managerId, targetType: MANAGER_TYPE });
    if (edges.length === 0) return 0;
    return (await this.edges.writeEdges(scope, edges, options)).written;
  }

  /** After a full round of the mirror: deletes the manager edges the round did not see. */
  async sweepMirror(round: string, options: EdgeWriteOptions = {}): Promise<StoredEdge[]> {
    return this.edges.sweep(MIRROR_EDGE_SCOPE, round, options);
  }

  /**
   * An incremental round's page: each change replaces the user's manager edge in the mirror (null
   * removes it). Returns what changed (a repeat of the current manager changes nothing), recorded
   * in the change log under `record.runId` (the users' mirror run) when given.
   */
  async applyToMirror(changes: readonly ManagerChange[], options: EdgeWriteOptions & { record?: { runId: string; at: Date } } = {}): Promise<ManagerEdgeChange[]> {
    const last = new Map<string, string | null>();
    for (const c of changes) last.set(c.userId, c.managerId);
    const read: OperationOptions = { abortSignal: options.abortSignal };
    const results = await Promise.all(
      [...last].map(async ([userId, managerId]) => {
        const current: string[] = [];
        for await (const edge of this.edges.listTargets(MIRROR_EDGE_SCOPE, userId, read)) current.push(edge.targetId);
        const writes: EdgeChange[] = current.filter((id) => id !== managerId).map((id) => ({ sourceId: userId, targetId: id, targetType: MANAGER_TYPE, removed: true }));
        if (managerId !== null && !current.includes(managerId)) writes.push({ sourceId: userId, targetId: managerId, targetType: MANAGER_TYPE });
        return { writes, change: changeOf(userId, current[0], managerId ?? undefined) };
      }),
    );
    const writes = results.flatMap((r) => r.writes);
    const { record, ...write } = options;
    if (writes.length > 0) await this.edges.writeEdges(MIRROR_EDGE_SCOPE, writes, write);
    const changed = results.flatMap((r) => (r.change ? [r.change] : []));
    if (record && this.#log) await this.#log.writeManagerChanges(record.runId, changed, record.at, write);
    return changed;
  }

  /** A scope's manager links, ascending by user id (the forward rows' PartitionKey order). */
  async *listManagers(scope: string, options: OperationOptions = {}): AsyncIterableIterator<ManagerLink> {
    for await (const edge of this.edges.listEdges(scope, options)) yield { userId: edge.sourceId, managerId: edge.targetId };
  }
}

function changeOf(userId: string, from: string | undefined, to: string | undefined): ManagerEdgeChange | undefined {
  if (from === to) return undefined;
  if (from === undefined) return { userId, to: to!, change: "set" };
  if (to === undefined) return { userId, from, change: "cleared" };
  return { userId, from, to, change: "changed" };
}
