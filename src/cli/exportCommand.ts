/**
 * `entra-user-sync export`: a snapshot, the live mirror (--current), or one mirror run's change set
 * (--changes), of one object kind (the users unless `kind` says otherwise).
 */
import { propertiesOf } from "../graph/managerLinks.js";
import type { GraphUser } from "../graph/types.js";
import type { ObjectKind } from "../kinds/objectKind.js";
import { GROUPS } from "../kinds/groups.js";
import { USERS } from "../kinds/users.js";
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import { toGraphObject } from "../mirror/mirrorEntity.js";
import { formatCount, formatNumber } from "../shared/counts.js";
import { createMirrorError } from "../mirror/mirrorErrors.js";
import { UserSyncError } from "../shared/errors.js";
import { isRunId } from "../tables/keys.js";
import { mirrorFromEnvironment, storeFromEnvironment } from "./clients.js";
import { createUserLineWriter, type ExportFormat } from "./exportFormats.js";
import { exportGroupChanges } from "./groupChangesExport.js";
import { MANAGER_CHAIN_COLUMNS, mirrorManagerChains, snapshotManagerChains, type ManagerChains } from "./managerChainExport.js";
import { writeData, writeError } from "./output.js";
import { changesSource, mirrorSource, snapshotSource, tenantStamp, writeParquetFile, type ParquetSource } from "./parquetExport.js";
import { groupChangesSource } from "./groupParquetExport.js";
import { groupStoresFromEnvironment } from "./groupSources.js";
import { InvalidArgumentError } from "commander";

export interface ExportOptions {
  latest?: boolean;
  snapshot?: string;
  current?: boolean;
  includeDeleted?: boolean;
  changes?: string;
  format: ExportFormat | "parquet";
  /** `--out <file>`: where --format parquet writes (required with it). */
  out?: string;
  /** CSV: cells exactly as stored (see UserLineWriterOptions.raw). */
  raw?: boolean;
  /** The tenant selectTenant checked (`--tenant`); undefined in single-tenant mode. */
  tenant?: string | undefined;
  /** The kind of object exported (src/kinds/). Default: the users. */
  kind?: ObjectKind;
  /** `--with-manager-chain`: each user with its chain of managers (src/cli/managerChainExport.ts; USER_SYNC_GROUPS). */
  withManagerChain?: boolean;
  /** `--changes <groups' mirror run> --groups | --memberships --format parquet`: which of the run's two change sets. */
  groupChanges?: "groups" | "memberships";
}

export async function exportCommand(options: ExportOptions): Promise<void> {
  if (options.format === "parquet") return exportParquet(options, options.out!);
  if (options.current) return exportCurrent(options);
  if (options.changes !== undefined) return exportChanges(options.changes, options);
  const kind = options.kind ?? USERS;
  const store = storeFromEnvironment(options.tenant, kind);
  let snapshotId = options.snapshot;
  if (options.latest) {
    const latest = await store.getLatestSnapshot();
    if (!latest) {
      throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync first (entra-user-sync run), then export.");
    }
    snapshotId = latest.snapshotId;
  }
  // CSV columns: the properties the snapshot's run selected, in USER_SYNC_SELECT order (a missing run is refused below).
  const run = isRunId(snapshotId!) ? await store.getRun(snapshotId!) : undefined;
  const chains = options.withManagerChain ? await snapshotManagerChains(options.tenant, snapshotId!, run) : undefined;
  const writer = createUserLineWriter(lineFormat(options), { columns: withChainColumns(run?.select ?? ["id"], chains), raw: options.raw === true });
  let count = 0;
  for await (const object of store.listSnapshotObjects(snapshotId!)) {
    await writeData(writer.linesFor(chains ? chains.withChain(object as GraphUser) : object));
    count += 1;
  }
  await writeData(writer.end());
  writeError(`Exported ${formatCount(count, kind.noun)} from snapshot ${snapshotId}${chains ? ", each with its chain of managers" : ""}.\n`);
  writeCycleNote(chains);
}

function withChainColumns(columns: readonly string[], chains: ManagerChains | undefined): readonly string[] {
  return chains ? [...columns, ...MANAGER_CHAIN_COLUMNS] : columns;
}

function writeCycleNote(chains: ManagerChains | undefined): void {
  const note = chains?.cycleNote();
  if (note) writeError(note);
}

function lineFormat(options: ExportOptions): ExportFormat {
  return options.format === "parquet" ? "jsonl" : options.format;
}

/** --format parquet: the analytics lane's file shape, to `out` (src/cli/parquetExport.ts). */
async function exportParquet(options: ExportOptions, out: string): Promise<void> {
  const tenantId = tenantStamp(options.tenant);
  if (options.current) {
    const mirror = mirrorFromEnvironment(options.tenant);
    const state = await mirror.getDeltaState();
    if (!state?.state.deltaLink) throw new UserSyncError("mirror_not_ready", "The live mirror has not completed its first round yet. Run a sync first (entra-user-sync run), then export --current.");
    return writeParquetFile(mirrorSource(mirror, state.state, tenantId, options.includeDeleted === true, await mirror.getVersion()), out);
  }
  if (options.changes !== undefined) return writeParquetFile(await changeSetSource(options.changes, options, tenantId), out);
  const store = storeFromEnvironment(options.tenant);
  return writeParquetFile(await snapshotSource(store, await snapshotIdOf(store, options), tenantId), out);
}

/** --changes' set in Parquet: a users' mirror run's, or one of a groups' mirror run's two (--groups, --memberships). */
async function changeSetSource(runId: string, options: ExportOptions, tenantId: string): Promise<ParquetSource> {
  if (options.groupChanges) {
    const run = succeeded(await mirrorFromEnvironment(options.tenant, GROUPS).getRun(runId), runId);
    return groupChangesSource(groupStoresFromEnvironment(options.tenant), run, options.groupChanges, tenantId);
  }
  const mirror = mirrorFromEnvironment(options.tenant);
  const found = await mirror.getRun(runId);
  if (!found && (await mirrorFromEnvironment(options.tenant, GROUPS).getRun(runId))) {
    throw new InvalidArgumentError(`export: ${runId} is a run of the groups' mirror; in Parquet its group changes and its membership changes are two files: add --groups or --memberships (docs/analytics.md).`);
  }
  return changesSource(mirror, succeeded(found, runId), tenantId);
}

/** --latest's snapshot id, or --snapshot's. */
async function snapshotIdOf(store: ReturnType<typeof storeFromEnvironment>, options: ExportOptions): Promise<string> {
  if (!options.latest) return options.snapshot!;
  const latest = await store.getLatestSnapshot();
  if (!latest) throw new UserSyncError("snapshot_not_found", "There is no complete snapshot yet. Run a sync first (entra-user-sync run), then export.");
  return latest.snapshotId;
}

/** The live mirror: present users as Graph shows them; with --include-deleted also removed users, marked "@removed". */
async function exportCurrent(options: ExportOptions): Promise<void> {
  const kind = options.kind ?? USERS;
  const mirror = mirrorFromEnvironment(options.tenant, kind);
  const state = await mirror.getDeltaState();
  if (!state?.state.deltaLink) {
    throw createMirrorError("notReady", {});
  }
  // The mirror's $select may end with the `manager` relationship (USER_SYNC_GROUPS): not a column.
  const properties = propertiesOf(state.state.select);
  // All or nothing: the mirror's version (its partitions' fence rows and delta state) is read before
  // and after (the manager edges too: every round that writes them moves it); a round that wrote
  // meanwhile makes the output a mix of two states.
  const before = await mirror.getVersion();
  const chains = options.withManagerChain ? await mirrorManagerChains(options.tenant, state.state.select) : undefined;
  const columns = withChainColumns(options.includeDeleted ? [...properties, "@removed"] : properties, chains);
  const writer = createUserLineWriter(lineFormat(options), { columns, raw: options.raw === true });
  const counts = { present: 0, removed: 0 };
  for await (const mirrorUser of mirror.listUsers({ includeRemoved: options.includeDeleted === true })) {
    const user = toGraphObject(mirrorUser) as GraphUser;
    await writeData(writer.linesFor(chains ? chains.withChain(user) : user));
    counts[mirrorUser.state === "present" ? "present" : "removed"] += 1;
  }
  await writeData(writer.end());
  if ((await mirror.getVersion()) !== before) {
    throw createMirrorError("changedWhileRead", {});
  }
  const removed = options.includeDeleted ? ` and ${formatCount(counts.removed, `removed ${kind.noun}`)}` : "";
  writeError(`Exported ${formatCount(counts.present, `current ${kind.noun}`)}${removed} from the live mirror (as of ${state.state.savedAt.toISOString()}, run ${state.state.runId})${chains ? ", each with its chain of managers" : ""}.\n`);
  writeCycleNote(chains);
  const skipped = await mirror.skippedSinceFullRound();
  if (skipped.count > 0) {
    writeError(
      `warning: ${formatCount(skipped.count, kind.noun)} skipped by the mirror since its last full round: they could not be stored (first: ${skipped.first.map((u) => u.id).join(", ")}); see: entra-user-sync runs --json\n`,
    );
  }
}

/** A succeeded mirror run (its change set is whole), or the error saying why not. */
function succeeded(run: MirrorRunRecord | undefined, runId: string): MirrorRunRecord {
  if (!run) {
    throw createMirrorError("runNotFound", { runId });
  }
  if (run.status !== "succeeded") {
    throw createMirrorError("runIncomplete", { runId, status: run.status });
  }
  return run;
}

/** One mirror run's change set: what it added, updated, restored and removed (a groups' mirror run: with its membership changes). */
async function exportChanges(runId: string, options: ExportOptions): Promise<void> {
  const kind = options.kind ?? USERS;
  const mirror = mirrorFromEnvironment(options.tenant, kind);
  const found = await mirror.getRun(runId);
  if (!found && kind === USERS) {
    // Not a run of the users' mirror: a run of the groups' mirror (runs lists them with kind "groups")?
    const groupsRun = await mirrorFromEnvironment(options.tenant, GROUPS).getRun(runId);
    if (groupsRun) return exportGroupChanges(succeeded(groupsRun, runId), { format: lineFormat(options), raw: options.raw === true, tenant: options.tenant });
  }
  const run = succeeded(found, runId);
  // The object after the change, under the kind's noun (`user`).
  const writer = createUserLineWriter(lineFormat(options), { columns: ["change", "reason", "at", "id", kind.noun], raw: options.raw === true });
  const counts: Record<string, number> = {};
  for await (const change of mirror.listChanges(runId)) {
    const line: Record<string, unknown> = { change: change.change };
    if (change.reason !== undefined) line.reason = change.reason;
    line.at = change.at.toISOString();
    line.id = change.id;
    line[kind.noun] = change.user;
    await writeData(writer.linesFor(line as GraphUser));
    counts[change.change] = (counts[change.change] ?? 0) + 1;
  }
  await writeData(writer.end());
  const summary =
    (["added", "updated", "restored", "removed"] as const)
      .filter((k) => counts[k] !== undefined)
      .map((k) => `${formatNumber(counts[k]!)} ${k}`)
      .join(", ") || "no changes";
  writeError(`Exported the change set of mirror run ${runId} (${run.mode} round, ${run.status}): ${summary}.\n`);
}
