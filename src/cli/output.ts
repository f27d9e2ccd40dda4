/**
 * The command line's output: stdout with backpressure, and the Unix convention for a reader that
 * went away (`export --latest | head -1`): a closed pipe ends the command quietly, exit code 0.
 * Text goes out with control and bidi characters as visible escapes (src/shared/safeText.ts), so
 * that a directory value cannot act on the operator's terminal; only `writeData` (an export's
 * lines, already escaped for their format, or raw on request) writes exactly what it is given.
 */
import { once } from "node:events";
import { EXIT_SUCCESS } from "../shared/exitCodes.js";
import { visibleLine, visibleText } from "../shared/safeText.js";

let installed = false;

/**
 * Ends the process quietly (exit 0) when stdout's reader closes the pipe (EPIPE), and stops
 * writing to stderr when its reader closes it, instead of failing the command.
 */
export function endQuietlyOnClosedPipe(): void {
  if (installed) return;
  installed = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT_SUCCESS);
    throw error;
  });
  process.stderr.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

/**
 * Writes text to stdout respecting backpressure, so an export of a million users stays in bounded
 * memory; control and bidi characters become visible escapes (JSON stays the same JSON).
 */
export async function write(text: string): Promise<void> {
  await writeData(visibleText(text));
}

/** Writes `data` to stdout as it is: the lines of an export, which its format already made safe. */
export async function writeData(data: string): Promise<void> {
  if (!process.stdout.write(data)) await once(process.stdout, "drain");
}

/** Writes a message to stderr, control and bidi characters as visible escapes. */
export function writeError(text: string): void {
  process.stderr.write(visibleText(text));
}

/** Columns padded to their widest cell, two spaces apart; each cell on one line, escaped. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  return formatRows(rows, columnWidths(rows));
}

/** The widest cell of each column, as escaped (a loop: no argument list as long as the table). */
export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) for (const [column, cell] of row.entries()) widths[column] = Math.max(widths[column] ?? 0, visibleLine(cell).length);
  return widths;
}

/** Rows with their columns padded to `widths`, two spaces apart, one line each, each cell escaped. */
export function formatRows(rows: readonly (readonly string[])[], widths: readonly number[]): string {
  return rows.map((row) => row.map((cell, column) => visibleLine(cell).padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

/**
 * A table that fits `width` columns: cells escaped and on one line, then columns left out in
 * `dropOrder` while the table is too wide, then the last column cut with "…" (kept while it has room
 * for a few characters), then, if one column alone is too wide, every line cut with "…". A line
 * never wraps. Returns the text and which columns (indexes into the rows given) it shows.
 */
export function fitTable(table: readonly (readonly string[])[], width: number, dropOrder: readonly number[] = []): { text: string; columns: number[] } {
  const rows = table.map((row) => row.map((cell) => visibleLine(cell)));
  const widthOf = (column: number) => Math.max(...rows.map((row) => (row[column] ?? "").length));
  const total = (columns: readonly number[]) => columns.reduce((sum, column) => sum + widthOf(column), 0) + 2 * (columns.length - 1);
  let columns = rows[0]!.map((_, column) => column);
  const fitsWithLastCut = (candidate: readonly number[]) => total(candidate.slice(0, -1)) + 2 + MIN_LAST_COLUMN <= width;
  for (const column of dropOrder) {
    if (total(columns) <= width || fitsWithLastCut(columns)) break;
    columns = columns.filter((c) => c !== column);
  }
  while (columns.length > 1 && total(columns) > width && !fitsWithLastCut(columns)) columns = columns.slice(0, -1);
  const picked = rows.map((row) => columns.map((column) => row[column] ?? ""));
  const room = width - total(columns.slice(0, -1)) - (columns.length > 1 ? 2 : 0);
  const cut = picked.map((row) => [...row.slice(0, -1), truncate(row[row.length - 1]!, Math.max(1, room))]);
  const text = formatTable(cut)
    .split("\n")
    .map((line) => truncate(line, width))
    .join("\n");
  return { text, columns };
}

/** The last column is kept (cut) while it can show this many characters. */
const MIN_LAST_COLUMN = 12;

/** `text` in lines of at most `width` characters, broken between words (a word longer than a line is cut with "…"). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const candidate = line === "" ? word : `${line} ${word}`;
    if (candidate.length <= width) {
      line = candidate;
      continue;
    }
    if (line !== "") lines.push(line);
    line = truncate(word, width);
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** `text` cut to `width` characters, ending in "…" when it was cut. */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : `${text.slice(0, width - 1)}…`;
}
