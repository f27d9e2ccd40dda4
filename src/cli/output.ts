/**
 * The command line's output: stdout with backpressure, and the Unix convention for a reader that
 * went away (`export --latest | head -1`): a closed pipe ends the command quietly, exit code 0.
 */
import { once } from "node:events";

let installed = false;

/**
 * Ends the process quietly (exit 0) when stdout's reader closes the pipe (EPIPE), and stops
 * writing to stderr when its reader closes it, instead of failing the command.
 */
export function endQuietlyOnClosedPipe(): void {
  if (installed) return;
  installed = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  process.stderr.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

/** Writes to stdout respecting backpressure, so an export of a million users stays in bounded memory. */
export async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}

/** Columns padded to their widest cell, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  return formatRows(rows, columnWidths(rows));
}

/** The widest cell of each column (a loop: no argument list as long as the table). */
export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) for (const [column, cell] of row.entries()) widths[column] = Math.max(widths[column] ?? 0, cell.length);
  return widths;
}

/** Rows with their columns padded to `widths`, two spaces apart, one line each. */
export function formatRows(rows: readonly (readonly string[])[], widths: readonly number[]): string {
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

/** `text` cut to `width` characters, ending in "…" when it was cut. */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : `${text.slice(0, width - 1)}…`;
}
