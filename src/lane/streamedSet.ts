/**
 * The users' snapshot set of the analytics lane written as the round's pages arrive (issue 30,
 * item 3; docs/analytics.md, "Streamed as the pages arrive"): each page the snapshot committed is
 * handed over with the users the store skipped; its rows join a bounded queue that the part writer
 * (writeParquetParts) drains, staging one block per row group as each fills. A page waits until the
 * writer has taken the page before it into its row group, so the set holds one row group and one
 * page whatever the tenant (the users as the round read them: the stamps are the writer's, not a
 * copy of every user). Nothing is committed
 * during the round: after promotion, finish() commits every part's block list, then the manifest
 * and `_SUCCESS` (sealLaneSet). Part names and block ids are those of the read-back path (by
 * position), so a set the read-back writes later under the same prefix replaces whatever a dead
 * attempt staged.
 *
 * The stream gives up (the lane then reads the snapshot back) whenever its rows might not equal
 * the promoted snapshot: a block failed, a user id came twice (in one page, or maybe across pages:
 * a fixed-size Bloom filter over the ids), the run was resumed (its earlier pages are not here),
 * the pages or rows counted differ from the run's. It never throws into the round.
 */
import type { GraphUser } from "../graph/types.js";
import { describeError } from "../shared/errors.js";
import type { OperationOptions } from "../shared/abort.js";
import type { SkippedUser, SyncRunRecord } from "../snapshots/runRecords.js";
import type { LaneRow } from "./laneColumns.js";
import type { LaneManifest } from "./laneSet.js";
import { writeParquetParts, type WrittenPart } from "./parquetParts.js";
import { blobPartSink, type LaneFence } from "./partSinks.js";
import type { ContainerClient } from "@azure/storage-blob";

export interface StreamedSetOptions extends OperationOptions {
  container: ContainerClient;
  prefix: string;
  manifest: Omit<LaneManifest, "files" | "rows">;
  /** The lane's stamps of every row (`_snapshotTime`, `_tenantId`, `_runId`). */
  stamps: Record<string, unknown>;
  fence: LaneFence;
  rowsPerGroup: number;
  groupsPerPart: number;
}

/** What a complete stream hands to the lane after promotion: the parts, staged, to commit. */
export interface StreamedParts {
  files: WrittenPart[];
  commit(): Promise<void>;
}

/** The Bloom filter's size: 2^25 bits (4 MiB) and 5 hashes; its false alarms (a fallback, never a wrong set) stay rare up to about 500,000 users. */
const FILTER_BITS = 2 ** 25;
const FILTER_HASHES = 5;

export class StreamedSet {
  readonly runId: string;
  readonly #queue: GraphUser[][] = [];
  readonly #commits: Array<() => Promise<void>> = [];
  readonly #written: Promise<WrittenPart[]>;
  #filter: Uint32Array | undefined = new Uint32Array(FILTER_BITS / 32);
  #queued = 0;
  #pages = 0;
  #closed = false;
  #brokenBecause: string | undefined;
  #wake: (() => void) | undefined;
  #drained: (() => void) | undefined;

  constructor(runId: string, options: StreamedSetOptions) {
    this.runId = runId;
    this.#written = writeParquetParts({
      columns: options.manifest.columns,
      rows: this.#rows(),
      stamps: options.stamps,
      rowsPerGroup: options.rowsPerGroup,
      groupsPerPart: options.groupsPerPart,
      openPart: (name) => {
        const sink = blobPartSink(options.container.getBlockBlobClient(`${options.prefix}${name}`), { fence: options.fence, abortSignal: options.abortSignal });
        // The part's block list is committed after promotion (finish), not when the part is full.
        this.#commits.push(() => sink.commit());
        return { writeBlock: (bytes, index) => sink.writeBlock(bytes, index), commit: async () => {} };
      },
      abortSignal: options.abortSignal,
    });
    this.#written.catch((error: unknown) => this.#break(`a part could not be written (${describeError(error)})`));
  }

  /** Why the stream gave up, if it did. */
  get brokenBecause(): string | undefined {
    return this.#brokenBecause;
  }

  /**
   * One committed page of the snapshot, with the users the store skipped. Waits while the writer has
   * not taken the rows queued before it (it is encoding or staging a row group). Never throws.
   */
  async page(users: readonly GraphUser[], skipped: readonly SkippedUser[]): Promise<void> {
    if (this.#brokenBecause !== undefined) return;
    this.#pages += 1;
    const rows = this.#rowsOf(users, skipped);
    if (!rows) return;
    while (this.#queued > 0 && this.#brokenBecause === undefined) await new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#brokenBecause !== undefined) return;
    this.#queue.push(rows);
    this.#queued += rows.length;
    this.#wake?.();
  }

  /**
   * The round is over and `run` promoted: the parts, once the last row group and footers are
   * staged, or undefined (with brokenBecause) when the set cannot be the snapshot's.
   */
  async end(run: Pick<SyncRunRecord, "runId" | "stats">): Promise<StreamedParts | undefined> {
    this.#closed = true;
    this.#wake?.();
    if (run.runId !== this.runId) this.#break("the promoted run is another run");
    else if (run.stats.pages !== this.#pages) this.#break(`the round committed ${run.stats.pages} pages, the stream saw ${this.#pages}`);
    const files = await this.#written.catch(() => undefined);
    if (!files || this.#brokenBecause !== undefined) return undefined;
    const rows = files.reduce((sum, file) => sum + file.rows, 0);
    if (rows !== run.stats.entitiesWritten) {
      this.#break(`the stream has ${rows} rows, the snapshot ${run.stats.entitiesWritten}`);
      return undefined;
    }
    return { files, commit: async () => { for (const commit of this.#commits) await commit(); } };
  }

  /** Stops the stream: nothing more is staged (the part writer's next pull throws). */
  discard(reason = "the stream was discarded"): void {
    this.#break(reason);
  }

  #break(reason: string): void {
    this.#brokenBecause ??= reason;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#filter = undefined;
    this.#wake?.();
    this.#drained?.();
  }

  /** The page's stored users as lane rows; undefined (the stream breaks) when an id comes twice. */
  #rowsOf(users: readonly GraphUser[], skipped: readonly SkippedUser[]): GraphUser[] | undefined {
    const skippedIds = new Set(skipped.map((user) => user.id));
    const inPage = new Set<string>();
    const rows: GraphUser[] = [];
    for (const user of users) {
      const id = String(user.id);
      if (inPage.has(id)) return void this.#break(`user ${id} came twice in one page`);
      inPage.add(id);
      if (skippedIds.has(id)) continue;
      if (!this.#addId(id)) return void this.#break(`user ${id} may have come in an earlier page`);
      rows.push(user);
    }
    return rows;
  }

  /** Adds an id to the filter: false when it may be there already. */
  #addId(id: string): boolean {
    const filter = this.#filter!;
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    let fresh = false;
    for (let k = 0; k < FILTER_HASHES; k++) {
      const bit = ((h1 + Math.imul(k, h2 | 1)) >>> 0) % FILTER_BITS;
      const mask = 1 << (bit & 31);
      if ((filter[bit >>> 5]! & mask) === 0) {
        fresh = true;
        filter[bit >>> 5]! |= mask;
      }
    }
    return fresh;
  }

  async *#rows(): AsyncIterableIterator<LaneRow> {
    for (;;) {
      if (this.#brokenBecause !== undefined) throw new Error(`the streamed set stopped: ${this.#brokenBecause}`);
      const batch = this.#queue.shift();
      if (batch) {
        this.#queued -= batch.length;
        this.#drained?.();
        for (const row of batch) {
          if (this.#brokenBecause !== undefined) throw new Error(`the streamed set stopped: ${this.#brokenBecause}`);
          yield row;
        }
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** The run a stream is opened for. */
export interface StreamRun {
  runId: string;
  startedAt: Date;
  select: readonly string[];
}

/**
 * One sync run's tap on its snapshot's pages (the snapshot run calls `attach`, then `page` for every
 * committed page): a new run gets a streamed set, a resumed one none (its earlier pages are not here).
 */
export class LaneStream {
  readonly #open: (run: StreamRun) => StreamedSet;
  #set: StreamedSet | undefined;
  /** The run this stream was attached to without a set (it continued a stopped run). */
  #resumedRunId: string | undefined;

  constructor(open: (run: StreamRun) => StreamedSet) {
    this.#open = open;
  }

  attach(run: StreamRun, how: { resumed: boolean }): void {
    this.#set?.discard("the round started another run");
    this.#set = how.resumed ? undefined : this.#open(run);
    this.#resumedRunId = how.resumed ? run.runId : undefined;
  }

  page(users: readonly GraphUser[], skipped: readonly SkippedUser[]): Promise<void> {
    return this.#set?.page(users, skipped) ?? Promise.resolve();
  }

  /**
   * The streamed set of `runId`, handed over once; why there is none when this run wrote that
   * snapshot without one; undefined when this run did not write that snapshot.
   */
  take(runId: string): StreamedSet | { notStreamed: string } | undefined {
    if (this.#resumedRunId === runId) return { notStreamed: "the run continued a stopped run, whose earlier pages this process did not see" };
    const set = this.#set?.runId === runId ? this.#set : undefined;
    if (set) this.#set = undefined;
    return set;
  }

  discard(): void {
    this.#set?.discard();
    this.#set = undefined;
  }
}
