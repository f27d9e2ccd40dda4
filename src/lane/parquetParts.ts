/**
 * Writes a row stream as Parquet parts (`part-00000.parquet`, `part-00001.parquet`, …) over a
 * column list, with hyparquet-writer (docs/decisions.md, "The analytics lane"). Rows are gathered
 * into row groups of `rowsPerGroup`; each row group is encoded as soon as it is full and handed to
 * the part's sink as one block (awaited before the next row is pulled), so memory holds one row
 * group whatever the number of rows. A part holds at most `groupsPerPart` row groups. The same rows
 * in the same order give the same parts, byte for byte (no clock, no random in a file).
 */
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { OperationOptions } from "../shared/abort.js";
import { laneCell, laneValue, parquetSchemaOf, type LaneColumn, type LaneRow } from "./laneColumns.js";

/** Where one part's bytes go: its blocks in order, then the end (a blob's commit, a file's close). */
export interface PartSink {
  /** One block: the file's first bytes and row group, then one row group each, then the footer. */
  writeBlock(bytes: Uint8Array, blockIndex: number): Promise<void>;
  /** Every block is written: make the part whole (readers see it only from now on). */
  commit(): Promise<void>;
}

export interface WrittenPart {
  /** `part-00000.parquet` */
  name: string;
  rows: number;
  bytes: number;
}

/** `abortSignal` (the writer lease's signal, the caller's abort) is checked before every row group and part. */
export interface WriteParquetPartsOptions extends OperationOptions {
  columns: readonly LaneColumn[];
  rows: AsyncIterable<LaneRow> | Iterable<LaneRow>;
  /** Values every row takes for these columns whatever it holds (the lane's stamps), so that rows need not be copied to carry them. */
  stamps?: Readonly<Record<string, unknown>>;
  /** Opens the sink of the part with this name. */
  openPart(name: string): PartSink | Promise<PartSink>;
  /** Rows per row group. */
  rowsPerGroup: number;
  /** Row groups per part (a part's last one may be smaller). */
  groupsPerPart: number;
}

/** `part-00000.parquet` for index 0. */
export function partName(index: number): string {
  return `part-${String(index).padStart(5, "0")}.parquet`;
}

/**
 * Writes every row; a set with no rows still gets one part (with the columns and no row group), so
 * that readers find the schema. Returns the parts in order.
 */
export async function writeParquetParts(options: WriteParquetPartsOptions): Promise<WrittenPart[]> {
  const { columns, rowsPerGroup, groupsPerPart } = options;
  if (!Number.isInteger(rowsPerGroup) || rowsPerGroup < 1 || !Number.isInteger(groupsPerPart) || groupsPerPart < 1) {
    throw new RangeError("rowsPerGroup and groupsPerPart must be whole numbers of at least 1");
  }
  const parts: WrittenPart[] = [];
  let part: OpenPart | undefined;
  let batch: LaneRow[] = [];
  const flushBatch = async () => {
    options.abortSignal?.throwIfAborted();
    if (part !== undefined && part.groups === groupsPerPart) {
      parts.push(await part.close());
      part = undefined;
    }
    part ??= await OpenPart.open(partName(parts.length), columns, options.openPart, options.stamps);
    await part.writeGroup(batch);
    batch = [];
  };
  for await (const row of options.rows) {
    batch.push(row);
    if (batch.length === rowsPerGroup) await flushBatch();
  }
  if (batch.length > 0) await flushBatch();
  options.abortSignal?.throwIfAborted();
  part ??= await OpenPart.open(partName(0), columns, options.openPart, options.stamps);
  parts.push(await part.close());
  return parts;
}

/** One part being written: a ParquetWriter over a ByteWriter whose flush hands the bytes to the sink. */
class OpenPart {
  readonly #name: string;
  readonly #columns: readonly LaneColumn[];
  readonly #stamps: Readonly<Record<string, unknown>>;
  readonly #bytes: ByteWriter;
  readonly #writer: ParquetWriter;
  readonly #sink: PartSink;
  #blocks = 0;
  #rows = 0;
  groups = 0;

  private constructor(name: string, columns: readonly LaneColumn[], sink: PartSink, stamps: Readonly<Record<string, unknown>>) {
    this.#name = name;
    this.#columns = columns;
    this.#stamps = stamps;
    this.#sink = sink;
    this.#bytes = new ByteWriter();
    // hyparquet-writer awaits flush() after each row group: the group's bytes become one block.
    Object.assign(this.#bytes, { flush: () => this.#handOff(), finish: () => this.#handOff() });
    this.#writer = new ParquetWriter({ writer: this.#bytes, schema: parquetSchemaOf(columns), createdBy: "entra-user-sync (hyparquet-writer)" });
  }

  static async open(name: string, columns: readonly LaneColumn[], openPart: WriteParquetPartsOptions["openPart"], stamps: Readonly<Record<string, unknown>> = {}): Promise<OpenPart> {
    return new OpenPart(name, columns, await openPart(name), stamps);
  }

  async writeGroup(rows: readonly LaneRow[]): Promise<void> {
    const columnData = this.#columns.map(({ name, type }) => {
      if (Object.hasOwn(this.#stamps, name)) {
        const cell = laneCell(type, this.#stamps[name]);
        return { name, data: rows.map(() => cell) };
      }
      return { name, data: rows.map((row) => laneCell(type, laneValue(row, name))) };
    });
    await this.#writer.write({ columnData, rowGroupSize: rows.length });
    this.groups += 1;
    this.#rows += rows.length;
  }

  async close(): Promise<WrittenPart> {
    await this.#writer.finish();
    await this.#sink.commit();
    return { name: this.#name, rows: this.#rows, bytes: this.#bytes.offset };
  }

  async #handOff(): Promise<void> {
    if (this.#bytes.index === 0) return;
    // A copy: the ByteWriter's buffer is reused for the next row group.
    const block = new Uint8Array(this.#bytes.buffer.slice(0, this.#bytes.index));
    this.#bytes.index = 0;
    await this.#sink.writeBlock(block, this.#blocks++);
  }
}
