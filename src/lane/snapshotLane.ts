/**
 * The analytics lane of one tenant's snapshots (docs/analytics.md): under the run's writer lease,
 * after the snapshot part of a run, every promoted snapshot the lane has not written yet (newest
 * first, at most `snapshotsPerRun` a run) is written as a Parquet set (streamed from the round's
 * pages, or read back from the snapshot store); with groups (groupLane.ts) its groups' and
 * memberships' sets are sealed first, so that the users' `_SUCCESS` is the snapshot's last file.
 * Its run record then says what the lane did (`runs` shows it). A lane
 * failure does not fail the sync: the snapshot stays promoted, the failure is recorded and logged,
 * and the next run tries again. A lost lease stops the lane at once (nothing more is written) and is
 * thrown like any lost lease.
 */
import type { ContainerClient } from "@azure/storage-blob";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";
import { EXPORT_LANE_DEFAULTS } from "../configuration/defaults.js";
import type { GraphUser } from "../graph/types.js";
import type { OperationOptions } from "../shared/abort.js";
import { formatCount } from "../shared/counts.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import type { LaneRunState, SyncRunRecord } from "../snapshots/runRecords.js";
import type { ListRunsOptions } from "../snapshots/runsTable.js";
import type { ListSnapshotUsersOptions } from "../snapshots/snapshotReader.js";
import type { WriterLease } from "../snapshots/writerLease.js";
import { changeSetRuns, writeChangeSet, changeSetPrefixOf, type LaneChangeSource, type LaneWriteContext } from "./changeLane.js";
import { writeGroupChangeSets, writeSnapshotGroupSets, type LaneGroupSource, type WrittenGroupSet } from "./groupLane.js";
import { stampedRows, userLaneColumns } from "./laneColumns.js";
import { sealLaneSet, snapshotSetPrefix, storageCall, writeLaneSet, type LaneManifest, type LaneSetResult } from "./laneSet.js";
import { LaneStream, StreamedSet, type StreamRun } from "./streamedSet.js";

/** What the lane needs from the snapshot store (SnapshotStoreClient in production). */
export interface LaneSnapshotSource {
  listRuns(options: ListRunsOptions): AsyncIterable<SyncRunRecord>;
  listSnapshotUsers(snapshotId: string, options: ListSnapshotUsersOptions): AsyncIterable<GraphUser>;
  recordLane(runId: string, lane: LaneRunState, options: { lease: WriterLease }): Promise<void>;
}

export interface SnapshotLaneOptions {
  container: ContainerClient;
  settings: ExportLaneSettings;
  /** The tenant whose snapshots these are (`tenant=<id>`). */
  tenantId: string;
  store: LaneSnapshotSource;
  /** The live mirror, whose runs' change sets go under `changes/`; absent: snapshots only. */
  mirror?: LaneChangeSource | undefined;
  /** USER_SYNC_GROUPS: the group stores, whose snapshots' groups and memberships and whose mirror's change sets the lane writes too (groupLane.ts). */
  groups?: LaneGroupSource | undefined;
  /** Rows per row group (default: EXPORT_LANE_DEFAULTS.rowsPerGroup for a set read back, streamedRowsPerGroup for the users' set streamed from the round). */
  rowsPerGroup?: number;
  groupsPerPart?: number;
  snapshotsPerRun?: number;
}

export interface CatchUpOptions extends OperationOptions {
  lease: WriterLease;
  logger: Logger;
  /** This run's stream (openStream): the set of the snapshot it promoted, written as its pages arrived. */
  stream?: LaneStream | undefined;
}

/** What one run's lane did: the sets it wrote (or found complete) and the snapshots it failed. */
export interface LaneRoundResult {
  /** `object`: `users`, `groups` or `memberships`. `bytes`: the set's Parquet parts, as its manifest lists them. */
  written: Array<{ kind: "snapshot" | "changes"; object: string; runId: string; prefix: string; rows: number; files: number; bytes: number; alreadyComplete: boolean }>;
  /** A snapshot's failure is the whole snapshot's (`object` users); a change set's names its object (`users`, or `groups` for the groups' mirror's). */
  failed: Array<{ kind: "snapshot" | "changes"; object: string; runId: string; error: string }>;
}

/** Run records read to find snapshots waiting for the lane (retention keeps far fewer complete ones by default). */
const RUNS_LOOKED_AT = 50;
const MAX_LANE_ERROR_LENGTH = 500;

export class SnapshotLane {
  readonly #options: SnapshotLaneOptions;

  constructor(options: SnapshotLaneOptions) {
    this.#options = options;
  }

  /** Writes the promoted snapshots that are not in the lane yet (newest first). Throws only for a lost lease or an abort. */
  async catchUp(options: CatchUpOptions): Promise<LaneRoundResult> {
    const result: LaneRoundResult = { written: [], failed: [] };
    for (const run of await this.#waiting(options)) {
      const attempts = (run.lane?.attempts ?? 0) + 1;
      try {
        // The groups' and memberships' sets first: the users' _SUCCESS is the snapshot's last file (docs/decisions.md).
        const groupSets = this.#options.groups ? await writeSnapshotGroupSets(run, this.#context(options), this.#options.groups) : [];
        const set = (await this.#finishStreamed(run, options)) ?? (await this.writeSnapshot(run, options));
        const state: LaneRunState = { status: "written", at: new Date(), attempts, files: set.manifest.files.length, rows: set.manifest.rows, prefix: this.prefixOf(run) };
        await this.#options.store.recordLane(run.runId, state, { lease: options.lease });
        result.written.push({ kind: "snapshot", object: "users", runId: run.runId, prefix: state.prefix!, rows: state.rows!, files: state.files!, bytes: partBytes(set), alreadyComplete: set.alreadyComplete });
        for (const g of groupSets) result.written.push({ kind: "snapshot", object: g.object, runId: run.runId, prefix: g.prefix, rows: g.set.manifest.rows, files: g.set.manifest.files.length, bytes: partBytes(g.set), alreadyComplete: g.set.alreadyComplete });
        options.logger.info(`Analytics lane: snapshot ${run.snapshotId} written to ${state.prefix} (${formatCount(state.rows!, "row")} in ${formatCount(state.files!, "file")})${describeGroupSets(groupSets)}.`);
      } catch (error) {
        if (isLoss(error, options)) throw options.lease.lost ?? error;
        const text = redact(describeError(error)).slice(0, MAX_LANE_ERROR_LENGTH);
        result.failed.push({ kind: "snapshot", object: "users", runId: run.runId, error: text });
        options.logger.warn(`Analytics lane: snapshot ${run.snapshotId} was not written (the sync is not affected; the next run tries again): ${text}`);
        await this.#recordFailure(run, { status: "failed", at: new Date(), attempts, error: text }, options);
      }
    }
    await this.#changeSets(result, options);
    return result;
  }

  /** The newest mirror runs' change sets that are not in the lane yet, the users' then the groups' (a failure is logged; a later run writes it). */
  async #changeSets(result: LaneRoundResult, options: CatchUpOptions): Promise<void> {
    const { mirror, groups, tenantId } = this.#options;
    const context = this.#context(options);
    const written = (object: string) => (run: { runId: string; startedAt: Date }, set: LaneSetResult) => {
      const prefix = changeSetPrefixOf(tenantId, run, object);
      result.written.push({ kind: "changes", object, runId: run.runId, prefix, rows: set.manifest.rows, files: set.manifest.files.length, bytes: partBytes(set), alreadyComplete: set.alreadyComplete });
      if (!set.alreadyComplete) options.logger.info(`Analytics lane: the ${object === "users" ? "" : `${object} `}change set of mirror run ${run.runId} written to ${prefix} (${formatCount(set.manifest.rows, "change")}).`);
    };
    if (mirror) {
      await this.#guarded(result, "users", options, async () => {
        for (const run of await changeSetRuns(mirror, context.abortSignal)) written("users")(run, await writeChangeSet(run, { ...context, mirror }));
      });
    }
    if (groups) await this.#guarded(result, "groups", options, () => writeGroupChangeSets(context, groups, (run, object, set) => written(object)(run, set)));
  }

  /** Runs the writing of change sets: a failure is logged and listed (a later run writes them), a lost lease thrown. */
  async #guarded(result: LaneRoundResult, object: string, options: CatchUpOptions, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isLoss(error, options)) throw options.lease.lost ?? error;
      const text = redact(describeError(error)).slice(0, MAX_LANE_ERROR_LENGTH);
      result.failed.push({ kind: "changes", object, runId: "", error: text });
      options.logger.warn(`Analytics lane: ${object === "users" ? "" : `the ${object}' mirror's `}change sets were not written (the sync is not affected; the next run tries again): ${text}`);
    }
  }

  /** Where and how this run writes sets: under its lease, aborted with it. */
  #context(options: CatchUpOptions): LaneWriteContext {
    return {
      container: this.#options.container,
      settings: this.#options.settings,
      tenantId: this.#options.tenantId,
      lease: options.lease,
      rowsPerGroup: this.#options.rowsPerGroup ?? EXPORT_LANE_DEFAULTS.rowsPerGroup,
      groupsPerPart: this.#options.groupsPerPart ?? EXPORT_LANE_DEFAULTS.groupsPerPart,
      abortSignal: AbortSignal.any([options.lease.signal, ...(options.abortSignal ? [options.abortSignal] : [])]),
    };
  }

  /** Where a run's snapshot goes in the container. */
  prefixOf(run: Pick<SyncRunRecord, "startedAt">): string {
    return snapshotSetPrefix(this.#options.tenantId, "users", run.startedAt);
  }

  /** Writes one complete snapshot as a set (or finds it complete). */
  async writeSnapshot(run: SyncRunRecord, options: CatchUpOptions): Promise<LaneSetResult> {
    const { tenantId, store } = this.#options;
    const abortSignal = AbortSignal.any([options.lease.signal, ...(options.abortSignal ? [options.abortSignal] : [])]);
    const stamps = { _snapshotTime: run.startedAt, _tenantId: tenantId, _runId: run.runId };
    const rows = stampedRows(store.listSnapshotUsers(run.snapshotId, { abortSignal }), stamps);
    return writeLaneSet(this.#options.container, this.#options.settings, {
      prefix: this.prefixOf(run),
      manifest: this.#manifestHead(run),
      rows,
      fence: options.lease,
      rowsPerGroup: this.#options.rowsPerGroup ?? EXPORT_LANE_DEFAULTS.rowsPerGroup,
      groupsPerPart: this.#options.groupsPerPart ?? EXPORT_LANE_DEFAULTS.groupsPerPart,
      abortSignal,
    });
  }

  /**
   * A stream for one sync run's snapshot pages (docs/analytics.md, "Streamed as the pages arrive"):
   * the snapshot run attaches it to its run and hands it every committed page; catchUp then
   * finishes that set instead of reading the snapshot back. Discard it when the run ends.
   */
  openStream(options: CatchUpOptions): LaneStream {
    const abortSignal = AbortSignal.any([options.lease.signal, ...(options.abortSignal ? [options.abortSignal] : [])]);
    return new LaneStream(
      (run: StreamRun) =>
        new StreamedSet(run.runId, {
          container: this.#options.container,
          prefix: this.prefixOf(run),
          manifest: this.#manifestHead(run),
          stamps: { _snapshotTime: run.startedAt, _tenantId: this.#options.tenantId, _runId: run.runId },
          fence: options.lease,
          rowsPerGroup: this.#options.rowsPerGroup ?? EXPORT_LANE_DEFAULTS.streamedRowsPerGroup,
          groupsPerPart: this.#options.groupsPerPart ?? EXPORT_LANE_DEFAULTS.groupsPerPart,
          abortSignal,
        }),
    );
  }

  /** The set this run streamed for `run`: its parts committed, then the manifest and _SUCCESS; undefined (read it back) when there is none or it could not be completed. */
  async #finishStreamed(run: SyncRunRecord, options: CatchUpOptions): Promise<LaneSetResult | undefined> {
    const set = options.stream?.take(run.runId);
    if (!set) return undefined;
    // A run that lost its lease during the round stops here: neither the stream's parts nor a read back.
    options.lease.assertHeld();
    const prefix = this.prefixOf(run);
    const fallback = (why: string) => {
      options.logger.info(`Analytics lane: the set of snapshot ${run.snapshotId} is read back from the snapshot (the round's stream could not complete it: ${why}).`);
      return undefined;
    };
    if (!(set instanceof StreamedSet)) return fallback(set.notStreamed);
    const parts = await set.end(run);
    if (!parts) return fallback(set.brokenBecause ?? "unknown");
    const abortSignal = AbortSignal.any([options.lease.signal, ...(options.abortSignal ? [options.abortSignal] : [])]);
    try {
      await storageCall(this.#options.settings, options.lease)(`committing the parts of ${prefix}`, () => parts.commit());
      const manifest = await sealLaneSet(this.#options.container, this.#options.settings, { prefix, manifest: this.#manifestHead(run), files: parts.files, fence: options.lease, abortSignal });
      return { manifest, alreadyComplete: false };
    } catch (error) {
      if (isLoss(error, options)) throw options.lease.lost ?? error;
      return fallback(redact(describeError(error)).slice(0, MAX_LANE_ERROR_LENGTH));
    }
  }

  #manifestHead(run: StreamRun): Omit<LaneManifest, "files" | "rows"> {
    const tenantId = this.#options.tenantId;
    return { formatVersion: 1, kind: "snapshot", tenantId, object: "users", time: run.startedAt.toISOString(), runId: run.runId, columns: userLaneColumns(run.select) };
  }

  /** Promoted snapshots, still kept, that the lane has not written: newest first, at most snapshotsPerRun. */
  async #waiting(options: CatchUpOptions): Promise<SyncRunRecord[]> {
    const limit = this.#options.snapshotsPerRun ?? EXPORT_LANE_DEFAULTS.snapshotsPerRun;
    const waiting: SyncRunRecord[] = [];
    for await (const run of this.#options.store.listRuns({ maxResults: RUNS_LOOKED_AT, abortSignal: options.abortSignal })) {
      if (run.status !== "succeeded" || run.snapshotDeletedAt || run.lane?.status === "written") continue;
      waiting.push(run);
      if (waiting.length === limit) break;
    }
    return waiting;
  }

  async #recordFailure(run: SyncRunRecord, state: LaneRunState, options: CatchUpOptions): Promise<void> {
    try {
      await this.#options.store.recordLane(run.runId, state, { lease: options.lease });
    } catch (error) {
      if (isLoss(error, options)) throw options.lease.lost ?? error;
      options.logger.error(`Analytics lane: could not record the lane's failure on run ${run.runId}: ${describeError(error)}`);
    }
  }
}

function isLoss(error: unknown, options: CatchUpOptions): boolean {
  return isUserSyncError(error, "lease_lost") || options.lease.lost !== undefined || (options.abortSignal?.aborted ?? false);
}

function partBytes(set: LaneSetResult): number {
  return set.manifest.files.reduce((sum, file) => sum + file.bytes, 0);
}

/** The groups' and memberships' sets of a snapshot, for its log line. */
function describeGroupSets(sets: readonly WrittenGroupSet[]): string {
  return sets.map((g) => `, ${g.object} to ${g.prefix} (${formatCount(g.set.manifest.rows, "row")})`).join("");
}
