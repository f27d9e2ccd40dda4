/**
 * One set of the analytics lane: the Parquet parts of one snapshot (or change set) under its
 * Hive-style prefix, then `_manifest.json` (the parts and their row counts), then `_SUCCESS`,
 * written last: a reader that finds `_SUCCESS` finds every part the manifest lists, whole. Every
 * write first checks the fence (the writer lease), so a run that lost its lease writes nothing
 * more; the manifest and `_SUCCESS` are created only if absent (If-None-Match: *), so a set once
 * complete is never rewritten. Part names are deterministic (part-00000.parquet, …) and so are their
 * bytes: a retried or resumed run writes the same files under the same names. Layout and contract:
 * docs/analytics.md.
 */
import { isRestError } from "@azure/core-rest-pipeline";
import type { ContainerClient } from "@azure/storage-blob";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";
import type { OperationOptions } from "../shared/abort.js";
import { createLaneError } from "./laneErrors.js";
import type { LaneColumn, LaneRow } from "./laneColumns.js";
import { writeParquetParts, type WrittenPart } from "./parquetParts.js";
import { blobPartSink, type LaneFence } from "./partSinks.js";

export const MANIFEST_NAME = "_manifest.json";
export const SUCCESS_NAME = "_SUCCESS";

/** A time as a partition value: ISO 8601 basic format in UTC (`20261207T054214.123Z`), no colons (Spark and Hadoop paths refuse them). */
export function partitionTime(time: Date): string {
  return time.toISOString().replace(/[-:]/g, "");
}

/** `tenant=<id>/object=<object>/snapshot_time=<time>/` */
export function snapshotSetPrefix(tenantId: string, object: string, snapshotTime: Date): string {
  return `tenant=${tenantId.toLowerCase()}/object=${object}/snapshot_time=${partitionTime(snapshotTime)}/`;
}

/** `changes/tenant=<id>/object=<object>/run_time=<time>/` */
export function changeSetPrefix(tenantId: string, object: string, runTime: Date): string {
  return `changes/tenant=${tenantId.toLowerCase()}/object=${object}/run_time=${partitionTime(runTime)}/`;
}

export interface LaneManifest {
  formatVersion: 1;
  kind: "snapshot" | "changes";
  tenantId: string;
  object: string;
  /** The snapshot's time (its run's start), or the change set's run start. */
  time: string;
  runId: string;
  columns: LaneColumn[];
  files: WrittenPart[];
  rows: number;
}

export interface LaneSetOptions extends OperationOptions {
  prefix: string;
  manifest: Omit<LaneManifest, "files" | "rows">;
  rows: AsyncIterable<LaneRow> | Iterable<LaneRow>;
  fence: LaneFence;
  rowsPerGroup: number;
  groupsPerPart: number;
}

export interface LaneSetResult {
  manifest: LaneManifest;
  /** The set was already complete (its `_SUCCESS` was there): nothing was written. */
  alreadyComplete: boolean;
}

export async function writeLaneSet(container: ContainerClient, lane: ExportLaneSettings, options: LaneSetOptions): Promise<LaneSetResult> {
  const { prefix, fence, abortSignal } = options;
  const signal = { abortSignal };
  const storage = storageCall(lane, fence);
  const success = container.getBlockBlobClient(`${prefix}${SUCCESS_NAME}`);
  if (await storage(`checking ${prefix}${SUCCESS_NAME}`, () => success.exists(signal))) {
    const existing = await storage(`reading ${prefix}${MANIFEST_NAME}`, () => container.getBlockBlobClient(`${prefix}${MANIFEST_NAME}`).downloadToBuffer(0, undefined, signal));
    return { manifest: JSON.parse(existing.toString("utf8")) as LaneManifest, alreadyComplete: true };
  }
  const files = await storage(`writing the parts of ${prefix}`, () =>
    writeParquetParts({
      columns: options.manifest.columns,
      rows: options.rows,
      rowsPerGroup: options.rowsPerGroup,
      groupsPerPart: options.groupsPerPart,
      openPart: (name) => blobPartSink(container.getBlockBlobClient(`${prefix}${name}`), { fence, abortSignal }),
      ...signal,
    }),
  );
  return { manifest: await sealLaneSet(container, lane, { prefix, manifest: options.manifest, files, fence, abortSignal }), alreadyComplete: false };
}

export interface SealLaneSetOptions extends OperationOptions {
  prefix: string;
  manifest: Omit<LaneManifest, "files" | "rows">;
  /** The set's parts, every one committed. */
  files: WrittenPart[];
  fence: LaneFence;
}

/** Writes a set's `_manifest.json`, then `_SUCCESS`, each only if absent (its parts are all committed). */
export async function sealLaneSet(container: ContainerClient, lane: ExportLaneSettings, options: SealLaneSetOptions): Promise<LaneManifest> {
  const { prefix, fence, files } = options;
  const signal = { abortSignal: options.abortSignal };
  const storage = storageCall(lane, fence);
  const manifestBlob = container.getBlockBlobClient(`${prefix}${MANIFEST_NAME}`);
  const manifest: LaneManifest = { ...options.manifest, files, rows: files.reduce((sum, file) => sum + file.rows, 0) };
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  fence.assertHeld();
  const created = await storage(`writing ${prefix}${MANIFEST_NAME}`, () => createIfAbsent(() => manifestBlob.upload(body, body.byteLength, { conditions: { ifNoneMatch: "*" }, blobHTTPHeaders: { blobContentType: "application/json" }, ...signal })));
  if (!created) {
    // A retried run whose earlier attempt wrote the manifest: the same set gives the same bytes.
    const existing = await storage(`reading ${prefix}${MANIFEST_NAME}`, () => manifestBlob.downloadToBuffer(0, undefined, signal));
    if (!existing.equals(body)) throw createLaneError("manifestDiffers", { lane, prefix });
  }
  fence.assertHeld();
  const success = container.getBlockBlobClient(`${prefix}${SUCCESS_NAME}`);
  await storage(`writing ${prefix}${SUCCESS_NAME}`, () => createIfAbsent(() => success.upload(Buffer.alloc(0), 0, { conditions: { ifNoneMatch: "*" }, ...signal })));
  return manifest;
}

/** A storage call of the lane: a failure is the lost lease when the lease is lost (its signal aborts requests in flight), else a lane storage error. */
export function storageCall(lane: ExportLaneSettings, fence: LaneFence) {
  return async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      fence.assertHeld();
      throw createLaneError("storage", { lane, operation, error });
    }
  };
}

/** Creates a blob only if absent: false when it was there (409 BlobAlreadyExists, or 412). */
async function createIfAbsent(upload: () => Promise<unknown>): Promise<boolean> {
  try {
    await upload();
    return true;
  } catch (error) {
    if (isRestError(error) && (error.statusCode === 409 || error.statusCode === 412)) return false;
    throw error;
  }
}
