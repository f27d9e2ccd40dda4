/**
 * Where Parquet parts go: a block blob (one staged block per row group, committed at the end, so a
 * reader never sees a partial file and a retry that stages the same blocks under the same ids
 * replaces what a dead attempt left uncommitted), or a local file (export --format parquet).
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { open, type FileHandle } from "node:fs/promises";
import type { OperationOptions } from "../shared/abort.js";
import type { PartSink } from "./parquetParts.js";

/** The fence every lane write passes first (the writer lease: throws `lease_lost` once it is lost). */
export interface LaneFence {
  assertHeld(): void;
}

export interface BlobPartSinkOptions extends OperationOptions {
  fence: LaneFence;
}

/** Block ids must have one length within a blob: a fixed-width index. */
export function blockIdOf(index: number): string {
  return Buffer.from(`block-${String(index).padStart(6, "0")}`).toString("base64");
}

export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

export function blobPartSink(blob: BlockBlobClient, options: BlobPartSinkOptions): PartSink {
  const ids: string[] = [];
  const abortSignal = options.abortSignal;
  return {
    async writeBlock(bytes, blockIndex) {
      options.fence.assertHeld();
      const id = blockIdOf(blockIndex);
      await blob.stageBlock(id, bytes, bytes.byteLength, { abortSignal });
      ids.push(id);
    },
    async commit() {
      options.fence.assertHeld();
      await blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentType: PARQUET_CONTENT_TYPE }, abortSignal });
    },
  };
}

/** A local file, written block by block; `path` is created or truncated. */
export async function filePartSink(path: string): Promise<PartSink> {
  const file: FileHandle = await open(path, "w");
  return {
    async writeBlock(bytes) {
      await file.write(bytes);
    },
    async commit() {
      await file.close();
    },
  };
}
